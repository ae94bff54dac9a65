"""`doveadm` calls against the Dovecot running from the generated configuration.

`doveadm` reaches the Dovecot running from the generated config in MAILCONFIG_DIR, so
these calls work where Dovecot runs on the same host; elsewhere they are skipped (a
disabled member is refused at the next login anyway, as Dovecot has no auth cache).
"""

import logging
import subprocess
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)


def config_file() -> Path:
    return Path(settings.MAILCONFIG_DIR) / "dovecot" / "dovecot.conf"


def doveadm(*args: str, timeout: int = 15) -> subprocess.CompletedProcess | None:
    conf = config_file()
    if not conf.exists():
        log.info("no local Dovecot config at %s; skipped doveadm %s", conf, args[0])
        return None
    return subprocess.run(
        ["doveadm", "-c", str(conf), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def kick(email: str) -> None:
    """End a member's open IMAP/POP3/ManageSieve sessions (best effort)."""
    try:
        result = doveadm("kick", email)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("doveadm kick %s failed: %s", email, exc)
        return
    if result is not None and result.returncode not in (0, 68):  # 68: nobody to kick
        log.warning("doveadm kick %s: %s", email, result.stderr.strip())
