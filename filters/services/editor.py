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

import datetime
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
from ..sieve import document

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


def bound_script(fs: FilterSettings) -> str:
    """The name of the script the form editor writes: its own, or one opened from elsewhere."""
    return fs.script_name or EDITOR_SCRIPT


def _vacation_of(fs: FilterSettings) -> sieve.Vacation | None:
    if not fs.vacation_enabled:
        return None
    return sieve.Vacation(
        subject=fs.vacation_subject, body=fs.vacation_body, addresses=list(fs.vacation_addresses),
        days=fs.vacation_days, start=fs.vacation_start, end=fs.vacation_end,
        seconds=fs.vacation_seconds, from_addr=fs.vacation_from,
    )


def _rule_of(r: Rule) -> sieve.SieveRule:
    return sieve.SieveRule(
        name=r.name, enabled=r.enabled, match=r.match,
        conditions=[sieve.Condition(**c) for c in r.conditions], actions=[sieve.Action(**a) for a in r.actions],
    )


def ruleset(member: Member, fs: FilterSettings | None = None) -> sieve.RuleSet:
    """The rule set the editor's rows describe (its own script's layout)."""
    fs = fs or settings_for(member)
    rules = [_rule_of(r) for r in Rule.objects.filter(member=member, kind=Rule.Kind.RULE)]
    return sieve.RuleSet(includes=list(fs.includes), spam_threshold=fs.spam_threshold, vacation=_vacation_of(fs),
                         rules=rules)


def _items(member: Member, fs: FilterSettings) -> list[document.Item]:
    """The rows of a script opened from elsewhere, as document items (see filters.sieve.document)."""
    items = []
    for r in Rule.objects.filter(member=member):
        src = r.source or {}
        item = document.Item(kind=r.kind, text=r.original, lead=src.get("lead", ""), tail=src.get("tail", ""),
                             branch=src.get("branch", ""), name_style=src.get("name_style", ""),
                             label=src.get("label", ""), caps=list(src.get("caps", [])))
        if r.kind == Rule.Kind.RULE:
            item.rule = _rule_of(r)
            if r.original and src.get("read_rule"):
                read = src["read_rule"]
                item.read_rule = sieve.SieveRule(
                    name=read["name"], enabled=read["enabled"], match=read["match"],
                    conditions=[sieve.Condition(**c) for c in read["conditions"]],
                    actions=[sieve.Action(**a) for a in read["actions"]])
        elif r.kind == Rule.Kind.VACATION:
            item.vacation = _vacation_of(fs)
            if r.original and src.get("read_vacation"):
                v = dict(src["read_vacation"])
                for key in ("start", "end"):
                    v[key] = datetime.date.fromisoformat(v[key]) if v.get(key) else None
                item.read_vacation = sieve.Vacation(**v)
        items.append(item)
    if fs.vacation_enabled and not any(i.kind == Rule.Kind.VACATION for i in items):
        # A reply turned on for a script that had none: after its require lines.
        at = max((k + 1 for k, i in enumerate(items) if i.kind == Rule.Kind.REQUIRE), default=0)
        items.insert(at, document.Item(kind="vacation", vacation=_vacation_of(fs)))
    return items


def _cond_dict(c: sieve.Condition) -> dict:
    """A condition as its row keeps it: `part` only when set (rows from before it had none)."""
    d = asdict(c)
    if not d["part"]:
        del d["part"]
    return d


def _action_dict(a: sieve.Action) -> dict:
    d = asdict(a)
    if not d["create"]:
        del d["create"]
    return d


def _item_row(member: Member, position: int, item: document.Item) -> Rule:
    src = {"lead": item.lead, "tail": item.tail, "branch": item.branch, "name_style": item.name_style,
           "label": item.label, "caps": item.caps}
    row = Rule(member=member, position=position, kind=item.kind, original=item.text, source=src,
               name=item.label[:100] or item.kind, enabled=True, actions=[], conditions=[])
    if item.kind == "rule":
        rule = item.rule
        row.name, row.enabled, row.match = rule.name[:100], rule.enabled, rule.match
        row.conditions = [_cond_dict(c) for c in rule.conditions]
        row.actions = [_action_dict(a) for a in rule.actions]
        src["read_rule"] = {**asdict(item.read_rule), "name": rule.name[:100]}
        row.name = rule.name[:100]
    elif item.kind == "vacation":
        v = asdict(item.read_vacation)
        v["start"] = v["start"].isoformat() if v["start"] else None
        v["end"] = v["end"].isoformat() if v["end"] else None
        src["read_vacation"] = v
        row.name = "Automatic reply"
    return row


def hand_written_active(listing: managesieve.ScriptList, bound: str = EDITOR_SCRIPT) -> str | None:
    """The name of the active script when it is one written by hand (raw editor, upload,
    sieve-connect): neither the script the form editor writes (`bound`) nor the service's
    default rules."""
    if listing.default_active or not listing.active or listing.active == bound:
        return None
    return listing.active


def active_hand_written_script(member: Member) -> str | None:
    """The member's active hand-written script (see `hand_written_active`), or None."""
    bound = bound_script(settings_for(member))
    with mailaccess.sieve(member) as s:
        return hand_written_active(s.list(), bound)


def overview(member: Member) -> dict:
    """What the Filters page shows about the server side: scripts, and the editor's script state.

    `hand_written` names the active hand-written script, if one is active: then the
    editor's rules, spam threshold and automatic reply are saved but not in use.

    `editor_changed` is True when the editor's script on the server is not the one the
    editor last wrote; `editor_parsed` is then the rule set it describes, or None (with
    `editor_problem`) when the form editor can not represent it.
    """
    fs = settings_for(member)
    bound = bound_script(fs)
    with mailaccess.sieve(member) as s:
        listing = s.list()
        server_text = s.get(bound) if bound in listing.names else None
    state = {"scripts": listing, "editor_changed": False, "editor_parsed": None, "editor_problem": "",
             "hand_written": hand_written_active(listing, bound), "bound": bound, "foreign": bool(fs.script_name)}
    if fs.script_name:
        # A script opened from elsewhere: changed since it was opened (or saved) here?
        state["editor_changed"] = server_text != fs.last_script
        return state
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
    bound = bound_script(fs)
    if fs.script_name:
        try:
            text = document.render(_items(member, fs))
        except ValueError as exc:
            raise ValidationError(str(exc))
    else:
        text = sieve.generate(ruleset(member, fs))
    try:
        with mailaccess.sieve(member) as s:
            replaced = hand_written_active(s.list(), bound)
            s.put(bound, text)
            s.activate(bound)
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
    if not fs.script_name:
        # Flags first: imap4flags' addflag only affects the deliveries that come after it.
        # (A script opened from elsewhere keeps the order it has: it means what it says.)
        actions = sorted(actions, key=lambda a: a["kind"] not in sieve.FLAG_ACTIONS)
    actions = [{**a, "arg": sieve.normalize_multiline(a["arg"])} if a["kind"] in sieve.TEXT_ACTIONS else a
               for a in actions]
    if not conditions:
        match = "all"  # all mail: see filters.sieve.write._rule_block
    if rule is None:
        last = Rule.objects.filter(member=member).aggregate(m=Max("position"))["m"]
        rule = Rule(member=member, position=0 if last is None else last + 1)
        if fs.script_name:
            # Named the way the script names its other rules (Roundcube's way if it names none).
            styles = [r.source.get("name_style") for r in Rule.objects.filter(member=member, kind=Rule.Kind.RULE)]
            rule.source = {"name_style": next((st for st in styles if st), "roundcube")}
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
    if rule.in_chain:
        raise ValidationError("This rule is one branch of an if/elsif/else chain: edit it, or change the chain "
                              "in the raw editor.")
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
    if rule.in_chain or other.in_chain or other.kind == Rule.Kind.REQUIRE:
        raise ValidationError("Rules of an if/elsif/else chain keep their place (the raw editor can change it).")
    other.position, rule.position = rule.position, other.position
    other.save(update_fields=["position"])
    rule.save(update_fields=["position"])
    _publish(member, fs)


@transaction.atomic
def save_options(member: Member, *, includes: Iterable[str], spam_threshold: int | None) -> str | None:
    """The global rules to include and the spam threshold (None: off).

    Returns the name of the hand-written script this replaced as the active one, or None."""
    fs = _locked_settings(member)
    if fs.script_name:
        raise ValidationError(f"Spam settings belong to the form editor's own script; “{fs.script_name}” "
                              "handles spam in its own rules.")
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
             conditions=[_cond_dict(c) for c in r.conditions], actions=[_action_dict(a) for a in r.actions])
        for i, r in enumerate(rs.rules)
    )
    audit(AuditAction.FILTERS_IMPORTED, actor=member, member=member, rules=len(rs.rules))
    return rs


@transaction.atomic
def open_script(member: Member, name: str) -> list[document.Item]:
    """Open one of the member's scripts in the form editor: its rules as editor rows, whatever
    does not fit as raw blocks in their place. From now on the editor writes that script back
    (same name); nothing on the server changes until a rule is saved. The editor's previous
    rows are replaced (its own script stays on the server and can be opened again)."""
    fs = _locked_settings(member)
    with mailaccess.sieve(member) as s:
        if name not in s.list().names:
            raise managesieve.SieveRefused(f"no script {name!r}")
        text = s.get(name)
    items = document.read(text)
    Rule.objects.filter(member=member).delete()
    Rule.objects.bulk_create(_item_row(member, i, item) for i, item in enumerate(items))
    vac = next((i.vacation for i in items if i.kind == "vacation"), None)
    fs.script_name = name
    fs.includes, fs.spam_threshold = [], None
    fs.vacation_enabled = vac is not None
    if vac is not None:
        fs.vacation_subject, fs.vacation_body, fs.vacation_addresses = vac.subject, vac.body, vac.addresses
        fs.vacation_days, fs.vacation_start, fs.vacation_end = vac.days, vac.start, vac.end
        fs.vacation_seconds, fs.vacation_from = vac.seconds, vac.from_addr
    fs.last_script = text
    fs.saved_at = timezone.now()
    fs.save()
    audit(AuditAction.FILTERS_IMPORTED, actor=member, member=member, script=name,
          rules=sum(i.kind == "rule" for i in items), raw=sum(i.kind == "raw" for i in items))
    return items


@transaction.atomic
def close_script(member: Member) -> None:
    """Back to the form editor's own script: its rows are read from it again if the editor can
    (else they start empty). The script that was open stays on the server as it is."""
    fs = _locked_settings(member)
    Rule.objects.filter(member=member).delete()
    fs.script_name = ""
    fs.vacation_enabled, fs.vacation_seconds, fs.vacation_from = False, None, ""
    fs.last_script, fs.saved_at = "", None
    fs.includes = list(GlobalRule.objects.filter(offered=True, included_by_default=True).values_list("name", flat=True))
    fs.save()
    with mailaccess.sieve(member) as s:
        own = s.get(EDITOR_SCRIPT) if EDITOR_SCRIPT in s.list().names else None
    if own is not None:
        try:
            import_editor_script(member)
        except sieve.NotRepresentable:
            pass
