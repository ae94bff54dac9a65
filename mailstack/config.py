"""Dovecot and Postfix configuration, generated from settings and the templates in deploy/.

Run as `manage.py gen_mailconfig`; the test session runs the same generator (variant
`test`) for its throwaway servers.

`generate(out_dir, ...)` writes a complete, self-contained configuration:

    out_dir/dovecot/dovecot.conf            Dovecot (run: dovecot -F -c out_dir/dovecot/dovecot.conf)
    out_dir/dovecot/dovecot-sql.conf.ext    its SQL passdb/userdb (reads the mail_* views)
    out_dir/dovecot/dovecot-sql-tokens.conf.ext  the app-password (token) passdb
    out_dir/dovecot/master-users            the worker master user (salted hash only)
    out_dir/dovecot/sieve-global/           global Sieve rules (incoming_spam, registered apps' scripts) and the default script
    out_dir/postfix/main.cf, master.cf      Postfix (run: postfix -c out_dir/postfix start)
    out_dir/postfix/*.cf                    Postfix pgsql lookup maps
"""

import base64
import grp
import hashlib
import os
import pwd
import re
import secrets
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.template import Context, Engine

from . import credentials, dbwatch, globalsieve

DEPLOY_DIR = Path(settings.BASE_DIR) / "deploy"
# What Dovecot sends our auth policy server (accounts.authpolicy reads these names; no import
# of accounts here, see mailstack/registry.py). `user` differs from `login` only for
# master-user logins; `secret_sha256` is the hash the token passdb looks up, never the secret.
AUTH_POLICY_ATTRIBUTES = (
    "login=%{requested_username} user=%u remote=%{rip} protocol=%s session=%{session} "
    "secret_sha256=%{sha256:password}"
)
_engine = Engine(dirs=[str(DEPLOY_DIR)], autoescape=False)

POSTFIX_MAPS = {
    "virtual_domains.cf": ("domains we receive mail for", "SELECT domain FROM mail_domains WHERE domain = '%s'"),
    "virtual_mailboxes.cf": ("mailboxes", "SELECT maildir FROM mail_mailboxes WHERE address = '%s'"),
    "virtual_aliases.cf": (
        "mailboxes (to themselves), aliases and redirections",
        "SELECT destination FROM mail_aliases WHERE address = '%s'",
    ),
    "sender_logins.cf": ("who may send as which address", "SELECT login FROM mail_sender_logins WHERE address = '%s'"),
}


@dataclass
class Ports:
    imap: int = field(default_factory=lambda: settings.IMAP_PORT)
    pop3: int = field(default_factory=lambda: settings.POP3_PORT)
    managesieve: int = field(default_factory=lambda: settings.MANAGESIEVE_PORT)
    lmtp: int = field(default_factory=lambda: settings.LMTP_PORT)
    auth: int = field(default_factory=lambda: settings.DOVECOT_AUTH_PORT)
    smtp: int = field(default_factory=lambda: settings.SMTP_PORT)
    submission: int = field(default_factory=lambda: settings.SUBMISSION_PORT)
    reinject: int = field(default_factory=lambda: settings.REINJECT_PORT)
    # The From: check (manage.py run_sender_check), a milter asked by submission and reinjection.
    sender_check: int = field(default_factory=lambda: settings.SENDER_CHECK_PORT)
    # Our auth policy server (accounts.authpolicy), asked by Dovecot before every login.
    auth_policy: int = field(default_factory=lambda: settings.AUTH_POLICY_PORT)
    # Where Postfix delivers (the antispam delivery agent once it exists; Dovecot LMTP now).
    delivery: int | None = None
    # Where Postfix relays outside mail in development and tests (a local sink).
    relay: int = 10029


def _libpq_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _db_params() -> dict[str, str]:
    db = connection.settings_dict
    return {
        "db_host": db["HOST"] or "127.0.0.1",
        "db_port": str(db["PORT"] or 5432),
        "db_name": db["NAME"],
        "db_user": settings.MAIL_DB_USER,
        "db_password": settings.MAIL_DB_PASSWORD,
    }


def ssha512(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def _write(path: Path, text: str, mode: int = 0o644, group: str | None = None) -> None:
    """Write atomically; secrets get mode 0640 and the group of the daemon that reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    if group:
        os.chown(tmp, 0, grp.getgrnam(group).gr_gid)
    tmp.replace(path)


def _render(template: str, context: dict) -> str:
    return _engine.get_template(template).render(Context(context, autoescape=False))


class MailConfigError(ImproperlyConfigured):
    """The settings can not make a working production configuration (the message says what to set)."""


_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def is_fqdn(name: str) -> bool:
    """A host name other servers can greet and check: at least two labels, not localhost, not an IP address."""
    labels = name.lower().split(".")
    return (
        len(name) <= 253
        and len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels)
        and "localhost" not in (labels[0], labels[-1])
        and not labels[-1].isdigit()
    )


def _pem_problem(variable: str, path: str, marker: str, what: str) -> str | None:
    """Why `path` can not serve as `what` (None if it can): the daemons read it only when a client connects."""
    hint = f"set {variable} to the {what} (PEM)"
    if not path:
        return f"{variable} is empty: {hint}"
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError as e:
        return f"{variable}={path} can not be read ({e.strerror}): {hint}"
    if marker not in text:
        return f"{variable}={path} holds no {marker.strip('-')}: {hint}"
    return None


def production_tls() -> tuple[str, str, str]:
    """(host name, certificate, key) for the production variant, or MailConfigError naming what to set.

    Without a certificate Postfix's submission (TLS required) refuses everyone and Dovecot
    every login; with `localhost` as its name the MX greets and says HELO as a name no other
    server accepts. Every problem is reported at once."""
    hostname = settings.MAIL_HOSTNAME or socket.getfqdn()
    problems = []
    if not is_fqdn(hostname):
        source = "DUCKMAIL_MAIL_HOSTNAME" if settings.MAIL_HOSTNAME else "the machine's name (DUCKMAIL_MAIL_HOSTNAME is empty)"
        problems.append(f"host name {hostname!r} from {source} is not a fully-qualified name: "
                        f"set DUCKMAIL_MAIL_HOSTNAME to the name in the MX record and certificate (mail.example.org)")
    for variable, path, marker, what in (
        ("DUCKMAIL_TLS_CERT", settings.TLS_CERT, "-----BEGIN CERTIFICATE-----", "certificate chain"),
        ("DUCKMAIL_TLS_KEY", settings.TLS_KEY, "PRIVATE KEY-----", "private key"),
    ):
        if problem := _pem_problem(variable, path, marker, what):
            problems.append(problem)
    if problems:
        raise MailConfigError("the production mail configuration needs TLS and a host name:\n  " + "\n  ".join(problems))
    return hostname, str(Path(settings.TLS_CERT).resolve()), str(Path(settings.TLS_KEY).resolve())


def generate(
    out_dir: str | Path,
    *,
    variant: str = "dev",
    ports: Ports | None = None,
    vmail_dir: str | Path | None = None,
    instance_name: str = "duckmail",
) -> Path:
    """Write the whole mail-server configuration into `out_dir`; return the Dovecot config path.

    The production variant raises MailConfigError, before writing anything, without a readable
    certificate and key or a fully-qualified host name (see production_tls)."""
    if variant not in ("dev", "test", "production"):
        raise ValueError(f"unknown variant {variant!r}")
    production = variant == "production"
    if production:
        hostname, tls_cert, tls_key = production_tls()
    else:
        hostname = settings.MAIL_HOSTNAME or f"mail.{settings.SERVICE_DOMAIN}"
        tls_cert, tls_key = settings.TLS_CERT, settings.TLS_KEY
    out = Path(out_dir).resolve()
    ports = ports or Ports()
    mail_user = pwd.getpwnam(settings.MAIL_USER)
    dovecot_dir = out / "dovecot"
    postfix_dir = out / "postfix"
    log_dir = out / "log"
    vmail = Path(vmail_dir).resolve() if vmail_dir else out / "vmail"
    sieve_global = dovecot_dir / "sieve-global"
    for d in (dovecot_dir, postfix_dir, log_dir, dovecot_dir / "run", dovecot_dir / "state", dovecot_dir / "sieve-bin"):
        d.mkdir(parents=True, exist_ok=True)
    # Mail and compiled global scripts are written by the mail uid.
    for d in (vmail, sieve_global, dovecot_dir / "state"):
        d.mkdir(parents=True, exist_ok=True)
        os.chown(d, mail_user.pw_uid, mail_user.pw_gid)
    for d in (out, dovecot_dir, postfix_dir):
        os.chmod(d, 0o755)

    db = _db_params()
    connect = " ".join(
        f"{k}={_libpq_quote(v)}"
        for k, v in (
            ("host", db["db_host"]),
            ("port", db["db_port"]),
            ("dbname", db["db_name"]),
            ("user", db["db_user"]),
            ("password", db["db_password"]),
        )
        if v
    ) + " maxconns=5"
    listen = "*, ::" if production else settings.MAIL_HOST
    context = {
        "variant": variant,
        "production": production,
        "test": variant == "test",
        "instance_name": instance_name,
        "dir": str(dovecot_dir),
        "run_dir": str(dovecot_dir / "run"),
        "state_dir": str(dovecot_dir / "state"),
        "log_dir": str(log_dir),
        "listen": listen,
        "lmtp_listen": settings.MAIL_HOST,
        "trusted_networks": "127.0.0.0/8 ::1",
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "domain": settings.SERVICE_DOMAIN,
        "hostname": hostname,
        "mail_host": settings.MAIL_HOST,
        "mail_uid": mail_user.pw_uid,
        "mail_gid": mail_user.pw_gid,
        "vmail_dir": str(vmail),
        "sieve_global_dir": str(sieve_global),
        "default_quota_mb": settings.DEFAULT_QUOTA_MB,
        "max_message_size": settings.MAX_MESSAGE_SIZE,
        "imap_port": ports.imap,
        "pop3_port": ports.pop3,
        "managesieve_port": ports.managesieve,
        "lmtp_port": ports.lmtp,
        "auth_port": ports.auth,
        "smtp_port": ports.smtp,
        "reinject_port": ports.reinject,
        "sender_check_port": ports.sender_check,
        "submission_port": ports.submission,
        "delivery_port": ports.delivery or ports.lmtp,
        "relay_port": ports.relay,
        "auth_policy_port": ports.auth_policy,
        "auth_policy_attributes": AUTH_POLICY_ATTRIBUTES,
        "connect": connect,
    }
    conf = dovecot_dir / "dovecot.conf"
    _write(conf, _render("dovecot/dovecot.conf", context))
    _write(dovecot_dir / "dovecot-sql.conf.ext", _render("dovecot/dovecot-sql.conf.ext", context), 0o640, "dovecot")
    _write(dovecot_dir / "dovecot-sql-tokens.conf.ext", _render("dovecot/dovecot-sql-tokens.conf.ext", context), 0o640,
           "dovecot")
    # The members' databases, and what stands in for them while PostgreSQL is down
    # (mailstack.dbwatch switches auth-databases.conf.ext between the two).
    for name in (dbwatch.AVAILABLE, dbwatch.UNAVAILABLE):
        _write(dovecot_dir / name, _render(f"dovecot/{name}", context))
    _write(dovecot_dir / dbwatch.CURRENT, (dovecot_dir / dbwatch.AVAILABLE).read_text())
    _write(dovecot_dir / "database-unavailable", "#!/bin/sh\n# checkpassword's \"temporary failure\" (mailstack/dbwatch.py)\nexit 111\n",
           0o755)
    # The master user works only from the workers' addresses: a leaked secret key alone
    # must not open every mailbox from anywhere.
    nets = ",".join(n.strip() for n in settings.DOVECOT_MASTER_NETS.split(",") if n.strip())
    master = f"{settings.DOVECOT_MASTER_USER}:{ssha512(credentials.master_password())}::::::allow_real_nets={nets}\n"
    _write(dovecot_dir / "master-users", master, 0o640, "dovecot")
    policy_secret = credentials.auth_policy_secret()
    _write(dovecot_dir / "auth-policy-header", f"{credentials.AUTH_POLICY_HEADER}: {policy_secret}", 0o640, "dovecot")
    nonce = hashlib.sha256(b"duckmail auth policy nonce " + policy_secret.encode()).hexdigest()
    _write(dovecot_dir / "auth-policy-nonce", nonce, 0o640, "dovecot")
    for name in ("incoming_spam.sieve", "default.sieve"):
        target = sieve_global / name
        shutil.copyfile(DEPLOY_DIR / "sieve" / name, target)
        os.chown(target, mail_user.pw_uid, mail_user.pw_gid)
    globalsieve.install_registered(out)

    context["dir"] = str(postfix_dir)
    _write(postfix_dir / "main.cf", _render("postfix/main.cf", context))
    _write(postfix_dir / "master.cf", _render("postfix/master.cf", context))
    # Submission: no null sender (bounces are Postfix's to write, not members'; with <>
    # nothing would tie the mail to the member's own addresses).
    _write(postfix_dir / "submission_senders", "<>\tREJECT Send from your own address, not a null sender\n")
    # Incoming: the antispam verdict is ours to write, so a sender's X-Spam-* headers go.
    _write(postfix_dir / "header_checks", "/^X-Spam-(Status|Score|Flag|Level):/\tIGNORE\n")
    for name, (purpose, query) in POSTFIX_MAPS.items():
        _write(postfix_dir / name, _render("postfix/map.cf", {**db, "purpose": purpose, "query": query}), 0o640, "postfix")
    if not production:
        (postfix_dir / "queue").mkdir(exist_ok=True)
        os.chmod(postfix_dir / "queue", 0o755)
    return conf
