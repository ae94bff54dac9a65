"""The member's model in PostgreSQL: learning, retraining, forgetting, the prior."""

from pathlib import Path

import pytest
from django.core.management import call_command

from antispam import services, storage
from antispam.models import Fingerprint, PriorToken, PriorTotals, TokenCount

pytestmark = pytest.mark.django_db

PRIOR = Path(__file__).parent / "fixtures" / "prior"


def mail(subject: str, body: str, sender: str = "someone@example.org") -> bytes:
    return f"From: {sender}\nTo: alice@duckmail.test\nSubject: {subject}\n\n{body}\n".encode()


SPAMMY = mail("cheap viagra", "click now for free money and cheap viagra", "promo@spammer.example")
HAMMY = mail("project meeting", "the agenda for tomorrow's project meeting", "bob@colleague.example")


def count(member, token: str) -> tuple[int, int] | None:
    """The member's (spam, ham) count of *token* in the database."""
    return TokenCount.objects.filter(member=member, token=storage.token_hash(token)).values_list("spam", "ham").first()


def test_it_learns_counts_into_the_database(alice):
    assert services.learn(alice, SPAMMY, spam=True)
    assert count(alice, "viagra") == (1, 0)
    assert count(alice, "from:addr:promo@spammer.example") == (1, 0)
    assert services.trained(alice) == (1, 0)


def test_learning_the_same_message_twice_counts_once(alice):
    services.learn(alice, SPAMMY, spam=True)
    # The same message delivered again (other Received lines, our own X-Spam header) is the same message.
    again = b"Received: from elsewhere\nX-Spam-Status: Yes, score=90\n" + SPAMMY
    assert not services.learn(alice, again, spam=True)
    assert count(alice, "viagra") == (1, 0)
    assert services.trained(alice) == (1, 0)


def test_learning_it_as_the_other_class_moves_it(alice):
    services.learn(alice, SPAMMY, spam=True)
    assert services.learn(alice, SPAMMY, spam=False)
    assert count(alice, "viagra") == (0, 1)
    assert services.trained(alice) == (0, 1)
    assert Fingerprint.objects.get(member=alice).spam is False
    services.learn(alice, SPAMMY, spam=True)
    assert count(alice, "viagra") == (1, 0) and services.trained(alice) == (1, 0)


def test_unlearning_leaves_no_trace(alice):
    services.learn(alice, SPAMMY, spam=True)
    assert services.unlearn(alice, SPAMMY)
    assert not TokenCount.objects.filter(member=alice).exists()
    assert services.trained(alice) == (0, 0)
    assert not services.unlearn(alice, SPAMMY)


def test_forget_resets_the_members_model(alice):
    services.learn(alice, SPAMMY, spam=True)
    services.learn(alice, HAMMY, spam=False)
    services.forget(alice)
    assert services.trained(alice) == (0, 0)
    assert not TokenCount.objects.filter(member=alice).exists()
    assert not Fingerprint.objects.filter(member=alice).exists()
    assert not services.score(alice, SPAMMY).is_spam


def test_one_members_learning_never_changes_anothers_score(alice, bob):
    call_command("train_prior", str(PRIOR), stdout=open("/dev/null", "w"))
    services.learn(bob, mail("loans", "cheap loans lottery"), spam=True)
    services.learn(bob, HAMMY, spam=False)
    before = services.score(bob, SPAMMY)
    assert before.is_spam
    # Alice wants these words: her model learns them as ham, over and over.
    for i in range(30):
        services.learn(alice, mail(f"cheap viagra {i}", f"click now for free money and cheap viagra {i}"), spam=False)
    assert services.score(alice, SPAMMY).score < before.score
    assert services.score(bob, SPAMMY) == before
    assert services.trained(bob) == (1, 1)


def test_a_new_member_is_scored_by_the_prior(alice):
    call_command("train_prior", str(PRIOR), stdout=open("/dev/null", "w"))
    verdict = services.score(alice, SPAMMY)
    assert verdict.is_spam and verdict.uses_prior
    assert "viagra" in {t for t, _ in verdict.why[0]}
    assert not services.score(alice, HAMMY).is_spam


def test_the_members_own_counts_take_over_as_they_grow(alice, settings):
    settings.ANTISPAM_MIN_TRAINED_SPAM = settings.ANTISPAM_MIN_TRAINED_HAM = 5
    call_command("train_prior", str(PRIOR), stdout=open("/dev/null", "w"))
    # Alice's "viagra" mail is wanted (she runs a pharmacy); the prior says spam.
    wanted = mail("viagra order", "your viagra order and cheap pills", "orders@pharmacy.example")
    assert services.score(alice, wanted).is_spam
    scores = []
    for i in range(5):
        services.learn(alice, mail(f"viagra order {i}", f"your viagra order {i} and cheap pills",
                                   "orders@pharmacy.example"), spam=False)
        services.learn(alice, mail(f"loan {i}", f"cheap loans now {i} lottery", "x@lottery.example"), spam=True)
        scores.append(services.score(alice, wanted).score)
    assert scores == sorted(scores, reverse=True)  # each training moves it further from the prior
    verdict = services.score(alice, wanted)
    assert not verdict.is_spam and not verdict.uses_prior


def test_verdicts_follow_the_threshold_settings(alice, settings):
    call_command("train_prior", str(PRIOR), stdout=open("/dev/null", "w"))
    settings.ANTISPAM_DESTROY_THRESHOLD = 0.0
    verdict = services.score(alice, SPAMMY)
    assert verdict.is_spam and verdict.is_certain
    settings.ANTISPAM_SPAM_THRESHOLD = 100.1
    assert not services.score(alice, SPAMMY).is_spam


def test_train_prior_replaces_the_prior(capsys):
    call_command("train_prior", str(PRIOR))
    assert "3 spam, 3 ham" in capsys.readouterr().out
    first = PriorToken.objects.count()
    call_command("train_prior", str(PRIOR))
    totals = PriorTotals.objects.get()
    assert (totals.spam, totals.ham) == (3, 3) and PriorToken.objects.count() == first
    assert PriorToken.objects.get(token=storage.token_hash("viagra")).spam == 2


def test_train_prior_refuses_a_directory_without_spam_and_ham(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="spam/ and ham/"):
        call_command("train_prior", str(tmp_path))


def test_a_deleted_members_model_goes_with_them(alice, bob):
    services.learn(alice, SPAMMY, spam=True)
    services.learn(bob, SPAMMY, spam=True)
    alice.delete()
    assert not TokenCount.objects.filter(member_id=alice.pk).exists()
    assert not Fingerprint.objects.filter(member_id=alice.pk).exists()
    assert count(bob, "viagra") == (1, 0)


@pytest.mark.django_db(transaction=True)
def test_two_workers_training_the_same_message_at_once_count_it_once(alice):
    import threading

    from django.db import connection

    barrier = threading.Barrier(4)
    results = []

    def train():
        try:
            barrier.wait()
            results.append(services.learn(alice, SPAMMY, spam=True))
        finally:
            connection.close()

    threads = [threading.Thread(target=train) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert count(alice, "viagra") == (1, 0) and services.trained(alice) == (1, 0)
