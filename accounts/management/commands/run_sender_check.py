from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import milter


class Command(BaseCommand):
    help = ("Run the From: check Postfix's submission and reinjection services ask (a milter on "
            "DUCKMAIL_MAIL_HOST:DUCKMAIL_SENDER_CHECK_PORT) until SIGTERM.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.MAIL_HOST)
        parser.add_argument("--port", type=int, default=settings.SENDER_CHECK_PORT)

    def handle(self, *args, host, port, **options):
        self.stdout.write(f"sender check listening on {host}:{port}")
        self.stdout.flush()
        milter.serve(host, port)
