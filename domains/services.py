"""Which domain is which: the service domain, and the domains members may use."""

from django.conf import settings
from django.db.models import QuerySet

from accounts.addresses import normalize_domain

from .models import Domain


def service_domain() -> Domain:
    """The domain members get their mailbox on (created on first use)."""
    domain, _ = Domain.objects.get_or_create(
        name=normalize_domain(settings.SERVICE_DOMAIN), defaults={"description": "Service domain"}
    )
    return domain


def member_domains() -> QuerySet[Domain]:
    """The domains members may add their own addresses on: the service domain (hosted
    domains come with their own issue)."""
    return Domain.objects.filter(pk=service_domain().pk)
