"""Fixtures the filters tests share: services called as a worker, the shipped global rules, a member
with folders and their logged-in client, and the rule form as posted."""

import uuid

import pytest

from tests.helpers import PASSWORD, imap_login, restore_shipped_global_rules


@pytest.fixture(autouse=True)
def _services_as_worker(as_worker):
    """Set-up calls filters.services directly, as a worker would (the pages themselves act as the web member)."""


@pytest.fixture
def shipped_rules(db):
    """The global rules the data migration creates (a transactional test's flush deletes them)."""
    return restore_shipped_global_rules()


@pytest.fixture
def owner(make_member, mail_stack):
    """A member with the folders Work and Lists/Dev (a new name each time: mail homes outlive the
    per-test database flush)."""
    m = make_member(f"o{uuid.uuid4().hex[:10]}")
    client = imap_login(m.email, PASSWORD)
    client.create("Work")
    client.create("Lists/Dev")
    client.logout()
    return m


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def rule_post():
    """rule_post(name="Work mail", **extra): the form editor's rule form as posted (From contains
    boss@example.org → file into Work, and an empty row more of each), with `extra` fields changed."""

    def rule_post(name="Work mail", **extra):
        data = {
            "rule-name": name, "rule-enabled": "on", "rule-match": "all",
            "cond-TOTAL_FORMS": "2", "cond-INITIAL_FORMS": "0",
            "cond-0-field": "from", "cond-0-op": "contains", "cond-0-value": "boss@example.org", "cond-0-header": "",
            "cond-1-field": "", "cond-1-op": "contains", "cond-1-value": "", "cond-1-header": "",
            "act-TOTAL_FORMS": "2", "act-INITIAL_FORMS": "0",
            "act-0-kind": "fileinto", "act-0-folder": "Work", "act-0-address": "", "act-0-text": "",
            "act-1-kind": "", "act-1-folder": "", "act-1-address": "", "act-1-text": "",
        }
        data.update(extra)
        return data

    return rule_post


@pytest.fixture
def rule_doing():
    """rule_doing(kind, **extra): a rule form as posted with one condition and the one action `kind`."""

    def rule_doing(kind: str, **extra) -> dict:
        data = {
            "rule-name": "Out", "rule-enabled": "on", "rule-match": "all",
            "cond-TOTAL_FORMS": "1", "cond-INITIAL_FORMS": "0",
            "cond-0-field": "subject", "cond-0-op": "contains", "cond-0-value": "x", "cond-0-header": "",
            "act-TOTAL_FORMS": "1", "act-INITIAL_FORMS": "0",
            "act-0-kind": kind, "act-0-folder": "Junk" if kind == "fileinto" else "",
            "act-0-address": "elsewhere@example.org" if kind.startswith("redirect") else "", "act-0-text": "",
        }
        data.update(extra)
        return data

    return rule_doing
