"""A backend that is down gets the clear 503 page, whatever the backend and wherever it fails."""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client
from django.urls import clear_url_caches, path, reverse

from accounts import mailaccess
from duckmail import urls
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unguarded_view():
    """Installs /unguarded/, a view that reaches ManageSieve as the member and catches nothing."""

    def view(request):
        from django.http import HttpResponse

        with mailaccess.sieve(request.user) as sieve:
            return HttpResponse(", ".join(sieve.list().names))

    urls.urlpatterns.insert(0, path("unguarded/", view))
    clear_url_caches()
    yield "/unguarded/"
    urls.urlpatterns.pop(0)
    clear_url_caches()


def test_a_filter_server_outage_that_escapes_a_view_is_the_clear_page(alice, settings, unguarded_view):
    settings.MANAGESIEVE_PORT = free_port()  # nothing listens there
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get(unguarded_view)
    assert response.status_code == 503
    assert "The filter server (ManageSieve) is not answering right now" in response.content.decode()


@contextmanager
def database_down():
    """Inside: every new connection is a real PostgreSQL connection attempt to a port where
    no server listens."""
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port


def test_a_database_outage_is_the_clear_page_not_a_stack_trace(alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with database_down():
        response = client.get(reverse("account"))
    assert response.status_code == 503
    body = response.content.decode()
    assert "The database is not answering right now" in body
    assert "Traceback" not in body and "OperationalError" not in body
    assert response["Retry-After"] == "30"


def test_a_form_sent_while_the_database_is_down_says_the_typed_text_is_still_there(alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with database_down():
        response = client.post(reverse("alias_add"), {"alias-local_part": "holiday"})
    assert response.status_code == 503
    body = response.content.decode()
    assert "Go back with your browser's Back button: the form still holds it" in body
    assert "Try again</a>" not in body  # a link would lose the form


def test_other_errors_are_still_the_plain_500_page(alice, unguarded_view, monkeypatch):
    def broken(member):
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(mailaccess, "sieve", broken)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get(unguarded_view)
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_an_unreachable_mail_server_gets_a_clear_page(alice_client, settings):
    from django.test import RequestFactory

    from duckmail.lib import imap
    from duckmail.middleware import BackendUnavailableMiddleware

    settings.IMAP_PORT = 1  # nothing listens there
    request = RequestFactory().get("/somewhere/")
    request.user = None
    with pytest.raises(imap.MailServerError) as exc:
        with imap.session("alice@duckmail.test", "x"):
            pass
    response = BackendUnavailableMiddleware(lambda r: None).process_exception(request, exc.value)
    assert response.status_code == 503
    assert b"not answering right now" in response.content
