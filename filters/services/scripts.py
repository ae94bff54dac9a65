"""Hand-written Sieve scripts (the raw editor, uploads, sieve-connect): stored, checked and
activated on Dovecot over ManageSieve; the server decides what is valid.

Sessions come from accounts.mailaccess, as the member (the web request's, or a worker's
through the master user). Every function that talks to Dovecot may raise
BackendUnavailable; the views turn it into a clear page (or keep the member's form, with
a message).
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from django.core.exceptions import ValidationError

from accounts import mailaccess, senders
from accounts.models import AuditAction, Member
from accounts.services import audit
from duckmail.lib import managesieve

from ..models import FilterSettings
from ..sieve import document, sievelib_ext
from .editor import EDITOR_SCRIPT

SCRIPT_NAME_RE = re.compile(r"^[\w][\w .-]{0,63}$")
MAX_SCRIPT_BYTES = 64 * 1024


class ScriptNotFound(Exception):
    """The member has no script by that name (views answer 404)."""


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
    check_senders(member, text)
    with mailaccess.sieve(member) as s:
        result = s.put(name, text)
        if activate:
            s.activate(name)
    audit(AuditAction.FILTERS_SCRIPT_SAVED, actor=member, member=member, script=name, activated=activate)
    return result.warnings


def check_senders(member: Member, text: str) -> None:
    """Refuse a script whose automatic replies or notifications would be sent as someone else.

    Postfix's From: check (accounts/senders.py) refuses such mail anyway; saying so here,
    with the line, beats replies that silently never leave. Same rule, same source."""
    named = [(line, command, value, parseaddr(value)[1]) for line, command, value in document.sent_from(text)
             if "${" not in value]  # a variable is only known at delivery: the From: check decides then
    table = senders.owners(address for *_, address in named if address)
    for line, command, value, address in named:
        if not address or member.email.lower() not in table.get(address, set()):
            raise ValidationError(f'Line {line}: {command} :from "{value}" is not one of your addresses, so '
                                  f"that mail would never be sent. Use one of your own addresses.")


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
