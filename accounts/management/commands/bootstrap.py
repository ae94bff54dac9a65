import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts import services
from accounts.models import Member


class Command(BaseCommand):
    help = "Create the service domain, an admin and the demo member if they do not exist (idempotent)."

    def handle(self, *args, **options):
        domain = services.service_domain()
        self._ensure("admin", settings.BOOTSTRAP_ADMIN_PASSWORD or None, staff=True)
        self._ensure("demo", settings.BOOTSTRAP_DEMO_PASSWORD or None, staff=False)
        self.stdout.write(f"Service domain: {domain.name}")

    def _ensure(self, local_part: str, password: str | None, *, staff: bool) -> None:
        email = f"{local_part}@{settings.SERVICE_DOMAIN}"
        member = Member.objects.filter(email=email).first()
        if member is None:
            shown = password or secrets.token_urlsafe(12)
            services.create_member(local_part, shown, allow_reserved=True, is_staff=staff, is_superuser=staff,
                                   display_name="Administrator" if staff else "Demo Member")
            source = "from the environment" if password else "generated"
            self.stdout.write(f"Created {email} with password {shown if not password else '(given)'} ({source})")
        elif password:
            services.change_password(member, password)
            self.stdout.write(f"{email}: password set from the environment")
        else:
            self.stdout.write(f"{email} exists (password unchanged)")
