"""The generated Postfix maps answer from the test database (postmap -q against pgsql)."""

import pytest

from accounts import services
from domains.services import service_domain
from tests.helpers import postmap

pytestmark = pytest.mark.django_db(transaction=True)


def test_domains_and_mailboxes(mail_stack, alice):
    assert postmap(mail_stack, "virtual_domains.cf", "duckmail.test") == "duckmail.test"
    assert postmap(mail_stack, "virtual_domains.cf", "example.org") is None
    assert postmap(mail_stack, "virtual_mailboxes.cf", "alice@duckmail.test") == "duckmail.test/alice/"
    assert postmap(mail_stack, "virtual_mailboxes.cf", "nobody@duckmail.test") is None


def test_aliases_and_redirections(mail_stack, alice):
    services.add_alias(alice, "ally")
    services.add_redirection(alice, "fwd", ["a@example.org", "b@example.net"])
    services.add_redirection(alice, "copy", ["c@example.org"], keep_copy=True)
    assert postmap(mail_stack, "virtual_aliases.cf", "alice@duckmail.test") == "alice@duckmail.test"
    assert postmap(mail_stack, "virtual_aliases.cf", "ally@duckmail.test") == "alice@duckmail.test"
    assert sorted(postmap(mail_stack, "virtual_aliases.cf", "fwd@duckmail.test").split(",")) == [
        "a@example.org", "b@example.net"]
    assert sorted(postmap(mail_stack, "virtual_aliases.cf", "copy@duckmail.test").split(",")) == [
        "alice@duckmail.test", "c@example.org"]
    # Postfix also asks for catch-alls; there are none.
    assert postmap(mail_stack, "virtual_aliases.cf", "@duckmail.test") is None


def test_sender_logins_cover_every_own_address(mail_stack, alice, bob):
    services.add_alias(alice, "ally")
    services.add_redirection(alice, "fwd", ["a@example.org"])
    for address in ("alice@duckmail.test", "ally@duckmail.test", "fwd@duckmail.test"):
        assert postmap(mail_stack, "sender_logins.cf", address) == "alice@duckmail.test"
    assert postmap(mail_stack, "sender_logins.cf", "bob@duckmail.test") == "bob@duckmail.test"


def test_a_disabled_member_or_domain_disappears_from_the_maps(mail_stack, alice):
    services.add_alias(alice, "ally")
    services.set_member_active(alice, False, actor=None)
    for map_name in ("virtual_mailboxes.cf", "virtual_aliases.cf", "sender_logins.cf"):
        assert postmap(mail_stack, map_name, "alice@duckmail.test") is None
    assert postmap(mail_stack, "virtual_aliases.cf", "ally@duckmail.test") is None
    services.set_member_active(alice, True, actor=None)
    domain = service_domain()
    domain.is_active = False
    domain.save()
    assert postmap(mail_stack, "virtual_domains.cf", "duckmail.test") is None
    assert postmap(mail_stack, "virtual_aliases.cf", "alice@duckmail.test") is None


def test_a_lookup_key_can_not_inject_sql(mail_stack, alice):
    assert postmap(mail_stack, "virtual_aliases.cf", "x' OR '1'='1") is None
