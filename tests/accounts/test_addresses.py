"""Addresses: normalising domains, local parts and outside addresses, uniqueness in the database, and redirection loops."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import services
from accounts.addresses import display_domain, normalize_domain, normalize_external_address, normalize_local_part
from accounts.models import Address
from domains.services import service_domain


def test_it_stores_internationalised_domains_as_lower_case_a_labels():
    assert normalize_domain("Bücher.Example.") == "xn--bcher-kva.example"
    assert normalize_domain("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert display_domain("xn--bcher-kva.example") == "bücher.example"
    # IDNA 2008: ß is its own letter (faß.de and fass.de are two domains).
    assert normalize_domain("FAß.de") == "xn--fa-hia.de"
    assert normalize_external_address("a@faß.de") == "a@xn--fa-hia.de"


@pytest.mark.parametrize("bad", ["", "no-dot", "a..b.example", "-x.example", "exa mple.org"])
def test_it_refuses_bad_domains(bad):
    with pytest.raises(ValidationError):
        normalize_domain(bad)


def test_it_lower_cases_local_parts_and_refuses_unsafe_ones():
    assert normalize_local_part(" Jane.Doe ") == "jane.doe"
    for bad in ["", ".jane", "jane.", "ja..ne", "jane doe", "jané", 'ja"ne', "a" * 65, "jane+news"]:
        with pytest.raises(ValidationError):
            normalize_local_part(bad)


def test_it_normalises_outside_addresses_domain_only():
    assert normalize_external_address("Jane@Bücher.Example") == "Jane@xn--bcher-kva.example"
    for bad in ["jane", "jane@", "ja ne@example.org", "a@b@example.org", "jané@example.org"]:
        with pytest.raises(ValidationError):
            normalize_external_address(bad)


def test_the_database_keeps_addresses_unique_across_kinds(alice, bob):
    services.add_alias(alice, "ally")
    domain = service_domain()
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(local_part="ally", domain=domain, kind=Address.Kind.REDIRECTION, owner=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(local_part="bob", domain=domain, kind=Address.Kind.ALIAS, owner=alice)


def test_the_database_refuses_upper_case_addresses(alice):
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(local_part="Ally", domain=service_domain(), kind="alias", owner=alice)


def test_a_redirection_can_not_point_to_itself(alice):
    with pytest.raises(ValidationError, match="loop"):
        services.add_redirection(alice, "fwd", ["FWD@duckmail.test"])


def test_a_redirection_can_not_loop_through_another_redirection(alice, bob):
    services.add_redirection(bob, "two", ["outside@example.org"])
    first = services.add_redirection(alice, "one", ["two@duckmail.test"])
    # two -> one would close the loop one -> two -> one.
    two = Address.objects.get(local_part="two")
    with pytest.raises(ValidationError, match="loop"):
        services.update_redirection(two, ["one@duckmail.test"], keep_copy=False)
    assert list(first.targets.values_list("target", flat=True)) == ["two@duckmail.test"]


def test_a_redirection_to_an_unknown_local_address_is_refused(alice):
    with pytest.raises(ValidationError, match="does not exist"):
        services.add_redirection(alice, "fwd", ["nobody@duckmail.test"])


def test_reserved_names_are_refused_also_with_a_detail(db):
    for name in ["postmaster", "abuse", "root", "admin", "hostmaster", "webmaster", "noreply", "mailer-daemon"]:
        with pytest.raises(ValidationError, match="reserved"):
            services.create_member(name, "Correct-Horse-7-battery")
    # With a detail it is no new name: postmaster+x@ already reaches postmaster@.
    with pytest.raises(ValidationError, match="can not be part of a name"):
        services.create_member("postmaster+x", "Correct-Horse-7-battery")
