"""What the learning filter keeps: per-member token counts, trained totals and the fingerprints
of trained messages, and the site-wide prior (same shape, no member).

Tokens are stored as a signed 64-bit hash of their text (:func:`antispam.storage.token_hash`):
a member's model is a few hundred thousand small rows, not strings. A collision merges two
tokens' counts, which at 2^64 never matters.
"""

from django.conf import settings
from django.db import models


class TokenCount(models.Model):
    """How many of the spam and ham messages a member trained contain the token."""

    # No surrogate id: one index and no sequence to maintain on each of the hundreds of rows
    # a training upserts; and no foreign-key constraint, whose per-row check at commit would
    # cost as much as the upsert itself (Django's on_delete still deletes a member's rows).
    pk = models.CompositePrimaryKey("member", "token")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False,
                               db_constraint=False)
    token = models.BigIntegerField()
    spam = models.IntegerField(default=0)
    ham = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"token {self.token}: {self.spam} spam, {self.ham} ham"


class TrainedTotals(models.Model):
    """How many spam and ham messages a member trained."""

    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                  related_name="+")
    spam = models.IntegerField(default=0)
    ham = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.spam} spam, {self.ham} ham trained"


class Fingerprint(models.Model):
    """A message a member trained, and as what: never counted twice, retrained when moved back."""

    pk = models.CompositePrimaryKey("member", "digest")
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    digest = models.BigIntegerField()
    spam = models.BooleanField()
    learned_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"message {self.digest} as {'spam' if self.spam else 'ham'}"


class PriorToken(models.Model):
    token = models.BigIntegerField(primary_key=True)
    spam = models.IntegerField(default=0)
    ham = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"prior token {self.token}: {self.spam} spam, {self.ham} ham"


class PriorTotals(models.Model):
    """The site-wide prior's trained totals (one row, id 1)."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    spam = models.IntegerField(default=0)
    ham = models.IntegerField(default=0)
    trained_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"prior: {self.spam} spam, {self.ham} ham"
