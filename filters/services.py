"""State changes for Sieve filters: the form editor's rules, raw scripts, global rules.

The member's scripts live on Dovecot and are changed only through ManageSieve
(duckmail.lib.managesieve); folder lists come over IMAP (duckmail.lib.imap). Changes to
the editor's rows and the upload of the script they produce happen in one transaction:
if Dovecot refuses or can not be reached, the rows are rolled back, so the database never
describes a script the server does not have.

Sessions come from accounts.mailaccess, as the member (the web request's, or a worker's
through the master user). Every function that talks to Dovecot may raise
BackendUnavailable; the views turn it into a clear page (or keep the member's form, with
a message).
"""

from __future__ import annotations

import logging
import re
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
from mailstack import globalsieve

from . import sieve
from .models import FilterSettings, GlobalRule, Rule
from .sieve import sievelib_ext

log = logging.getLogger(__name__)

# The script the form editor writes (what Roundcube calls "roundcube").
EDITOR_SCRIPT = "duckmail"
SCRIPT_NAME_RE = re.compile(r"^[\w][\w .-]{0,63}$")
MAX_SCRIPT_BYTES = 64 * 1024

class ScriptNotFound(Exception):
    """The member has no script by that name (views answer 404)."""


# Reading ---------------------------------------------------------------------------


def settings_for(member: Member) -> FilterSettings:
    """The member's editor settings; new ones include the global rules ticked by default."""
    fs = FilterSettings.objects.filter(member=member).first()
    if fs is None:
        defaults = list(GlobalRule.objects.filter(offered=True, included_by_default=True).values_list("name", flat=True))
        fs, _ = FilterSettings.objects.get_or_create(member=member, defaults={"includes": defaults})
    return fs


def offered_global_rules() -> list[GlobalRule]:
    return list(GlobalRule.objects.filter(offered=True))


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
    return hand_written_active(list_scripts(member))


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


# The form editor ---------------------------------------------------------------------


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


# Raw scripts -------------------------------------------------------------------------


def check_script_name(name: str) -> str:
    name = name.strip()
    if name.lower().endswith((".sieve", ".siv")):
        name = name.rsplit(".", 1)[0].strip()
    if not SCRIPT_NAME_RE.match(name):
        raise ValidationError("Use letters, digits, spaces and . _ - (at most 64 characters).")
    if name == managesieve.DEFAULT_SCRIPT_NAME:
        raise ValidationError(f"“{name}” is the name of the server's default rules. Please choose another.")
    return name


def list_scripts(member: Member) -> managesieve.ScriptList:
    with mailaccess.sieve(member) as s:
        return s.list()


def get_script(member: Member, name: str) -> str | None:
    """The text of one of the member's scripts, or None if they have none by that name."""
    with mailaccess.sieve(member) as s:
        if name not in s.list().names and name != managesieve.DEFAULT_SCRIPT_NAME:
            return None
        return s.get(name)


def sievelib_problem(text: str) -> str:
    """Why sievelib can not read a script ('' if it can). Advisory: Dovecot decides validity."""
    try:
        sievelib_ext.parse(text)
    except sievelib_ext.ParseFailed as exc:
        return exc.message
    return ""


def save_script(member: Member, name: str, text: str, *, activate: bool = False) -> list[str]:
    """Store a raw script (checked by the server first); return the server's warnings.

    Raises managesieve.ScriptInvalid with the server's message and line: then nothing was
    stored, and whatever script was active stays active, unchanged.
    """
    if len(text.encode("utf-8")) > MAX_SCRIPT_BYTES:
        raise ValidationError(f"A script can be at most {MAX_SCRIPT_BYTES // 1024} KB.")
    with mailaccess.sieve(member) as s:
        result = s.put(name, text)
        if activate:
            s.activate(name)
    audit(AuditAction.FILTERS_SCRIPT_SAVED, actor=member, member=member, script=name, activated=activate)
    return result.warnings


def activate_script(member: Member, name: str | None) -> None:
    """Make `name` the active script; None deactivates them all (the default rules apply again)."""
    with mailaccess.sieve(member) as s:
        if name is not None and name not in s.list().names:
            raise ScriptNotFound(name)
        s.activate(name)
    audit(AuditAction.FILTERS_SCRIPT_ACTIVATED, actor=member, member=member, script=name)


def delete_script(member: Member, name: str) -> None:
    with mailaccess.sieve(member) as s:
        listing = s.list()
        if name not in listing.names:
            raise ScriptNotFound(name)
        if listing.active == name:
            raise ValidationError("This script is active. Activate another one (or the default rules) first.")
        s.delete(name)
    if name == EDITOR_SCRIPT:
        FilterSettings.objects.filter(member=member).update(last_script="", saved_at=None)
    audit(AuditAction.FILTERS_SCRIPT_DELETED, actor=member, member=member, script=name)


# Global rules (admin) ----------------------------------------------------------------

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
