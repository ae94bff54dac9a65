import logging
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from mailstack import dbwatch


class Command(BaseCommand):
    help = ("Check PostgreSQL every second and switch the local Dovecot between its SQL databases and "
            "immediate temporary failures (mailstack/dbwatch.py), until SIGTERM.")

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=settings.MAILCONFIG_DIR, help="the generated config (default: MAILCONFIG_DIR)")
        parser.add_argument("--postfix-dir", help="Postfix's config directory to reload when the database returns "
                            "(default: <dir>/postfix if it exists; none: 'none')")
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between checks")
        parser.add_argument("--timeout", type=float, default=2.0, help="seconds a check may take before the database counts as down")

    def handle(self, *args, dir, postfix_dir, interval, timeout, **options):  # noqa: A002 - the option's name
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        base = Path(dir).resolve()
        dovecot_dir = base / "dovecot"
        if postfix_dir is None:
            postfix = base / "postfix" if (base / "postfix" / "main.cf").exists() else None
        else:
            postfix = None if postfix_dir == "none" else Path(postfix_dir).resolve()
        self.stdout.write(f"watching PostgreSQL for {dovecot_dir / 'dovecot.conf'}"
                          + (f" and {postfix / 'main.cf'}" if postfix else ""))
        self.stdout.flush()
        try:
            dbwatch.watch(dovecot_dir, interval=interval, timeout=timeout, postfix_dir=postfix)
        except KeyboardInterrupt:
            pass
