"""Global rules: Sieve scripts admins edit, installed in Dovecot's global directory
(mailstack.globalsieve) and offered to members as checkboxes in the form editor."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction, Member
from accounts.services import audit
from mailstack import globalsieve

from ..models import FilterSettings, GlobalRule


def offered_global_rules() -> list[GlobalRule]:
    return list(GlobalRule.objects.filter(offered=True))


def global_rule_scripts() -> list[tuple[str, str]]:
    """(name, script) of every global rule, for mailstack to install with the configuration."""
    return list(GlobalRule.objects.values_list("name", "script"))


_SIEVEC_LINE_RE = re.compile(r"^(?:\S+?: )?line (\d+): (?:error: )?(.*)$")
_PATH_RE = re.compile(r"'?/[^\s']+'?")


def sievec_message(output: str) -> str:
    """sievec's complaint as an admin should read it: "line N: …" for each error, without
    the temporary file's name or path (nothing of the server's file system)."""
    errors = []
    for raw in output.splitlines():
        m = _SIEVEC_LINE_RE.match(raw.strip())
        if m:
            errors.append(f"line {m.group(1)}: {m.group(2)}")
    if errors:
        return "\n".join(errors)
    # No line numbers: keep the messages, minus file names, paths and the final "Fatal".
    rest = []
    for raw in output.splitlines():
        line = re.sub(r"^\S+?: (?:Fatal: )?", "", raw.strip())
        line = _PATH_RE.sub("", re.sub(r"^error: ", "", line)).strip()
        if line and line not in ("validation failed.", "parse failed.") and not line.startswith("failed to compile"):
            rest.append(line)
    return "\n".join(rest) or "The script does not compile."


def check_global_rule(name: str, script: str) -> None:
    """ValidationError with sievec's message ("line N: …") if the script does not compile."""
    try:
        globalsieve.install(name, script, check_only=True)
    except globalsieve.GlobalSieveInvalid as exc:
        raise ValidationError(sievec_message(str(exc)))


@transaction.atomic
def save_global_rule(rule: GlobalRule, *, actor: Member | None) -> None:
    """Save a global rule and install it in Dovecot's global directory (compiled)."""
    rule.updated_at = timezone.now()
    rule.save()
    try:
        globalsieve.install(rule.name, rule.script)
    except globalsieve.GlobalSieveInvalid as exc:
        raise ValidationError(sievec_message(str(exc)))
    audit(AuditAction.FILTERS_GLOBAL_RULE_SAVED, actor=actor, rule=rule.name)


@transaction.atomic
def delete_global_rule(rule: GlobalRule, *, actor: Member | None) -> None:
    users = FilterSettings.objects.filter(includes__contains=[rule.name]).count()
    if users or rule.name == "incoming_spam":
        raise ValidationError(
            f"“{rule.name}” is in use ({users} member(s), or the default rules): untick “offered” instead."
        )
    rule.delete()
    globalsieve.remove(rule.name)
    audit(AuditAction.FILTERS_GLOBAL_RULE_DELETED, actor=actor, rule=rule.name)
