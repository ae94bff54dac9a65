"""Who may put which address in `From:` (and `Sender:`): the check behind Postfix's milter
(`manage.py run_sender_check`, see accounts/milter.py).

Postfix's own `reject_sender_login_mismatch` checks only the envelope sender; what a
recipient sees is the `From:` header. Both checks follow one rule from one source: an
address is the member's to send as when the `mail_sender_logins` view (the same view the
sender-login map reads) names their login for it, looked up the way Postfix looks up that
map (the address, then without its `+detail`, then `@domain`), without regard to case.
So a member's mailbox, aliases and redirection addresses count, and hosted domains will
count once the view returns them.

Two callers, two rules:

- **submission** (`check_submission`): every address in `From:` and `Sender:` must be the
  authenticated login's; so must any address the header merely *shows* (a display name or
  comment such as `"alice@duckmail.test" <bob@…>`), since that is what a mail program
  puts on screen.
- **reinjection** (`check_reinjected`): Dovecot's own mail, on behalf of a member.
  Redirects keep the original sender's `From:` (Sieve's editheader may not touch it) and
  pass; Dovecot's rejection notices (null envelope sender, `Auto-Submitted: auto-replied`,
  from the postmaster) pass; everything else — vacation replies, notifications — must
  carry a `From:` of the member it is sent for: the owner of the envelope sender (vacation:
  `sieve_vacation_send_from_recipient`; notifications: `sieve_notify_mailto_envelope_from
  = recipient`), or, for notifications, the `owner-email` Dovecot writes into their
  `Auto-Submitted:` header (a script can not set that header; a notification about a
  null-sender message goes out with a null envelope sender).

Headers are parsed by Python's `email` package (policy SMTP), never by hand; anything it
finds defective in those headers is refused rather than guessed at, since another parser
(the recipient's) may read it differently.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import policy
from email.errors import ObsoleteHeaderDefect
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser

import idna
from django.db import connection

# How a mail program would show an address inside a display name or comment. Only a
# hint for "shows an address that is not yours"; the real addresses come from the parser.
_SHOWN_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

Owners = Callable[[Iterable[str]], dict[str, set[str]]]


@dataclass(frozen=True)
class Refusal:
    """Why a message is refused, for the SMTP reply (550 5.7.1 …)."""

    text: str


def _clean(value: str, limit: int = 120) -> str:
    """An address or name from a hostile header, safe to put in an SMTP reply (ASCII, no controls)."""
    text = value.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return text if len(text) <= limit else text[:limit] + "..."


def _parse(header_block: bytes) -> tuple[Message, Message]:
    """The headers twice: structured (policy SMTP) and raw (for what a mail program shows)."""
    block = header_block.rstrip(b"\r\n") + b"\r\n\r\n"
    return (BytesParser(policy=policy.SMTP).parsebytes(block, headersonly=True),
            BytesParser(policy=policy.compat32).parsebytes(block, headersonly=True))


def _lookup_keys(address: str) -> list[str]:
    """The keys Postfix tries in a sender-login map for `address`, lower-cased."""
    local, _, domain = address.lower().rpartition("@")
    domains = [domain]
    if not domain.isascii():
        try:
            domains.append(idna.encode(domain, uts46=True).decode("ascii"))
        except idna.IDNAError:
            pass
    keys = []
    delimiter = "+"  # recipient_delimiter in main.cf
    for d in domains:
        keys.append(f"{local}@{d}")
        if delimiter in local:
            keys.append(f"{local.split(delimiter, 1)[0]}@{d}")
    keys.extend(f"@{d}" for d in domains)
    return keys


def owners(addresses: Iterable[str]) -> dict[str, set[str]]:
    """Address → the logins (lower-cased) that may send as it, from the mail_sender_logins view.

    Raises the database's own errors when PostgreSQL is down (the milter then answers
    with a temporary failure)."""
    wanted = {a: _lookup_keys(a) for a in set(addresses)}
    keys = sorted({k for ks in wanted.values() for k in ks})
    found: dict[str, set[str]] = {}
    if keys:
        with connection.cursor() as cursor:
            cursor.execute("SELECT address, login FROM mail_sender_logins WHERE address = ANY(%s)", [keys])
            for key, login in cursor.fetchall():
                found.setdefault(key, set()).add(login.lower())
    # Like Postfix, the first key that is in the map decides.
    return {a: next((found[k] for k in ks if k in found), set()) for a, ks in wanted.items()}


@dataclass(frozen=True)
class _Claim:
    header: str   # "From" or "Sender"
    address: str  # what the parser found, or what the header shows
    shown: bool   # only shown (display name, comment), not an address of the header


def _claims(structured: Message, raw: Message) -> list[_Claim] | Refusal:
    """Every address `From:` and `Sender:` use or show, or why they can not be trusted."""
    claims: list[_Claim] = []
    for name, required in (("From", True), ("Sender", False)):
        values = structured.get_all(name) or []
        if not values:
            if required:
                return Refusal("Your message has no From: header")
            continue
        if len(values) > 1:
            return Refusal(f"Your message has more than one {name}: header")
        header = values[0]
        defects = [d for d in getattr(header, "defects", ()) if not isinstance(d, ObsoleteHeaderDefect)]
        addresses = getattr(header, "addresses", ())
        if defects:
            return Refusal(f"The {name}: header is malformed ({_clean(str(defects[0]), 80)}): write it as Name <address>")
        if not addresses:
            return Refusal(f"The {name}: header holds no address")
        for a in addresses:
            if not a.username or not a.domain:
                return Refusal(f"The {name}: header address {_clean(a.addr_spec)} is not a complete address")
            claims.append(_Claim(name, a.addr_spec.lower(), False))
        used = {c.address for c in claims}
        # What a mail program may show: encoded words decoded, comments kept.
        try:
            shown_text = str(make_header(decode_header(str(raw.get_all(name, [""])[0]))))
        except (UnicodeError, LookupError, ValueError):
            return Refusal(f"The {name}: header is malformed (undecodable text): write it as Name <address>")
        for shown in _SHOWN_ADDRESS.findall(shown_text):
            if shown.lower() not in used:
                claims.append(_Claim(name, shown.lower(), True))
                used.add(shown.lower())
    return claims


def _check_claims(claims: list[_Claim], login: str, table: dict[str, set[str]]) -> Refusal | None:
    for claim in claims:
        if login not in table.get(claim.address, set()):
            if claim.shown:
                return Refusal(f"{claim.header}: header shows {_clean(claim.address)}, which is not one of your "
                               f"addresses")
            return Refusal(f"{claim.header}: header address {_clean(claim.address)} is not one of your addresses")
    return None


def check_submission(login: str, header_block: bytes, lookup: Owners = owners) -> Refusal | None:
    """None when every address `From:`/`Sender:` use or show is `login`'s, otherwise why not."""
    claims = _claims(*_parse(header_block))
    if isinstance(claims, Refusal):
        return claims
    return _check_claims(claims, login.lower(), lookup(c.address for c in claims))


def _auto_submitted(raw: Message) -> list[str]:
    return [str(v).strip() for v in raw.get_all("Auto-Submitted", [])]


def _owner_email(value: str) -> str:
    """The owner-email parameter of an `Auto-Submitted: auto-notified; owner-email="…"` value."""
    holder = Message()
    holder["Auto-Submitted"] = value
    owner = holder.get_param("owner-email", header="Auto-Submitted")
    return owner.strip() if isinstance(owner, str) else ""


def check_reinjected(envelope_sender: str, header_block: bytes, lookup: Owners = owners) -> Refusal | None:
    """None when Dovecot's own mail may go out as it is (see the module's docstring), otherwise why not."""
    structured, raw = _parse(header_block)
    auto = _auto_submitted(raw)
    notified = next((v for v in auto if v.lower().startswith("auto-notified")), None)
    envelope_sender = envelope_sender.strip("<>")
    if notified is not None:
        # A notification: the script may choose :from and extra headers, never Auto-Submitted.
        owner_address = _owner_email(notified)
        if not owner_address:
            return Refusal("This notification does not say whose it is")
    elif raw.get_all("X-Sieve-Redirected-From"):
        return None  # a redirect: the original sender's From:, which scripts can not edit
    elif not envelope_sender:
        if any(v.lower().startswith("auto-replied") for v in auto):
            return None  # Dovecot's rejection notice (Sieve reject), from the postmaster
        return Refusal("Mail from Dovecot without a sender")
    else:
        owner_address = envelope_sender
    owner_address = owner_address.lower()
    claims = _claims(structured, raw)
    if isinstance(claims, Refusal):
        return claims
    table = lookup([owner_address, *(c.address for c in claims)])
    logins = table.get(owner_address, set())
    if not logins:
        return Refusal(f"{_clean(owner_address)} is not a member's address")
    return _check_claims(claims, min(logins), table)

