"""Mail access (accounts.mailaccess): none outside a web request or a worker, the master user
refused inside a web request, workers reach the member through it, and the web passes the
member's client address to Dovecot."""

import pytest
from django.test import RequestFactory

from accounts import mailaccess, websessions

pytestmark = pytest.mark.django_db(transaction=True)


def test_outside_a_web_request_and_a_worker_there_is_no_mail_access_at_all(alice):
    with pytest.raises(mailaccess.NoMailAccess):
        with mailaccess.imap(alice):
            pass
    with pytest.raises(mailaccess.NoMailAccess):
        with mailaccess.sieve(alice):
            pass


def test_a_web_request_can_not_fall_back_to_the_master_user(mail_stack, alice_client, alice):
    """Code running for a web request that asks for the master user is a bug: it raises."""
    seen = {}

    def view(request):
        from django.http import HttpResponse

        try:
            with mailaccess.as_worker():
                seen["reached"] = True
        except mailaccess.MasterUserInWebRequest:
            seen["refused"] = True
        return HttpResponse("ok")

    from django.urls import path

    from duckmail import urls

    urls.urlpatterns.insert(0, path("test-master-in-web/", view))
    try:
        assert alice_client.get("/test-master-in-web/").status_code == 200
    finally:
        urls.urlpatterns.pop(0)
        from django.urls import clear_url_caches

        clear_url_caches()
    assert seen == {"refused": True}


def test_a_worker_reaches_the_member_through_the_master_user(mail_stack, alice):
    with mailaccess.as_worker(), mailaccess.imap(alice) as client:
        assert client.select_folder("INBOX")
    with mailaccess.as_worker(), mailaccess.sieve(alice) as sieve:
        assert sieve.list().names == []


def test_the_web_passes_the_throttles_client_address_to_dovecot(mail_stack, alice, settings):
    """Behind a proxy, Dovecot must see the member's address (as the throttle reads it), not the proxy's."""
    from django.contrib.sessions.backends.db import SessionStore

    settings.CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="192.0.2.77")
    request.user = alice
    request.session = SessionStore()
    with mailaccess.as_web_request(websessions.WebMailAuth(request)), mailaccess.imap(alice) as client:
        assert client.select_folder("INBOX")
    assert "rip=192.0.2.77" in mail_stack.log()
