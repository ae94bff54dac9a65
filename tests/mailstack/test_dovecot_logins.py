"""Members log in to the real Dovecot (IMAP, POP3, ManageSieve) with the password they chose on the
sign-up page, are refused with a wrong one or once disabled, and find the special folders there."""

import imaplib
import poplib

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Member
from tests.helpers import PASSWORD, imap_login, managesieve_login, pop3_login

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_who_signed_up_logs_in_over_imap_pop3_and_managesieve(client, mail_stack):
    response = client.post(reverse("signup"), {"local_part": "Dana", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    imap = imap_login("dana@duckmail.test", PASSWORD)
    assert imap.select("INBOX")[0] == "OK"
    imap.logout()
    pop3_login("dana@duckmail.test", PASSWORD).quit()
    assert managesieve_login("dana@duckmail.test", PASSWORD)


def test_a_wrong_password_is_refused_everywhere(mail_stack, alice):
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        imap_login("alice@duckmail.test", "wrong-password")
    with pytest.raises(poplib.error_proto):
        pop3_login("alice@duckmail.test", "wrong-password")
    assert not managesieve_login("alice@duckmail.test", "wrong-password")


def test_a_disabled_member_is_refused_everywhere_and_kicked(mail_stack, alice):
    open_session = imap_login("alice@duckmail.test", PASSWORD)
    services.set_member_active(Member.objects.get(pk=alice.pk), False, actor=None)
    with pytest.raises(imaplib.IMAP4.error, match="disabled"):
        imap_login("alice@duckmail.test", PASSWORD)
    with pytest.raises(poplib.error_proto):
        pop3_login("alice@duckmail.test", PASSWORD)
    assert not managesieve_login("alice@duckmail.test", PASSWORD)
    # The session that was open when the admin disabled her is gone.
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        open_session.noop()
        open_session.noop()
    services.set_member_active(Member.objects.get(pk=alice.pk), True, actor=None)
    imap_login("alice@duckmail.test", PASSWORD).logout()


def test_special_folders_exist_at_first_login(mail_stack, alice):
    imap = imap_login("alice@duckmail.test", PASSWORD)
    typ, folders = imap.list()
    imap.logout()
    listed = {line.decode() for line in folders}
    for name, flag in (("Junk", "\\Junk"), ("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash")):
        assert any(line.endswith(f'"/" {name}') and flag in line for line in listed), listed
    imap = imap_login("alice@duckmail.test", PASSWORD)
    _, subscribed = imap.lsub()
    imap.logout()
    assert {line.decode().rsplit(" ", 1)[1] for line in subscribed} >= {"Junk", "Sent", "Drafts", "Trash"}
