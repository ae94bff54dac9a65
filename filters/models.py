"""What the form editor needs to rebuild a member's Sieve script, and the global rules.

The Sieve scripts themselves live on Dovecot (stored through ManageSieve); these rows are
the editor's model of the script it writes (see filters.sieve), so that it can show and
change one rule without re-reading Sieve.
"""

import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from . import sieve

GLOBAL_NAME_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]{0,62}$", "Use lower-case letters, digits, “_” and “-” (it becomes a file name)."
)


class GlobalRule(models.Model):
    """A Sieve script in Dovecot's global directory, included with `include :global "name"`."""

    name = models.CharField(max_length=63, unique=True, validators=[GLOBAL_NAME_VALIDATOR])
    description = models.CharField(max_length=200, help_text="Shown to members next to the checkbox.")
    script = models.TextField(help_text="Sieve. Checked with sievec before it replaces the installed one.")
    offered = models.BooleanField("offered in the form editor", default=True)
    included_by_default = models.BooleanField(
        default=False, help_text="Ticked for members who have not saved filters yet."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class FilterSettings(models.Model):
    """One per member: the editor's script-wide choices and its last upload."""

    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="filter_settings")
    includes = models.JSONField(default=list, blank=True, help_text="Names of included global rules.")
    spam_threshold = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(99)]
    )
    vacation_enabled = models.BooleanField(default=False)
    vacation_subject = models.CharField(max_length=200, blank=True)
    vacation_body = models.TextField(blank=True)
    vacation_addresses = models.JSONField(default=list, blank=True)
    vacation_days = models.PositiveSmallIntegerField(default=7, validators=[MinValueValidator(1), MaxValueValidator(30)])
    vacation_start = models.DateField(null=True, blank=True)
    vacation_end = models.DateField(null=True, blank=True)
    # Kept as a script opened from elsewhere says (the form offers days only).
    vacation_seconds = models.PositiveIntegerField(null=True, blank=True)
    vacation_from = models.CharField(max_length=254, blank=True)
    # The script the form editor edits: "" is its own script (EDITOR_SCRIPT, in its own
    # layout); any other name is a script opened in the form editor from the raw scripts
    # (Roundcube's "roundcube", …), whose rows then include its raw blocks and which is
    # written back to that name (filters.sieve.document).
    script_name = models.CharField(max_length=70, blank=True)
    # The script text the editor last uploaded: a different one on the server means it was
    # changed elsewhere (raw editor, sieve-connect).
    last_script = models.TextField(blank=True)
    saved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "filter settings"

    def __str__(self):
        return f"filters of {self.member}"

    def vacation_state(self, today: datetime.date | None = None) -> str:
        """"off", "scheduled" (its start is still to come), "ended" (its end has passed) or "on"."""
        if not self.vacation_enabled:
            return "off"
        today = today or timezone.localdate()
        if self.vacation_start and self.vacation_start > today:
            return "scheduled"
        if self.vacation_end and self.vacation_end < today:
            return "ended"
        return "on"


class Rule(models.Model):
    """One rule of the form editor, in its script order (`position`)."""

    class Match(models.TextChoices):
        ALL = "all", "all of"
        ANY = "any", "any of"

    class Kind(models.TextChoices):
        RULE = "rule", "rule"
        RAW = "raw", "kept as written"
        REQUIRE = "require", "require"
        VACATION = "vacation", "automatic reply"

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="filter_rules")
    position = models.PositiveIntegerField()
    # Rows of a script opened from elsewhere (FilterSettings.script_name) are its items in
    # order: rules, and the raw blocks, require lines and reply around them. `original` is
    # an item's exact text as read ("" for a rule made here); `source` what writing it back
    # needs (filters.sieve.document.Item: lead, tail, branch, name_style, label, read_rule, caps).
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RULE)
    original = models.TextField(blank=True)
    source = models.JSONField(default=dict, blank=True)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    # Lists of filters.sieve.Condition / Action as dicts.
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list)

    class Meta:
        ordering = ["member", "position"]
        # Deferred: swapping two rules briefly gives both the same position.
        constraints = [
            models.UniqueConstraint(
                fields=["member", "position"], name="rule_position_unique", deferrable=models.Deferrable.DEFERRED
            )
        ]

    def __str__(self):
        return self.name

    @property
    def branch(self) -> str:
        """"if", "elsif" or "else" for a branch of an if/elsif/else chain, else ""."""
        return self.source.get("branch", "") if self.source else ""

    @property
    def in_chain(self) -> bool:
        return bool(self.branch)

    def describe_conditions(self) -> str:
        """The conditions in words, for the rule list."""
        fields, ops = sieve.FIELD_LABELS, sieve.OP_LABELS
        if not self.conditions:
            return "all mail"
        parts = []
        for c in self.conditions:
            subject = c.get("header") if c["field"] == "header" else fields.get(c["field"], c["field"])
            if c.get("part"):
                subject = f"{sieve.PART_LABELS[c['part']]} of {subject}"
            if c["field"] in sieve.NO_VALUE_FIELDS:
                parts.append(subject)
                continue
            parts.append(f"{subject} {ops.get(c['op'], c['op'])} “{c['value']}”")
        return (" and " if self.match == self.Match.ALL else " or ").join(parts)

    def describe_actions(self) -> str:
        kinds = sieve.ACTION_LABELS
        return "; ".join(f"{kinds.get(a['kind'], a['kind'])} {a['arg']}{' (created if missing)' if a.get('create') else ''}".strip()
                         for a in self.actions)
