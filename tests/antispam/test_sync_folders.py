"""SyncSPAM and SyncHAM against the real Dovecot: what a member copies there is learned as
spam or ham by the workers' periodic task and removed; other folders are left alone."""

import pytest

from antispam import services, tasks
from tests.webmail.conftest import mail, own_imap

pytestmark = pytest.mark.django_db(transaction=True)


def count(client, folder: str) -> int:
    return client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]


def test_copied_mail_is_learned_then_removed_and_the_rest_is_untouched(mail_stack, alice, bob):
    client = own_imap(alice)
    client.create_folder("SyncSPAM")
    client.create_folder("syncham")  # any case
    for n in range(3):
        client.append("SyncSPAM", mail(f"Cheap pills {n}", body="Buy cheap pills now, limited offer!\n"))
    client.append("syncham", mail("Minutes of the garden club", body="The next meeting is on Tuesday.\n"))
    client.append("INBOX", mail("Keep me"))
    assert services.trained(alice) == (0, 0)

    assert tasks.train_all_sync_folders() == 2  # alice and bob; eager in tests: both ran

    assert services.trained(alice) == (3, 1) and services.trained(bob) == (0, 0)
    assert count(client, "SyncSPAM") == 0 and count(client, "syncham") == 0 and count(client, "INBOX") == 1
    # The same messages copied again are not counted twice.
    client.append("SyncSPAM", mail("Cheap pills 0", body="Buy cheap pills now, limited offer!\n"))
    assert tasks.train_sync_folders.delay(alice.pk).get() == 1
    assert services.trained(alice) == (3, 1) and count(client, "SyncSPAM") == 0
    client.logout()


def test_a_member_without_sync_folders_has_nothing_to_do(mail_stack, alice):
    assert tasks.train_sync_folders.delay(alice.pk).get() == 0
