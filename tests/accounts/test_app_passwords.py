"""App passwords: created and revoked on the Settings page, and on the real Dovecot and Postfix the
only way in for mail programs once 2FA is on, until revoked."""

import imaplib
import poplib
import re
import smtplib

import pytest
from django.urls import reverse

from accounts import app_passwords, mailaccess, twofactor
from accounts.models import AuditLog, MailToken, Member
from duckmail.lib import imap
from tests.helpers import PASSWORD, imap_login, managesieve_login, pop3_login

pytestmark = pytest.mark.django_db(transaction=True)

ALICE = "alice@duckmail.test"


def create_on_page(client, name: str) -> tuple[MailToken, str]:
    response = client.post(reverse("app_password_create"), {"name": name})
    assert response.status_code == 302, response.content
    response = client.get(response.url)
    assert response["Cache-Control"] == "no-store"
    secret = re.search(r'<code class="secret" id="new-secret">([a-z ]+)</code>', response.content.decode()).group(1)
    return MailToken.objects.get(name=name), secret


def assert_refused_everywhere(user: str, password: str) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap_login(user, password)
    with pytest.raises(poplib.error_proto):
        pop3_login(user, password)
    assert not managesieve_login(user, password)


def assert_works_everywhere(user: str, password: str) -> None:
    client = imap_login(user, password)
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    pop3_login(user, password).quit()
    assert managesieve_login(user, password)


def test_with_2fa_only_app_passwords_open_imap_pop3_and_managesieve(mail_stack, alice_client, alice, enable_two_factor):
    assert_works_everywhere(ALICE, PASSWORD)
    enable_two_factor(alice)
    alice_client.force_login(alice)

    token, secret = create_on_page(alice_client, "Laptop Thunderbird")
    assert re.fullmatch(r"[a-z]{4}( [a-z]{4}){3}", secret)
    # Only hashes are stored, never the secret.
    assert (token.token_hash, token.grouped_hash) == app_passwords.token_hashes(secret)
    assert not MailToken.objects.filter(token_hash__contains=secret.replace(" ", "")[:8]).exists()
    assert token.last_used_at is None

    assert_refused_everywhere(ALICE, PASSWORD)
    assert_works_everywhere(ALICE, secret)
    # As typed from the screen, with or without the spaces.
    imap_login(ALICE, secret.replace(" ", "")).logout()
    # Dovecot stamped the last use, and the page lists it.
    token.refresh_from_db()
    assert token.last_used_at is not None
    page = alice_client.get(reverse("app_passwords")).content.decode()
    assert "Laptop Thunderbird" in page and "never" not in page
    # Someone else's address with alice's app password is refused.
    with pytest.raises(imaplib.IMAP4.error):
        imap_login("bob@duckmail.test", secret)

    # Revoked: refused everywhere, and her open sessions end.
    open_session = imap_login(ALICE, secret)
    response = alice_client.get(reverse("app_password_revoke", args=[token.pk]))
    assert response.status_code == 200 and "Revoke “Laptop Thunderbird”?" in response.content.decode()
    assert MailToken.objects.filter(pk=token.pk).exists()
    response = alice_client.post(reverse("app_password_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert not MailToken.objects.filter(pk=token.pk).exists()
    assert_refused_everywhere(ALICE, secret)
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        open_session.noop()
        open_session.noop()
    assert AuditLog.objects.filter(action="app_password.revoked", member=alice).exists()


def test_with_2fa_smtp_submission_takes_an_app_password_not_the_main_password(postfix, alice, enable_two_factor):
    enable_two_factor(alice)
    token, secret = app_passwords.create_app_password(alice, "Phone")
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(ALICE, PASSWORD)
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        smtp.login(ALICE, secret)
    token.refresh_from_db()
    assert token.last_used_at is not None
    app_passwords.revoke_app_password(token, actor=alice)
    with smtplib.SMTP("127.0.0.1", postfix.ports.submission) as smtp:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(ALICE, secret)


def test_members_without_2fa_may_use_app_passwords_too(mail_stack, alice):
    _, secret = app_passwords.create_app_password(alice, "Phone")
    assert_works_everywhere(ALICE, secret)
    assert_works_everywhere(ALICE, PASSWORD)


def test_turning_2fa_off_gives_the_main_password_back_to_mail_programs(mail_stack, alice, enable_two_factor):
    key, codes = enable_two_factor(alice)
    assert_refused_everywhere(ALICE, PASSWORD)
    twofactor.disable_two_factor(Member.objects.get(pk=alice.pk), codes[0])
    assert_works_everywhere(ALICE, PASSWORD)


def test_a_disabled_member_can_not_use_an_app_password(mail_stack, alice):
    from accounts import services

    _, secret = app_passwords.create_app_password(alice, "Phone")
    services.set_member_active(Member.objects.get(pk=alice.pk), False, actor=None)
    with pytest.raises(imaplib.IMAP4.error, match="disabled"):
        imap_login(ALICE, secret)
    assert not managesieve_login(ALICE, secret)


def test_workers_still_reach_a_2fa_members_mailbox_through_the_master_user(mail_stack, alice, enable_two_factor):
    enable_two_factor(alice)
    with mailaccess.as_worker(), mailaccess.imap(alice) as client:
        assert imap.quota_usage(client).limit_kb == 512 * 1024


def test_the_last_use_is_stamped_at_most_once_a_minute(mail_stack, alice):
    token, secret = app_passwords.create_app_password(alice, "Phone")
    imap_login(ALICE, secret).logout()
    token.refresh_from_db()
    first = token.last_used_at
    imap_login(ALICE, secret).logout()
    token.refresh_from_db()
    assert token.last_used_at == first
    MailToken.objects.filter(pk=token.pk).update(last_used_at=first.replace(year=first.year - 1))
    imap_login(ALICE, secret).logout()
    token.refresh_from_db()
    assert token.last_used_at > first


def test_an_expired_token_is_refused(mail_stack, alice):
    from django.utils import timezone

    token, secret = app_passwords.create_app_password(alice, "Phone")
    MailToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(ALICE, secret)


def test_a_stranger_can_neither_see_nor_revoke_alices_app_passwords(client, alice, stranger):
    token, _ = app_passwords.create_app_password(alice, "Alice phone")
    client.force_login(stranger)
    page = client.get(reverse("app_passwords"))
    assert page.status_code == 200 and b"Alice phone" not in page.content
    assert client.get(reverse("app_password_revoke", args=[token.pk])).status_code == 404
    assert client.post(reverse("app_password_revoke", args=[token.pk])).status_code == 404
    assert MailToken.objects.filter(pk=token.pk).exists()


def test_app_password_names_are_checked_next_to_the_field(alice_client, alice):
    app_passwords.create_app_password(alice, "Phone")
    response = alice_client.post(reverse("app_password_create"), {"name": "phone"})
    assert response.status_code == 400
    assert "already have an app password named" in response.context["app_password_form"].errors["name"][0]
    assert b'id="id_name_error"' in response.content
    response = alice_client.post(reverse("app_password_create"), {"name": "   "})
    assert response.status_code == 400
    assert response.context["app_password_form"].errors["name"] == ["Give the app password a name, e.g. “Phone”."]
    assert MailToken.objects.filter(member=alice, kind="app").count() == 1


def test_typed_passwords_reach_postgres_only_as_a_hash(mail_stack):
    # The token passdb is asked first for every login: it must send the hash, not %w.
    tokens_conf = (mail_stack.dir / "dovecot" / "dovecot-sql-tokens.conf.ext").read_text()
    query = next(line for line in tokens_conf.splitlines() if line.startswith("password_query"))
    assert "%{sha256:password}" in query
    assert "%w" not in query and "%{password}" not in query


def test_a_future_webmail_session_token_fits_the_same_passdb(mail_stack, alice):
    # The webmail (a later issue) will mint per-session tokens bound to its own address:
    # the same table, view and passdb already honour kind, expiry and allow_nets.
    from datetime import timedelta

    from django.utils import timezone

    secret = "webmailsessiontokenfortests0001"
    compact, _ = app_passwords.token_hashes(secret)
    token = MailToken.objects.create(member=alice, kind=MailToken.Kind.WEB_SESSION, name="web session",
                                     token_hash=compact, expires_at=timezone.now() + timedelta(hours=1),
                                     allow_nets="192.0.2.0/24")
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(ALICE, secret)  # we connect from 127.0.0.1, not the web host's network
    MailToken.objects.filter(pk=token.pk).update(allow_nets="127.0.0.0/8")
    imap_login(ALICE, secret).logout()
    # Not an app password: the member's list does not show it.
    assert not app_passwords.app_passwords(alice).exists()


def test_a_password_change_ends_mail_sessions_and_webmail_tokens_but_keeps_app_passwords(mail_stack, alice):
    from accounts import services

    app_token, app_secret = app_passwords.create_app_password(alice, "Phone")
    web_compact, _ = app_passwords.token_hashes("webmailsessiontokenfortests0002")
    MailToken.objects.create(member=alice, kind=MailToken.Kind.WEB_SESSION, name="web", token_hash=web_compact)
    open_session = imap_login(ALICE, PASSWORD)
    services.change_password(Member.objects.get(pk=alice.pk), "New-Passw0rd-here")
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        open_session.noop()
        open_session.noop()
    assert list(MailToken.objects.filter(member=alice).values_list("kind", flat=True)) == ["app"]
    imap_login(ALICE, app_secret).logout()
    imap_login(ALICE, "New-Passw0rd-here").logout()
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(ALICE, PASSWORD)


def test_revoking_an_app_password_asks_first_naming_it(alice_client, alice):
    token, _ = app_passwords.create_app_password(alice, "Laptop Thunderbird")
    page = alice_client.get(reverse("app_passwords")).content.decode()
    assert f'href="{reverse("app_password_revoke", args=[token.pk])}"' in page
    response = alice_client.get(reverse("app_password_revoke", args=[token.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Revoke “Laptop Thunderbird”?" in page and "Revoke “Laptop Thunderbird”</button>" in page
    assert f'href="{reverse("app_passwords")}">Cancel</a>' in page
    assert MailToken.objects.filter(pk=token.pk).exists()
    response = alice_client.post(reverse("app_password_revoke", args=[token.pk]))
    assert response.status_code == 302 and not MailToken.objects.filter(pk=token.pk).exists()


def test_creating_an_app_password_redirects_and_shows_the_secret_once(alice_client, alice):
    response = alice_client.post(reverse("app_password_create"), {"name": "Phone"})
    assert response.status_code == 302 and response.url == reverse("app_passwords") + "#new-app-password"
    page = alice_client.get(response.url).content.decode()
    secret = re.search(r'<code class="secret" id="new-secret">([a-z ]+)</code>', page).group(1)
    token = MailToken.objects.get(member=alice, kind="app")
    assert (token.token_hash, token.grouped_hash) == app_passwords.token_hashes(secret)
    assert "App password for <strong>Phone</strong>" in page
    # A reload is a GET: no second app password, and the secret is gone.
    page = alice_client.get(reverse("app_passwords")).content.decode()
    assert secret not in page and 'id="new-app-password"' not in page
    assert MailToken.objects.filter(member=alice, kind="app").count() == 1


@pytest.mark.parametrize("name", ["", "   ", "\t \n"])
def test_a_blank_app_password_name_gets_the_custom_message(alice_client, name):
    response = alice_client.post(reverse("app_password_create"), {"name": name})
    assert response.status_code == 400
    assert response.context["app_password_form"].errors["name"] == ["Give the app password a name, e.g. “Phone”."]
    assert "This field is required" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_new_app_password_is_copied_with_one_click(page, alice, log_in):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page)  # a fresh login is in sudo mode
    page.goto("/account/security/app-passwords/")
    page.fill("#id_name", "Phone")
    page.click("form[action$='/app-passwords/new/'] button[type=submit]")
    secret = page.inner_text("#new-secret")
    page.click("button[data-copy='#new-secret']")
    page.wait_for_function("document.querySelector(\"button[data-copy='#new-secret']\").textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    # Times on the page say their zone.
    assert re.search(r"\d{2}:\d{2} UTC", page.inner_text("#app-passwords"))
