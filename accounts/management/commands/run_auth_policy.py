import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import authpolicy


class Command(BaseCommand):
    help = "Run the auth policy server Dovecot asks before every mail login (accounts.authpolicy), on loopback."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.AUTH_POLICY_PORT,
                            help="port on 127.0.0.1 (default: DUCKMAIL_AUTH_POLICY_PORT)")

    def handle(self, *args, port: int, **options):
        server = authpolicy.make_server(port)
        # SIGTERM (systemd, make run's supervisor) stops it cleanly; shutdown() must come from another thread.
        signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
        self.stdout.write(f"auth policy server listening on 127.0.0.1:{port}", ending="\n")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
