"""Dovecot's global Sieve directory: scripts included with `include :global "name"`.

Scripts here live in a directory owned by the mail uid and must be precompiled
(`sievec`), so installing one compiles it first and an invalid script never replaces the
one in use. Apps hand in their scripts through mailstack.registry; filters' global rules
are installed this way when the configuration is generated and whenever an admin saves one.
"""

import os
import pwd
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError

from . import registry


class GlobalSieveInvalid(ValueError):
    """sievec refused a global script; the message is sievec's."""


def directory(out_dir: str | Path | None = None) -> Path:
    return Path(out_dir or settings.MAILCONFIG_DIR).resolve() / "dovecot" / "sieve-global"


def install(name: str, text: str, out_dir: str | Path | None = None, *, check_only: bool = False) -> None:
    """Compile `text` with sievec and install it as global script `name` (name.sieve + .svbin).

    An invalid script raises GlobalSieveInvalid and leaves the installed one untouched:
    it is compiled under a temporary name first, and only renamed into place once valid.
    With check_only it is only compiled.
    """
    out = Path(out_dir or settings.MAILCONFIG_DIR).resolve()
    target_dir = directory(out)
    conf = out / "dovecot" / "dovecot.conf"
    mail_user = pwd.getpwnam(settings.MAIL_USER)
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = target_dir / f".{name}.new.sieve"
    tmp_bin = target_dir / f".{name}.new.svbin"
    tmp.write_text(text)
    try:
        result = subprocess.run(
            ["sievec", "-c", str(conf), str(tmp), str(tmp_bin)], capture_output=True, text=True, timeout=30
        )
        if result.returncode != 0:
            message = (result.stderr or result.stdout).replace(str(tmp) + ": ", "").strip()
            raise GlobalSieveInvalid(message or "sievec refused the script")
        if check_only:
            return
        for path in (tmp, tmp_bin):
            os.chown(path, mail_user.pw_uid, mail_user.pw_gid)
            os.chmod(path, 0o644)
        tmp.replace(target_dir / f"{name}.sieve")
        tmp_bin.replace(target_dir / f"{name}.svbin")
    finally:
        tmp.unlink(missing_ok=True)
        tmp_bin.unlink(missing_ok=True)


def remove(name: str, out_dir: str | Path | None = None) -> None:
    target_dir = directory(out_dir)
    for suffix in (".sieve", ".svbin"):
        (target_dir / f"{name}{suffix}").unlink(missing_ok=True)


def install_registered(out_dir: str | Path) -> None:
    """Install every registered app's global scripts over the shipped files."""
    for provider in registry.global_sieve_providers():
        try:
            scripts = list(provider())
        except (DatabaseError, RuntimeError):
            # Before the first migration (or where the database may not be used, like the
            # test session's setup) the shipped files stand; edits are installed when saved.
            continue
        for name, script in scripts:
            try:
                install(name, script, out_dir)
            except GlobalSieveInvalid:
                # Scripts were checked when saved; keep the installed file rather than fail.
                pass
