"""Address normalisation: one stored form for every address and domain.

Domains are stored as lower-case IDNA A-labels (``bücher.example`` becomes
``xn--bcher-kva.example``), so Postfix and Dovecot, whose SQL clients are not
UTF-8 clean, compare plain ASCII. Local parts on our own domains are restricted to a
safe ASCII set; outside addresses (redirection targets) keep their local part as
typed (lower-cased domain only), but must be ASCII too, since Postfix's map client
would garble anything else.
"""

import re

import idna
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# No "+": it separates a detail that reaches the same mailbox (name+shop@ → name@).
LOCAL_PART_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")


def normalize_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    if not domain:
        raise ValidationError("Enter a domain name.")
    try:
        # IDNA 2008 with UTS 46 mapping (as browsers and mail clients do): "faß.de" is
        # xn--fa-hia.de, not the different domain "fass.de" of Python's IDNA 2003 codec.
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise ValidationError(f"“{domain}” is not a valid domain name.")
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.[a-z0-9-]{2,63}", ascii_domain):
        raise ValidationError(f"“{domain}” is not a valid domain name.")
    return ascii_domain


def display_domain(domain: str) -> str:
    """The Unicode form of a stored A-label domain, for people to read."""
    try:
        return idna.decode(domain)
    except (idna.IDNAError, UnicodeError):
        return domain


def normalize_local_part(local_part: str) -> str:
    local_part = local_part.strip().lower()
    if not local_part:
        raise ValidationError("Enter the part before the @.")
    if "+" in local_part:
        raise ValidationError(
            "“+” can not be part of a name: name+anything@ already reaches the mailbox name@ (for sign-ups, shops…)."
        )
    if ".." in local_part or not LOCAL_PART_RE.match(local_part):
        raise ValidationError(
            "Use letters a–z, digits, and . _ - (not at the start or end, no “..”), at most 64 characters."
        )
    return local_part


def split_address(address: str) -> tuple[str, str]:
    address = address.strip()
    if address.count("@") != 1:
        raise ValidationError(f"“{address}” is not an e-mail address.")
    local, domain = address.split("@")
    return local, domain


def normalize_external_address(address: str) -> str:
    """An outside address in its stored form: local part as typed, domain as A-label."""
    local, domain = split_address(address)
    domain = normalize_domain(domain)
    if not local or not local.isascii() or any(c in local for c in " \t\r\n\"',;<>()[]\\"):
        raise ValidationError(f"“{address}” is not an address we can forward to.")
    normalized = f"{local}@{domain}"
    try:
        validate_email(normalized)
    except ValidationError:
        raise ValidationError(f"“{address}” is not a valid e-mail address.")
    return normalized
