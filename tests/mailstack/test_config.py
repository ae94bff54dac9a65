"""The generated configuration is complete and valid for both variants."""

import os
import pwd
import smtplib
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from mailstack import config as mailconfig
from tests.servers import free_port, wait_for_port

# The documented defaults (the test session points the settings elsewhere).
PORTS = mailconfig.Ports(imap=10143, pop3=10110, managesieve=14190, lmtp=10024, auth=10028, smtp=10025,
                         submission=10587)


@pytest.fixture
def out_dir(tmp_path_factory):
    import os
    import tempfile

    path = tempfile.mkdtemp(prefix="duckmail-conf-", dir="/tmp")
    os.chmod(path, 0o755)
    yield path
    subprocess.run(["rm", "-rf", path])


@pytest.fixture(scope="module")
def certificate():
    """A throwaway self-signed certificate and key for mail.example.org."""
    path = Path(tempfile.mkdtemp(prefix="duckmail-tls-", dir="/tmp"))
    os.chmod(path, 0o755)
    cert, key = path / "cert.pem", path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mail.example.org",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    yield cert, key
    subprocess.run(["rm", "-rf", str(path)])


@pytest.fixture
def production(settings, certificate):
    """Settings the production variant accepts: a readable certificate and key, and an FQDN."""
    settings.TLS_CERT, settings.TLS_KEY = (str(p) for p in certificate)
    settings.MAIL_HOSTNAME = "mail.example.org"
    return settings


def dovecot_settings(conf) -> str:
    result = subprocess.run(["dovecot", "-n", "-c", str(conf)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_production_variant_listens_on_ipv4_and_ipv6_with_tls(db, out_dir, production):
    conf = mailconfig.generate(out_dir, variant="production", ports=PORTS)
    text = dovecot_settings(conf)
    # IMAP, POP3 and ManageSieve on every IPv4 and IPv6 address; LMTP and SASL stay internal.
    assert text.count("address = *, ::") == 3
    assert text.count("address = 127.0.0.1") == 2
    assert "ssl = required" in text
    assert "disable_plaintext_auth = no" not in text
    assert "auth_failure_delay" not in text  # the test shortcut stays out of production
    # Self-contained: the only include is the generated members' databases (mailstack.dbwatch).
    includes = [ln for ln in conf.read_text().splitlines() if ln.startswith("!include")]
    assert includes == [f"!include {conf.parent / 'auth-databases.conf.ext'}"]
    main_cf = (conf.parent.parent / "postfix" / "main.cf").read_text()
    assert "message_size_limit = 20971520" in main_cf
    assert "relayhost" not in main_cf  # production delivers outside mail itself


def test_the_test_variant_is_self_contained_and_complete(db, out_dir):
    conf = mailconfig.generate(out_dir, variant="test", ports=PORTS)
    text = dovecot_settings(conf)
    for expected in ("quota_max_mail_size = 20971520",
                     "special_use = \\Junk", 'prefix = "#Shared/%%u/"', "sieve_spamtest_max_value = 100",
                     "sieve_global = ", "sieve_plugins = sieve_imapsieve sieve_extprograms"):
        assert expected in text, expected
    # Secrets are readable by the daemons, not by everyone.
    for secret in ("dovecot/master-users", "dovecot/dovecot-sql.conf.ext", "postfix/virtual_aliases.cf"):
        mode = (conf.parent.parent / secret).stat().st_mode & 0o777
        assert mode == 0o640, secret
    master = (conf.parent / "master-users").read_text()
    assert master.startswith("duckmail-worker:{SSHA512}")
    from mailstack import credentials

    assert credentials.master_password() not in master
    result = subprocess.run(["postfix", "-c", str(conf.parent.parent / "postfix"), "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_production_postfix_configuration_is_valid(db, out_dir, production):
    conf = mailconfig.generate(out_dir, variant="production", ports=PORTS)
    postfix_dir = conf.parent.parent / "postfix"
    result = subprocess.run(["postconf", "-c", str(postfix_dir), "-M"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # Every address, IPv4 and IPv6, on the standard service lines.
    assert "10025      inet" in result.stdout.replace("\t", " ") or result.stdout.startswith("10025")
    main = subprocess.run(["postconf", "-c", str(postfix_dir), "-n"], capture_output=True, text=True)
    assert "inet_interfaces = all" in main.stdout and "inet_protocols = all" in main.stdout


def test_the_master_user_only_works_from_the_workers_networks(db, out_dir, settings):
    settings.DOVECOT_MASTER_NETS = "192.0.2.0/24, 2001:db8::/32"
    conf = mailconfig.generate(out_dir, variant="test", ports=PORTS)
    line = (conf.parent / "master-users").read_text().strip()
    assert line.endswith("::::::allow_real_nets=192.0.2.0/24,2001:db8::/32")


def postconf(postfix_dir, *args: str) -> str:
    result = subprocess.run(["postconf", "-c", str(postfix_dir), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_production_postfix_offers_starttls_with_the_configured_certificate(db, out_dir, production):
    conf = mailconfig.generate(out_dir, variant="production", ports=PORTS)
    postfix_dir = conf.parent.parent / "postfix"
    cert, key = production.TLS_CERT, production.TLS_KEY
    main = postconf(postfix_dir, "-n")
    for line in ("myhostname = mail.example.org", f"smtpd_tls_cert_file = {cert}", f"smtpd_tls_key_file = {key}",
                 "smtpd_tls_security_level = may", "smtpd_tls_auth_only = yes",
                 "smtpd_tls_protocols = >=TLSv1.2", "smtpd_tls_mandatory_protocols = >=TLSv1.2",
                 "smtpd_tls_session_cache_database = btree:${data_directory}/smtpd_scache",
                 "smtpd_tls_received_header = yes",
                 "smtp_tls_security_level = may", "smtp_tls_loglevel = 1",
                 "smtp_tls_protocols = >=TLSv1.2", "smtp_tls_mandatory_protocols = >=TLSv1.2"):
        assert line + "\n" in main, line
    # Port 25 only offers TLS (a public MX must take plaintext mail); submission requires it.
    services = postconf(postfix_dir, "-P")
    assert "10025/inet/smtpd_tls_security_level" not in services
    assert "10587/inet/smtpd_tls_security_level = encrypt" in services
    # The same certificate as Dovecot's.
    text = conf.read_text()
    assert f"ssl_cert = <{cert}\n" in text and f"ssl_key = <{key}\n" in text
    # With the same settings the test variant stays on loopback without TLS (the test servers).
    test_conf = mailconfig.generate(Path(out_dir) / "test", variant="test", ports=PORTS)
    main = postconf(test_conf.parent.parent / "postfix", "-n")
    assert "tls" not in main and "inet_interfaces = 127.0.0.1" in main


def test_the_production_postfix_passes_postfix_check_and_speaks_tls(db, out_dir, production):
    smtp, submission = free_port(), free_port()
    ports = mailconfig.Ports(imap=10143, pop3=10110, managesieve=14190, lmtp=10024, auth=10028, smtp=smtp,
                             submission=submission)
    conf = mailconfig.generate(out_dir, variant="production", ports=ports)
    # The production main.cf keeps Postfix's system paths (/var/spool/postfix, syslog). The
    # check runs on a copy that moves only those into the temp dir and listens on loopback,
    # so nothing in the production config is weakened for the test and the system queue is
    # left alone; everything TLS stays exactly as generated.
    copy = Path(out_dir) / "postfix-check"
    subprocess.run(["cp", "-a", str(conf.parent.parent / "postfix"), str(copy)], check=True)
    (copy / "queue").mkdir()
    (copy / "data").mkdir()
    postfix_user = pwd.getpwnam("postfix")
    os.chown(copy / "data", postfix_user.pw_uid, postfix_user.pw_gid)
    log = Path(out_dir) / "postfix.log"
    postconf(copy, "-e", f"queue_directory = {copy}/queue", f"data_directory = {copy}/data",
             f"maillog_file = {log}", f"maillog_file_prefixes = {out_dir}",
             "inet_interfaces = 127.0.0.1", "inet_protocols = ipv4")
    result = subprocess.run(["postfix", "-c", str(copy), "check"], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stderr, result.stderr
    result = subprocess.run(["postfix", "-c", str(copy), "start"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    try:
        wait_for_port(smtp)
        # The chain must verify against the configured certificate; its name is checked below
        # (the server is reached as 127.0.0.1).
        context = ssl.create_default_context(cafile=production.TLS_CERT)
        context.check_hostname = False
        with smtplib.SMTP("127.0.0.1", smtp, local_hostname="client.example.org", timeout=10) as client:
            code, greeting = client.ehlo()
            assert code == 250 and greeting.startswith(b"mail.example.org")
            assert client.has_extn("starttls")
            assert not client.has_extn("auth")  # no authentication on the MX, with TLS or without
            client.starttls(context=context)
            assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
            assert client.sock.getpeercert()["subject"] == ((("commonName", "mail.example.org"),),)
            client.ehlo()
            assert not client.has_extn("auth")
    finally:
        subprocess.run(["postfix", "-c", str(copy), "stop"], capture_output=True)


@pytest.mark.parametrize("broken, variable", [
    pytest.param({"TLS_CERT": "/nonexistent/cert.pem"}, "DUCKMAIL_TLS_CERT", id="no-cert"),
    pytest.param({"TLS_KEY": "/nonexistent/key.pem"}, "DUCKMAIL_TLS_KEY", id="no-key"),
    pytest.param({"TLS_CERT": ""}, "DUCKMAIL_TLS_CERT", id="empty-cert"),
    pytest.param({"swap": True}, "DUCKMAIL_TLS_CERT", id="key-and-cert-swapped"),
    pytest.param({"MAIL_HOSTNAME": "localhost"}, "DUCKMAIL_MAIL_HOSTNAME", id="localhost"),
    pytest.param({"MAIL_HOSTNAME": "mail"}, "DUCKMAIL_MAIL_HOSTNAME", id="no-dot"),
    pytest.param({"MAIL_HOSTNAME": "localhost.localdomain"}, "DUCKMAIL_MAIL_HOSTNAME", id="localhost-localdomain"),
    pytest.param({"MAIL_HOSTNAME": "192.0.2.25"}, "DUCKMAIL_MAIL_HOSTNAME", id="ip-address"),
    pytest.param({"MAIL_HOSTNAME": "mail .example.org"}, "DUCKMAIL_MAIL_HOSTNAME", id="space"),
])
def test_production_generation_refuses_without_a_certificate_or_fqdn(db, out_dir, production, broken, variable):
    if broken.pop("swap", False):
        production.TLS_CERT, production.TLS_KEY = production.TLS_KEY, production.TLS_CERT
    for name, value in broken.items():
        setattr(production, name, value)
    target = Path(out_dir) / "mail"
    with pytest.raises(mailconfig.MailConfigError, match=variable):
        mailconfig.generate(target, variant="production", ports=PORTS)
    assert not target.exists()  # refused before writing anything


def test_the_machine_name_is_used_only_when_it_is_fully_qualified(db, out_dir, production, monkeypatch):
    production.MAIL_HOSTNAME = ""
    monkeypatch.setattr(mailconfig.socket, "getfqdn", lambda: "localhost")
    with pytest.raises(mailconfig.MailConfigError, match="'localhost'.*DUCKMAIL_MAIL_HOSTNAME"):
        mailconfig.generate(out_dir, variant="production", ports=PORTS)
    monkeypatch.setattr(mailconfig.socket, "getfqdn", lambda: "mx1.example.org")
    conf = mailconfig.generate(out_dir, variant="production", ports=PORTS)
    assert "myhostname = mx1.example.org\n" in postconf(conf.parent.parent / "postfix", "-n")


def test_gen_mailconfig_without_a_certificate_fails_with_the_message_not_a_traceback(out_dir):
    env = {**os.environ, "DUCKMAIL_DEBUG": "1", "DUCKMAIL_TLS_CERT": "/nonexistent/cert.pem",
           "DUCKMAIL_MAIL_HOSTNAME": "mail.example.org"}
    target = Path(out_dir) / "mail"
    result = subprocess.run([sys.executable, "manage.py", "gen_mailconfig", "--variant", "production", "--dir",
                             str(target)], cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stdout
    assert "DUCKMAIL_TLS_CERT=/nonexistent/cert.pem can not be read" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()
