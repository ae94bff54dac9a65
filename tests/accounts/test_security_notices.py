"""Security changes are mailed to the member's INBOX, so that one they did not make is noticed."""

import pytest

from accounts import app_passwords, services, twofactor
from accounts.models import OutboxMail
from tests.helpers import PASSWORD, bodies, subjects

pytestmark = pytest.mark.django_db(transaction=True)


def test_app_passwords_and_a_password_change_are_announced(mail_stack, alice):
    token, _secret = app_passwords.create_app_password(alice, "Phone")
    app_passwords.revoke_app_password(token, actor=alice)
    services.change_password(alice, "New-Passw0rd-here")
    assert subjects("alice@duckmail.test", "New-Passw0rd-here") == [
        "Security notice: New app password “Phone”",
        "Security notice: App password “Phone” revoked",
        "Security notice: Your password was changed",
    ]
    text = bodies("alice@duckmail.test", "New-Passw0rd-here")[2]
    assert "your password was changed for your account alice@duckmail.test" in text
    assert "someone else may know your password" in text


def test_an_admin_reset_says_who_did_it(mail_stack, alice, make_member):
    admin = make_member("admin", is_staff=True, allow_reserved=True)
    twofactor.reset_two_factor(alice, actor=admin)
    notices = [s for s in subjects("alice@duckmail.test", PASSWORD) if s.startswith("Security notice")]
    # Nothing to reset (2FA was off) still leaves a trace the member can see.
    assert notices == ["Security notice: Two-factor authentication was reset"]
    assert "done by an administrator" in bodies("alice@duckmail.test", PASSWORD)[0]


def test_other_changes_send_no_notice(mail_stack, alice):
    services.add_alias(alice, "ally")
    services.request_quota(alice, 2048, "more")
    assert subjects("alice@duckmail.test", PASSWORD) == []


def test_the_change_stands_when_the_mail_server_is_down(alice, settings):
    settings.LMTP_PORT = 1  # nothing listens: the notice fails, the app password does not
    token, _secret = app_passwords.create_app_password(alice, "Laptop")
    assert app_passwords.app_passwords(alice).filter(pk=token.pk).exists()
    # The notice waits in the outbox for the sweep (tests/accounts/test_outbox.py).
    assert OutboxMail.objects.get(recipient="alice@duckmail.test", sent_at__isnull=True).attempts == 1
