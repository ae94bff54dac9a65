from django.conf import settings
from django.core.management.base import BaseCommand

from mailstack import config


class Command(BaseCommand):
    help = "Generate the Dovecot and Postfix configuration (self-contained) into a directory."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=settings.MAILCONFIG_DIR, help="output directory (default: MAILCONFIG_DIR)")
        parser.add_argument("--variant", choices=["dev", "test", "production"], default="dev")

    def handle(self, *args, **options):
        conf = config.generate(options["dir"], variant=options["variant"])
        self.stdout.write(f"Dovecot: dovecot -F -c {conf}")
        self.stdout.write(f"Postfix: postfix -c {conf.parent.parent / 'postfix'} start")
