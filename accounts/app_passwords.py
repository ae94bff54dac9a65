"""App passwords: named secrets a member gives their mail programs instead of the main password.

State changes only, each atomic and audited (like accounts.services). Only a hash of each
secret is stored, in `accounts_mailtoken`, where Dovecot's fast token passdb checks it.
"""

import hashlib
import secrets
import string

from django.core.exceptions import ValidationError
from django.db import transaction

from mailstack import doveadm

from .models import AuditAction, MailToken, Member
from .services import audit

MAX_APP_PASSWORDS = 30


def token_hashes(secret: str) -> tuple[str, str | None]:
    """Hex SHA-256 of the secret as generated, and of its grouped display form if it has one.

    Dovecot computes `%{sha256:password}` of exactly what the mail program sent and the
    database compares hashes, so the typed password never appears in SQL text (nor in any
    Postgres log), whether it is a token or a member's main password falling through.
    """
    compact = secret.replace(" ", "")
    grouped = hashlib.sha256(secret.encode()).hexdigest() if secret != compact else None
    return hashlib.sha256(compact.encode()).hexdigest(), grouped


def new_app_password_secret() -> str:
    """16 random lower-case letters (75 bits), shown in groups of four for easy typing."""
    letters = "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))
    return " ".join(letters[i:i + 4] for i in range(0, 16, 4))


def app_passwords(member: Member):
    return MailToken.objects.filter(member=member, kind=MailToken.Kind.APP_PASSWORD)


@transaction.atomic
def create_app_password(member: Member, name: str) -> tuple[MailToken, str]:
    """Create a named app password; return it and its secret (shown once, never stored)."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("Give the app password a name, e.g. “Phone”.")
    # Lock the member row: two simultaneous requests must not both pass the limit check.
    Member.objects.select_for_update().filter(pk=member.pk).first()
    existing = app_passwords(member)
    if existing.filter(name__iexact=name).exists():
        raise ValidationError(f"You already have an app password named “{name}”. Choose another name.")
    if existing.count() >= MAX_APP_PASSWORDS:
        raise ValidationError(f"You can have at most {MAX_APP_PASSWORDS} app passwords. Revoke one you no longer use.")
    secret = new_app_password_secret()
    compact_hash, grouped_hash = token_hashes(secret)
    token = MailToken.objects.create(member=member, kind=MailToken.Kind.APP_PASSWORD, name=name,
                                     token_hash=compact_hash, grouped_hash=grouped_hash)
    audit(AuditAction.APP_PASSWORD_CREATED, actor=member, member=member, name=name, token_id=token.pk)
    return token, secret


@transaction.atomic
def revoke_app_password(token: MailToken, *, actor: Member) -> None:
    """Delete an app password and end the member's open mail sessions.

    Dovecot can not tell which session logged in with which token, so all of the member's
    sessions end; programs with a valid password reconnect by themselves.
    """
    member, name, token_id = token.member, token.name, token.pk
    token.delete()
    audit(AuditAction.APP_PASSWORD_REVOKED, actor=actor, member=member, name=name, token_id=token_id)
    transaction.on_commit(lambda: doveadm.kick(member.email))
