from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mailstack import config


class Command(BaseCommand):
    help = "Generate the Dovecot and Postfix configuration (self-contained) into a directory."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=settings.MAILCONFIG_DIR, help="output directory (default: MAILCONFIG_DIR)")
        parser.add_argument("--variant", choices=["dev", "test", "production"], default="dev")

    def handle(self, *args, **options):
        try:
            conf = config.generate(options["dir"], variant=options["variant"])
        except config.MailConfigError as e:  # settings to fix, not a bug: the message, no traceback
            raise CommandError(str(e)) from e
        self.stdout.write(f"Dovecot: dovecot -F -c {conf}")
        self.stdout.write(f"Postfix: postfix -c {conf.parent.parent / 'postfix'} start")
