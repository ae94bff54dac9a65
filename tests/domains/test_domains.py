"""Domains: the model lives in the domains app and keeps its table (the mail servers'
SQL views name accounts_domain); members add addresses on the service domain only."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from accounts import services
from accounts.models import Address, AuditLog
from domains.models import Domain
from domains.services import member_domains, service_domain

pytestmark = pytest.mark.django_db


def test_the_table_keeps_its_name_and_the_address_foreign_key():
    assert Domain._meta.db_table == "accounts_domain"
    assert Address._meta.get_field("domain").related_model is Domain
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT confrelid::regclass::text FROM pg_constraint"
            " WHERE conrelid = 'accounts_address'::regclass AND contype = 'f'"
            " AND conkey = ARRAY[(SELECT attnum FROM pg_attribute"
            " WHERE attrelid = 'accounts_address'::regclass AND attname = 'domain_id')]"
        )
        assert cursor.fetchall() == [("accounts_domain",)]
    assert ContentType.objects.get_for_model(Domain).app_label == "domains"


def test_the_old_import_place_still_answers():
    assert services.service_domain is service_domain
    assert service_domain().name == "duckmail.test"


def test_members_add_addresses_on_the_service_domain_however_it_is_written(alice):
    assert services.add_alias(alice, "ally", domain_name="DuckMail.Test.").domain == service_domain()
    assert list(member_domains()) == [service_domain()]


def test_members_can_not_add_addresses_on_another_domain_even_a_known_one(alice):
    Domain.objects.create(name="example.org")
    for name in ("example.org", "example.net"):
        with pytest.raises(ValidationError, match="only add addresses on the service domain"):
            services.add_alias(alice, "ally", domain_name=name)
        with pytest.raises(ValidationError, match="only add addresses on the service domain"):
            services.add_redirection(alice, "fwd", ["a@example.com"], domain_name=name)
    assert not Address.objects.filter(local_part__in=["ally", "fwd"]).exists()


def test_the_admin_normalises_and_audits_a_saved_domain(client, make_member):
    staff = make_member("admin", is_staff=True, is_superuser=True, allow_reserved=True)
    client.force_login(staff)
    response = client.post(reverse("admin:domains_domain_add"), {
        "name": "bücher.example", "is_active": "on", "description": "", "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00"})
    assert response.status_code == 302, response.content
    assert Domain.objects.filter(name="xn--bcher-kva.example").exists()
    assert AuditLog.objects.filter(action="domain.saved", details__domain="xn--bcher-kva.example").exists()
