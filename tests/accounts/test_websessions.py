"""Web sessions' mail access (accounts.websessions): the web logs in to Dovecot with a per-session token,
never a password and never the master user, renewed when revoked and revoked at logout."""

import imaplib

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import reverse

from accounts import mailaccess, websessions
from accounts.models import MailToken
from tests.helpers import PASSWORD, imap_login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_master(monkeypatch):
    """Whatever the web does, it must work without the master user's password."""
    from mailstack import credentials

    monkeypatch.setattr(credentials, "master_password", lambda: "not-the-master-password")


def folders_through_the_web(client, member) -> list[str]:
    """Run a request whose view lists the member's IMAP folders through accounts.mailaccess."""
    seen = {}

    def view(request):
        from django.http import HttpResponse

        with mailaccess.imap(request.user) as imap:
            seen["folders"] = sorted(name for _flags, _sep, name in imap.list_folders())
        return HttpResponse("ok")

    from django.urls import path

    from duckmail import urls

    urls.urlpatterns.append(path("__test_folders__/", view))
    try:
        response = client.get("/__test_folders__/")
    finally:
        urls.urlpatterns.pop()
        from django.urls import clear_url_caches

        clear_url_caches()
    assert response.status_code == 200
    return seen["folders"], response


def test_the_web_mints_a_session_token_and_keeps_only_its_hash(mail_stack, client, alice, no_master):
    client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    folders, response = folders_through_the_web(client, alice)
    assert folders == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]
    cookie = response.cookies[settings.WEB_MAIL_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    secret = cookie.value
    token = MailToken.objects.get(member=alice, kind="web")
    assert token.session_key == client.session.session_key
    assert token.expires_at is not None and token.allow_nets == settings.WEB_MAIL_NETS
    assert secret not in token.token_hash
    assert secret not in str(dict(client.session))
    # The same token serves the following requests: no new token per page.
    folders_through_the_web(client, alice)
    assert MailToken.objects.filter(member=alice, kind="web").count() == 1
    # It works only as the member: it is a real Dovecot credential.
    imap_login("alice@duckmail.test", secret).logout()


def test_logging_out_revokes_the_token(mail_stack, client, alice, no_master):
    client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    _folders, response = folders_through_the_web(client, alice)
    secret = response.cookies[settings.WEB_MAIL_COOKIE_NAME].value
    response = client.post(reverse("logout"))
    assert not MailToken.objects.filter(member=alice, kind="web").exists()
    assert response.cookies[settings.WEB_MAIL_COOKIE_NAME].value == ""
    with pytest.raises(imaplib.IMAP4.error):
        imap_login("alice@duckmail.test", secret)


def test_a_revoked_token_is_replaced_transparently(mail_stack, alice_client, alice, no_master):
    folders_through_the_web(alice_client, alice)
    MailToken.objects.filter(member=alice, kind="web").delete()  # as a password change does
    folders, response = folders_through_the_web(alice_client, alice)
    assert "INBOX" in folders
    assert MailToken.objects.filter(member=alice, kind="web").count() == 1
    assert settings.WEB_MAIL_COOKIE_NAME in response.cookies


def test_a_view_can_not_act_as_another_member(mail_stack, alice, bob):
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.exceptions import PermissionDenied

    request = RequestFactory().get("/")
    request.user = alice
    request.session = SessionStore()
    auth = websessions.WebMailAuth(request)
    with pytest.raises(PermissionDenied):
        auth.credentials(bob)


def test_expired_tokens_are_purged(alice_client, alice):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.tasks import purge_expired_mail_tokens

    MailToken.objects.create(member=alice, kind="web", name="old", token_hash="0" * 64,
                             expires_at=timezone.now() - timedelta(minutes=1))
    MailToken.objects.create(member=alice, kind="web", name="live", token_hash="1" * 64,
                             expires_at=timezone.now() + timedelta(minutes=1))
    assert purge_expired_mail_tokens() == 1
    assert list(MailToken.objects.values_list("name", flat=True)) == ["live"]


def test_a_member_on_another_network_still_reaches_dovecot_through_the_web(mail_stack, client, alice, no_master):
    # The web passes the member's own address with IMAP ID; the token stays bound to the
    # web host's address (allow_real_nets), so it works whatever the member's address is.
    client.defaults["REMOTE_ADDR"] = "198.51.100.20"
    client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    folders, _response = folders_through_the_web(client, alice)
    assert "INBOX" in folders
    assert "rip=198.51.100.20" in mail_stack.log()


def test_the_token_follows_the_session_through_a_key_change_and_dies_at_logout(mail_stack, client, alice, no_master):
    client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    _folders, response = folders_through_the_web(client, alice)
    secret = response.cookies[settings.WEB_MAIL_COOKIE_NAME].value
    # A sudo confirmation or password change cycles the session key (update_session_auth_hash).
    session = client.session
    session.cycle_key()
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    client.post(reverse("logout"))
    assert not MailToken.objects.filter(member=alice, kind="web").exists()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login("alice@duckmail.test", secret)


def test_ending_all_web_sessions_ends_their_mail_tokens(mail_stack, client, alice, no_master):
    from accounts import twofactor

    client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    _folders, response = folders_through_the_web(client, alice)
    secret = response.cookies[settings.WEB_MAIL_COOKIE_NAME].value
    twofactor.end_web_sessions(alice)
    with pytest.raises(imaplib.IMAP4.error):
        imap_login("alice@duckmail.test", secret)


def test_a_first_contact_with_dovecot_inside_a_save_works(mail_stack, alice_client, alice, no_master):
    # Saving the spam setting reaches ManageSieve inside a database transaction: the web
    # session's token must already be visible to Dovecot then.
    response = alice_client.post(reverse("filters:options"), {"spam_threshold": "40"})
    assert response.status_code == 302, response.content.decode()[:500]


def test_a_token_revoked_meanwhile_is_renewed_and_the_save_goes_through(mail_stack, alice_client, alice, no_master):
    from filters.models import Rule

    folders_through_the_web(alice_client, alice)  # the session has its token
    MailToken.objects.filter(member=alice, kind="web").delete()  # a password change elsewhere
    data = {
        "rule-name": "Work", "rule-enabled": "on", "rule-match": "all",
        "cond-TOTAL_FORMS": "1", "cond-INITIAL_FORMS": "0",
        "cond-0-field": "from", "cond-0-op": "contains", "cond-0-value": "boss@example.org", "cond-0-header": "",
        "act-TOTAL_FORMS": "1", "act-INITIAL_FORMS": "0",
        "act-0-kind": "fileinto", "act-0-folder": "Junk", "act-0-address": "", "act-0-text": "",
    }
    assert alice_client.post(reverse("filters:rule_new"), data).status_code == 302
    assert Rule.objects.filter(member=alice).exists()


def test_inside_a_transaction_a_revoked_token_asks_for_a_reload(mail_stack, alice, no_master):
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction

    from duckmail.lib import imap

    request = RequestFactory().get("/")
    request.user = alice
    request.session = SessionStore()
    request.COOKIES[settings.WEB_MAIL_COOKIE_NAME] = "revoked-or-never-valid"
    with mailaccess.as_web_request(websessions.WebMailAuth(request)):
        with transaction.atomic(), pytest.raises(imap.MailServerError, match="reload the page"):
            with mailaccess.imap(alice):
                pass
        # Outside a transaction the same situation renews the token.
        with mailaccess.imap(alice) as client:
            assert client.select_folder("INBOX")


def test_after_changing_the_password_the_session_gets_new_mail_access(mail_stack, client, alice, no_master):
    client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    client.get(reverse("filters:index"))
    response = client.post(reverse("password_change"), {"old_password": PASSWORD, "new_password1": "New-Passw0rd-here",
                                                         "new_password2": "New-Passw0rd-here"})
    assert response.status_code == 302
    # The revoked token's cookie is dropped, and the next request mints a new token first.
    assert response.cookies[settings.WEB_MAIL_COOKIE_NAME].value == ""
    assert client.post(reverse("filters:options"), {"spam_threshold": "40"}).status_code == 302


def test_a_token_minted_by_a_failing_request_is_still_revoked_at_logout(mail_stack, client, alice):
    client.post(reverse("login"), {"username": "alice@duckmail.test", "password": PASSWORD})
    session = client.session
    request = RequestFactory().get("/")
    request.user = alice
    request.session = session
    auth = websessions.WebMailAuth(request)
    auth.credentials(alice)  # minting saves the session itself, whatever the response
    session = client.session
    assert session.get(websessions.SESSION_TOKEN_ID)
    session.cycle_key()
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    client.post(reverse("logout"))
    assert not MailToken.objects.filter(member=alice, kind="web").exists()
