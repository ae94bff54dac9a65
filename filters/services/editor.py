"""The form editor: its rules, spam threshold and automatic reply, and the script it writes.

The database keeps the editor's rows; the script they describe lives on Dovecot and is
changed only through ManageSieve. Changes to the rows and the upload of their script
happen in one transaction: if Dovecot refuses or can not be reached, the rows are rolled
back, so the database never describes a script the server does not have.

Sessions come from accounts.mailaccess, as the member (the web request's, or a worker's
through the master user). Every function that talks to Dovecot may raise
BackendUnavailable; the views turn it into a clear page (or keep the member's form, with
a message).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts import mailaccess
from accounts.models import Address, AuditAction, Member
from accounts.services import audit
from duckmail.lib import managesieve

from .. import sieve
from ..models import FilterSettings, GlobalRule, Rule

# The script the form editor writes (what Roundcube calls "roundcube").
EDITOR_SCRIPT = "duckmail"


# Reading ---------------------------------------------------------------------------


def settings_for(member: Member) -> FilterSettings:
    """The member's editor settings; new ones include the global rules ticked by default."""
    fs = FilterSettings.objects.filter(member=member).first()
    if fs is None:
        defaults = list(GlobalRule.objects.filter(offered=True, included_by_default=True).values_list("name", flat=True))
        fs, _ = FilterSettings.objects.get_or_create(member=member, defaults={"includes": defaults})
    return fs


def member_addresses(member: Member) -> list[str]:
    """Addresses a vacation reply may answer for: the mailbox and its aliases."""
    return [
        a.email
        for a in member.addresses.select_related("domain").filter(kind__in=[Address.Kind.MAILBOX, Address.Kind.ALIAS])
    ]


def member_folders(member: Member) -> list[str]:
    """The member's own IMAP folders (not other members' shared ones), INBOX first."""
    with mailaccess.imap(member) as client:
        listing = client.list_folders()
    names = []
    for flags, _delimiter, name in listing:
        if any(f.lower() == b"\\noselect" for f in flags) or name.startswith("#"):
            continue
        names.append(name)
    return sorted(names, key=lambda n: (n != "INBOX", n.lower()))


def ruleset(member: Member, fs: FilterSettings | None = None) -> sieve.RuleSet:
    """The rule set the editor's rows describe."""
    fs = fs or settings_for(member)
    vacation = None
    if fs.vacation_enabled:
        vacation = sieve.Vacation(
            subject=fs.vacation_subject, body=fs.vacation_body, addresses=list(fs.vacation_addresses),
            days=fs.vacation_days, start=fs.vacation_start, end=fs.vacation_end,
        )
    rules = [
        sieve.SieveRule(
            name=r.name, enabled=r.enabled, match=r.match,
            conditions=[sieve.Condition(**c) for c in r.conditions], actions=[sieve.Action(**a) for a in r.actions],
        )
        for r in Rule.objects.filter(member=member)
    ]
    return sieve.RuleSet(includes=list(fs.includes), spam_threshold=fs.spam_threshold, vacation=vacation, rules=rules)


def hand_written_active(listing: managesieve.ScriptList) -> str | None:
    """The name of the active script when it is one written by hand (raw editor, upload,
    sieve-connect): neither the form editor's script nor the service's default rules."""
    if listing.default_active or not listing.active or listing.active == EDITOR_SCRIPT:
        return None
    return listing.active


def active_hand_written_script(member: Member) -> str | None:
    """The member's active hand-written script (see `hand_written_active`), or None."""
    with mailaccess.sieve(member) as s:
        return hand_written_active(s.list())


def overview(member: Member) -> dict:
    """What the Filters page shows about the server side: scripts, and the editor's script state.

    `hand_written` names the active hand-written script, if one is active: then the
    editor's rules, spam threshold and automatic reply are saved but not in use.

    `editor_changed` is True when the editor's script on the server is not the one the
    editor last wrote; `editor_parsed` is then the rule set it describes, or None (with
    `editor_problem`) when the form editor can not represent it.
    """
    fs = settings_for(member)
    with mailaccess.sieve(member) as s:
        listing = s.list()
        server_text = s.get(EDITOR_SCRIPT) if EDITOR_SCRIPT in listing.names else None
    state = {"scripts": listing, "editor_changed": False, "editor_parsed": None, "editor_problem": "",
             "hand_written": hand_written_active(listing)}
    if server_text is not None and fs.saved_at and sieve.same_script(server_text, fs.last_script):
        return state
    if server_text is not None:
        state["editor_changed"] = True
        try:
            state["editor_parsed"] = sieve.parse(server_text)
        except sieve.NotRepresentable as exc:
            state["editor_problem"] = str(exc)
    return state


# Changes -------------------------------------------------------------------------


def _publish(member: Member, fs: FilterSettings) -> str | None:
    """Generate the editor's script, upload it and make it the active one.

    Returns the name of the hand-written script that was active until now (and no longer
    is), or None. Raises managesieve.ScriptInvalid or ValidationError (the caller's
    transaction then rolls back) or BackendUnavailable. From here on the default rules
    apply only if the script includes them.
    """
    text = sieve.generate(ruleset(member, fs))
    try:
        with mailaccess.sieve(member) as s:
            replaced = hand_written_active(s.list())
            s.put(EDITOR_SCRIPT, text)
            s.activate(EDITOR_SCRIPT)
    except managesieve.SieveRefused as exc:
        # E.g. the member's script quota is used up by raw scripts.
        raise ValidationError(f"The mail server refused to store your filters: {exc}")
    fs.last_script = text
    fs.saved_at = timezone.now()
    fs.save(update_fields=["last_script", "saved_at"])
    return replaced


def _script_error(exc: managesieve.ScriptInvalid) -> ValidationError:
    return ValidationError(f"The mail server refused these filters: {exc}")


def _locked_settings(member: Member) -> FilterSettings:
    settings_for(member)
    # One editor save at a time per member: positions and the uploaded script stay in step.
    return FilterSettings.objects.select_for_update().get(member=member)


@transaction.atomic
def save_rule(
    member: Member, rule: Rule | None, *, name: str, enabled: bool, match: str, conditions: list[dict],
    actions: list[dict],
) -> Rule:
    """Create (rule=None, appended last) or change a rule, and publish. ValidationError if refused."""
    fs = _locked_settings(member)
    # Flags first: imap4flags' addflag only affects the deliveries that come after it.
    actions = sorted(actions, key=lambda a: a["kind"] not in sieve.FLAG_ACTIONS)
    actions = [{**a, "arg": sieve.normalize_multiline(a["arg"])} if a["kind"] in sieve.TEXT_ACTIONS else a
               for a in actions]
    if not conditions:
        match = "all"  # all mail: see filters.sieve.write._rule_block
    if rule is None:
        last = Rule.objects.filter(member=member).aggregate(m=Max("position"))["m"]
        rule = Rule(member=member, position=0 if last is None else last + 1)
    rule.name, rule.enabled, rule.match = name, enabled, match
    rule.conditions, rule.actions = conditions, actions
    rule.save()
    try:
        _publish(member, fs)
    except managesieve.ScriptInvalid as exc:
        raise _script_error(exc)
    audit(AuditAction.FILTERS_RULE_SAVED, actor=member, member=member, rule=name)
    return rule


@transaction.atomic
def set_rule_enabled(rule: Rule, enabled: bool) -> None:
    fs = _locked_settings(rule.member)
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    _publish(rule.member, fs)
    audit(AuditAction.FILTERS_RULE_ENABLED if enabled else AuditAction.FILTERS_RULE_DISABLED, actor=rule.member, member=rule.member,
          rule=rule.name)


@transaction.atomic
def delete_rule(rule: Rule) -> None:
    member = rule.member
    fs = _locked_settings(member)
    position = rule.position
    rule.delete()
    Rule.objects.filter(member=member, position__gt=position).update(position=F("position") - 1)
    _publish(member, fs)
    audit(AuditAction.FILTERS_RULE_DELETED, actor=member, member=member, rule=rule.name)


@transaction.atomic
def move_rule(rule: Rule, offset: int) -> None:
    """Move a rule up (-1) or down (+1) in the script; at either end nothing changes."""
    member = rule.member
    fs = _locked_settings(member)
    other = Rule.objects.filter(member=member, position=rule.position + offset).first()
    if other is None:
        return
    other.position, rule.position = rule.position, other.position
    other.save(update_fields=["position"])
    rule.save(update_fields=["position"])
    _publish(member, fs)


@transaction.atomic
def save_options(member: Member, *, includes: Iterable[str], spam_threshold: int | None) -> str | None:
    """The global rules to include and the spam threshold (None: off).

    Returns the name of the hand-written script this replaced as the active one, or None."""
    fs = _locked_settings(member)
    known = set(GlobalRule.objects.filter(offered=True).values_list("name", flat=True))
    unknown = set(includes) - known
    if unknown:
        raise ValidationError(f"Unknown global rule: {', '.join(sorted(unknown))}.")
    fs.includes = [name for name in sorted(known) if name in set(includes)]
    fs.spam_threshold = spam_threshold
    fs.save(update_fields=["includes", "spam_threshold"])
    try:
        replaced = _publish(member, fs)
    except managesieve.ScriptInvalid as exc:
        raise _script_error(exc)
    audit(AuditAction.FILTERS_OPTIONS_SAVED, actor=member, member=member, includes=fs.includes, spam_threshold=spam_threshold)
    return replaced


@transaction.atomic
def save_vacation(member: Member, *, enabled: bool, subject: str, body: str, addresses: list[str], days: int,
                  start=None, end=None) -> str | None:
    """The auto-reply. Its addresses must be the member's own (mailbox or aliases).

    Returns the name of the hand-written script this replaced as the active one, or None."""
    own = set(member_addresses(member))
    if set(addresses) - own:
        raise ValidationError("A vacation reply can only answer for your own addresses.")
    fs = _locked_settings(member)
    fs.vacation_enabled, fs.vacation_subject, fs.vacation_body = enabled, subject, sieve.normalize_multiline(body)
    fs.vacation_addresses, fs.vacation_days = list(addresses), days
    fs.vacation_start, fs.vacation_end = start, end
    fs.save()
    try:
        replaced = _publish(member, fs)
    except managesieve.ScriptInvalid as exc:
        raise _script_error(exc)
    audit(AuditAction.FILTERS_VACATION_SAVED, actor=member, member=member, enabled=enabled)
    return replaced


@transaction.atomic
def import_editor_script(member: Member) -> sieve.RuleSet:
    """Load the editor's script as it is on the server (changed elsewhere) into the editor.

    Raises sieve.NotRepresentable if the form editor can not show it (use the raw editor).
    """
    fs = _locked_settings(member)
    with mailaccess.sieve(member) as s:
        text = s.get(EDITOR_SCRIPT)
    rs = sieve.parse(text)
    fs.includes = rs.includes
    fs.spam_threshold = rs.spam_threshold
    fs.vacation_enabled = rs.vacation is not None
    if rs.vacation is not None:
        v = rs.vacation
        fs.vacation_subject, fs.vacation_body, fs.vacation_addresses = v.subject, v.body, v.addresses
        fs.vacation_days, fs.vacation_start, fs.vacation_end = v.days, v.start, v.end
    fs.last_script = text
    fs.saved_at = timezone.now()
    fs.save()
    Rule.objects.filter(member=member).delete()
    Rule.objects.bulk_create(
        Rule(member=member, position=i, name=r.name, enabled=r.enabled, match=r.match,
             conditions=[asdict(c) for c in r.conditions], actions=[asdict(a) for a in r.actions])
        for i, r in enumerate(rs.rules)
    )
    audit(AuditAction.FILTERS_IMPORTED, actor=member, member=member, rules=len(rs.rules))
    return rs
