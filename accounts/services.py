"""State changes for members, addresses and quotas.

Every change goes through a function here: atomic, audited, and the only place that
writes these models. Views and tasks call these; these call the protocol modules.
"""

import logging
from datetime import timedelta
from email.message import EmailMessage

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from domains.models import Domain
from domains.services import member_domains, service_domain
from duckmail.lib import imap
from duckmail.queue import enqueue
from mailstack import doveadm

from . import emails, mailaccess, outbox
from .addresses import normalize_domain, normalize_external_address, normalize_local_part, split_address
from .models import Address, AuditAction, AuditLog, MailToken, Member, OutboxMail, QuotaRequest, RedirectionTarget

log = logging.getLogger(__name__)


# Changes a member is told about by mail, so that one made by someone else does not go
# unnoticed: audit action → subject and what happened ({…} from the entry's details).
SECURITY_NOTICES = {
    AuditAction.MEMBER_PASSWORD_CHANGED: ("Your password was changed", "your password was changed"),
    AuditAction.TWO_FACTOR_ENABLED: ("Two-factor authentication is on", "two-factor authentication was turned on"),
    AuditAction.TWO_FACTOR_DISABLED: ("Two-factor authentication was turned off", "two-factor authentication was turned off"),
    AuditAction.TWO_FACTOR_RECOVERY_CODES_REGENERATED: (
        "New recovery codes", "new recovery codes were made; the old ones no longer work"),
    AuditAction.TWO_FACTOR_RECOVERY_CODE_USED: (
        "A recovery code was used", "a recovery code was used to log in ({left} left)"),
    AuditAction.TWO_FACTOR_RESET_BY_ADMIN: (
        "Two-factor authentication was reset", "an administrator reset your two-factor authentication"),
    AuditAction.APP_PASSWORD_CREATED: ("New app password “{name}”", "an app password named “{name}” was created"),
    AuditAction.APP_PASSWORD_REVOKED: ("App password “{name}” revoked", "the app password named “{name}” was revoked"),
}


def audit(action: AuditAction, *, actor: Member | None = None, member: Member | None = None, **details) -> AuditLog:
    entry = AuditLog.objects.create(action=action, actor=actor, member=member, details=details)
    if action in SECURITY_NOTICES and member is not None:
        # In the outbox with the change itself: the notice exists if and only if the change does.
        outbox.queue_mail(member, security_notice(entry), OutboxMail.Kind.SECURITY_NOTICE)
    return entry


def security_notice(entry: AuditLog) -> EmailMessage:
    """The mail telling the member (into their INBOX) what changed in their account's security."""
    subject, what = SECURITY_NOTICES[entry.action]
    details = {"name": "", "left": "?", **entry.details}
    return emails.security_notice(
        entry.member.email, subject.format(**details), what.format(**details), entry.created_at,
        by_admin=entry.actor is not None and entry.actor != entry.member,
    )


# Domains ---------------------------------------------------------------------------


def is_reserved(local_part: str) -> bool:
    # Names hold no "+" (accounts.addresses), so a detail can not hide a reserved name.
    return local_part in settings.RESERVED_LOCAL_PARTS


def check_new_local_part(local_part: str, domain: Domain, *, allow_reserved: bool = False) -> str:
    """Normalise a local part for a new address on `domain`, or raise ValidationError."""
    local_part = normalize_local_part(local_part)
    if not allow_reserved and is_reserved(local_part):
        raise ValidationError(f"“{local_part}” is reserved for the service. Please choose another name.")
    if Address.objects.filter(local_part=local_part, domain=domain).exists():
        raise ValidationError(f"{local_part}@{domain} is already taken. Please choose another name.")
    return local_part


# Members ---------------------------------------------------------------------------


@transaction.atomic
def create_member(
    local_part: str,
    password: str | None,
    *,
    domain: Domain | None = None,
    actor: Member | None = None,
    allow_reserved: bool = False,
    **fields,
) -> Member:
    """Create a member and their mailbox address. Raises ValidationError if the name is not free."""
    domain = domain or service_domain()
    local_part = check_new_local_part(local_part, domain, allow_reserved=allow_reserved)
    email = f"{local_part}@{domain.name}"
    try:
        with transaction.atomic():
            member = Member(email=email, **fields)
            member.set_password(password)
            member.save()
            Address.objects.create(local_part=local_part, domain=domain, kind=Address.Kind.MAILBOX, owner=member)
    except IntegrityError:
        # Another sign-up took the name between our check and our insert.
        raise ValidationError(f"{email} is already taken. Please choose another name.")
    audit(AuditAction.MEMBER_CREATED, actor=actor or member, member=member, email=email)
    return member


@transaction.atomic
def change_password(member: Member, new_password: str, *, actor: Member | None = None) -> None:
    """Set a new password. Other web sessions end (Django's session hash), webmail session
    tokens are revoked, and open IMAP/POP3/ManageSieve sessions end; app passwords stay."""
    member.set_password(new_password)
    member.save(update_fields=["password"])
    MailToken.objects.filter(member=member, kind=MailToken.Kind.WEB_SESSION).delete()
    audit(AuditAction.MEMBER_PASSWORD_CHANGED, actor=actor or member, member=member)
    # Sessions opened with the old password must not outlive it; programs using an app
    # password reconnect by themselves.
    transaction.on_commit(lambda: doveadm.kick(member.email))


@transaction.atomic
def set_member_active(member: Member, active: bool, *, actor: Member | None) -> None:
    """Enable or disable a member. Disabling ends their open IMAP/POP3/ManageSieve sessions."""
    if member.is_active == active:
        return
    member.is_active = active
    member.save(update_fields=["is_active"])
    audit(AuditAction.MEMBER_ENABLED if active else AuditAction.MEMBER_DISABLED, actor=actor, member=member)
    if not active:
        transaction.on_commit(lambda: doveadm.kick(member.email))


# Addresses -------------------------------------------------------------------------


def _address_slots_left(member: Member) -> int:
    used = member.addresses.exclude(kind=Address.Kind.MAILBOX).count()
    return member.max_addresses - used


def _check_slots(member: Member) -> None:
    if _address_slots_left(member) <= 0:
        raise ValidationError(
            f"You have reached your limit of {member.max_addresses} aliases and redirections. "
            "Remove one first, or ask the administrators for more."
        )


def _domain_for_member(member: Member, domain_name: str | None) -> Domain:
    # Members add addresses on the domains open to them: the service domain for now.
    if not domain_name:
        return service_domain()
    domain = member_domains().filter(name=normalize_domain(domain_name)).first()
    if domain is None:
        raise ValidationError("You can only add addresses on the service domain.")
    return domain


@transaction.atomic
def add_alias(member: Member, local_part: str, *, domain_name: str | None = None) -> Address:
    domain = _domain_for_member(member, domain_name)
    _check_slots(member)
    local_part = check_new_local_part(local_part, domain)
    try:
        with transaction.atomic():
            address = Address.objects.create(
                local_part=local_part, domain=domain, kind=Address.Kind.ALIAS, owner=member
            )
    except IntegrityError:
        raise ValidationError(f"{local_part}@{domain} is already taken. Please choose another name.")
    audit(AuditAction.ADDRESS_ALIAS_ADDED, actor=member, member=member, address=address.email)
    return address


def _resolve_targets(targets: list[str], own_address: str) -> None:
    """Refuse targets that point back to `own_address`, directly or through our redirections."""
    local_domains = set(Domain.objects.values_list("name", flat=True))
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        target = stack.pop().lower()
        if target == own_address:
            raise ValidationError(
                "A redirection can not point back to its own address (that would loop).", code="bad_target"
            )
        if target in seen:
            continue
        seen.add(target)
        local, domain = split_address(target)
        if domain not in local_domains:
            continue
        address = Address.objects.filter(local_part=local.lower(), domain__name=domain).first()
        if address is None:
            raise ValidationError(f"{target} does not exist here.", code="bad_target")
        if address.kind == Address.Kind.REDIRECTION:
            stack.extend(address.targets.values_list("target", flat=True))


def parse_targets(text: str) -> list[str]:
    """Targets typed one per line or comma-separated, normalised, without duplicates."""
    raw = [t for t in text.replace(",", "\n").replace(";", "\n").split() if t]
    if not raw:
        raise ValidationError("Enter at least one address to forward to.")
    targets: list[str] = []
    for item in raw:
        address = normalize_external_address(item)
        if address not in targets:
            targets.append(address)
    if len(targets) > 10:
        raise ValidationError("A redirection can forward to at most 10 addresses.")
    return targets


@transaction.atomic
def add_redirection(
    member: Member, local_part: str, targets: list[str], *, keep_copy: bool = False, domain_name: str | None = None
) -> Address:
    domain = _domain_for_member(member, domain_name)
    _check_slots(member)
    local_part = check_new_local_part(local_part, domain)
    _resolve_targets(targets, f"{local_part}@{domain.name}")
    try:
        with transaction.atomic():
            address = Address.objects.create(
                local_part=local_part, domain=domain, kind=Address.Kind.REDIRECTION, owner=member, keep_copy=keep_copy
            )
    except IntegrityError:
        raise ValidationError(f"{local_part}@{domain} is already taken. Please choose another name.")
    RedirectionTarget.objects.bulk_create(RedirectionTarget(address=address, target=t) for t in targets)
    audit(AuditAction.ADDRESS_REDIRECTION_ADDED, actor=member, member=member, address=address.email, targets=targets,
          keep_copy=keep_copy)
    return address


@transaction.atomic
def update_redirection(address: Address, targets: list[str], *, keep_copy: bool) -> None:
    _resolve_targets(targets, address.email)
    address.targets.all().delete()
    RedirectionTarget.objects.bulk_create(RedirectionTarget(address=address, target=t) for t in targets)
    address.keep_copy = keep_copy
    address.save(update_fields=["keep_copy"])
    audit(AuditAction.ADDRESS_REDIRECTION_CHANGED, actor=address.owner, member=address.owner, address=address.email,
          targets=targets, keep_copy=keep_copy)


@transaction.atomic
def remove_address(address: Address, *, actor: Member) -> None:
    if address.kind == Address.Kind.MAILBOX:
        raise ValidationError("The mailbox address can not be removed.")
    email = address.email
    address.delete()
    removed = AuditAction.ADDRESS_ALIAS_REMOVED if address.kind == Address.Kind.ALIAS else AuditAction.ADDRESS_REDIRECTION_REMOVED
    audit(removed, actor=actor, member=address.owner, address=email)


# Quotas ----------------------------------------------------------------------------


@transaction.atomic
def request_quota(member: Member, requested_mb: int, reason: str) -> QuotaRequest:
    if requested_mb <= member.quota_mb:
        raise ValidationError(f"Ask for more than your current {member.quota_mb} MB.")
    if member.quota_requests.filter(status=QuotaRequest.Status.PENDING).exists():
        raise ValidationError("You already have a request waiting for an administrator.")
    qr = QuotaRequest.objects.create(
        member=member, current_mb=member.quota_mb, requested_mb=requested_mb, reason=reason.strip()
    )
    audit(AuditAction.QUOTA_REQUESTED, actor=member, member=member, requested_mb=requested_mb)
    return qr


@transaction.atomic
def decide_quota_request(qr: QuotaRequest, approve: bool, *, actor: Member, note: str = "") -> None:
    qr = QuotaRequest.objects.select_for_update().get(pk=qr.pk)
    if qr.status != QuotaRequest.Status.PENDING:
        return
    qr.status = QuotaRequest.Status.APPROVED if approve else QuotaRequest.Status.REJECTED
    qr.decided_at = timezone.now()
    qr.decided_by = actor
    qr.admin_note = note
    qr.save(update_fields=["status", "decided_at", "decided_by", "admin_note"])
    if approve:
        set_quota(qr.member, qr.requested_mb, actor=actor)
    decided = AuditAction.QUOTA_REQUEST_APPROVED if approve else AuditAction.QUOTA_REQUEST_REJECTED
    audit(decided, actor=actor, member=qr.member, requested_mb=qr.requested_mb)
    outbox.queue_mail(qr.member, quota_decision(qr), OutboxMail.Kind.QUOTA_DECISION)


def quota_decision(qr: QuotaRequest) -> EmailMessage:
    """The mail telling the member, in their INBOX, what the administrators decided."""
    member = qr.member
    return emails.quota_decision(
        member.email, qr.status == QuotaRequest.Status.APPROVED, qr.requested_mb, member.quota_mb, qr.admin_note
    )


@transaction.atomic
def set_quota(member: Member, quota_mb: int, *, actor: Member | None) -> None:
    """Set a member's quota. Dovecot reads it from the database at the member's next login."""
    old = member.quota_mb
    member.quota_mb = quota_mb
    member.save(update_fields=["quota_mb"])
    audit(AuditAction.QUOTA_CHANGED, actor=actor, member=member, old_mb=old, new_mb=quota_mb)


def record_quota_usage(member: Member, used_kb: int, limit_kb: int | None) -> int | None:
    """Store usage as Dovecot reported it; return a newly crossed warning level, if any."""
    member.quota_used_kb = used_kb
    member.quota_checked_at = timezone.now()
    limit_kb = limit_kb or member.quota_mb * 1024
    percent = used_kb * 100 / limit_kb if limit_kb else 0
    level = max((lvl for lvl in settings.QUOTA_WARNING_LEVELS if percent >= lvl), default=0)
    crossed = level if level > member.quota_warning_level else None
    # Dropping below a level re-arms its warning.
    member.quota_warning_level = level
    member.save(update_fields=["quota_used_kb", "quota_checked_at", "quota_warning_level"])
    return crossed


QUOTA_STALE_AFTER = timedelta(minutes=5)


def refresh_quota_usage_if_stale(member: Member) -> None:
    """Queue a usage refresh if the stored figure is older than QUOTA_STALE_AFTER."""
    if member.quota_checked_at is None or timezone.now() - member.quota_checked_at > QUOTA_STALE_AFTER:
        enqueue("accounts.tasks.refresh_quota_usage", member.pk)


def refresh_quota_usage(member: Member) -> int | None:
    """Ask Dovecot for the member's usage, store it, and mail a warning on a newly crossed level.

    Returns the level warned about, if any. The warning goes to the outbox with the new
    level, so a mail server that is down delays it but can not lose it.
    """
    with mailaccess.imap(member) as client:
        usage = imap.quota_usage(client)
    with transaction.atomic():
        # Two refreshes at once (beat and the account page) must not both warn for one level.
        member.quota_warning_level = (
            Member.objects.select_for_update().values_list("quota_warning_level", flat=True).get(pk=member.pk)
        )
        crossed = record_quota_usage(member, usage.used_kb, usage.limit_kb)
        if crossed:
            percent = member.quota_percent
            warning = emails.quota_warning(member.email, percent, member.quota_used_mb, member.quota_mb)
            outbox.queue_mail(member, warning, OutboxMail.Kind.QUOTA_WARNING)
            audit(AuditAction.QUOTA_WARNING_SENT, member=member, level=crossed, percent=percent)
    return crossed
