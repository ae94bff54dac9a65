"""Two-factor authentication: the phone app's TOTP codes, recovery codes, and the two-step login.

State changes only, each atomic and audited (like accounts.services); throttling of failed
attempts is in accounts.throttle. Uses django-otp: one TOTP device (the phone app) and one
static device (the recovery codes) per member. During set-up both exist unconfirmed; "Save"
confirms them, and from then on the `mail_users` view hides the main password from Dovecot
(migration 0004), so mail programs need app passwords.
"""

import secrets
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mailstack import doveadm

from .models import AuditAction, MailToken, Member
from .services import audit

TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
PENDING_KEY = "duckmail_2fa_pending"

# Where either kind of code is accepted (login, sudo, turning 2FA off, new recovery codes).
WRONG_CODE = "That code is not right. Type the current code from your app, or a recovery code."
# Set-up takes only the app's code, so this one does not offer a recovery code.
WRONG_SETUP_CODE = "That code is not right. Check the time on your phone and type the code shown now."


def end_web_sessions(member: Member) -> None:
    """End every web session of the member (the session auth hash includes the stamp)."""
    member.security_stamp = secrets.token_hex(16)
    Member.objects.filter(pk=member.pk).update(security_stamp=member.security_stamp)
    # ...and their Dovecot tokens with them (the session that made this change mints a new one).
    MailToken.objects.filter(member=member, kind=MailToken.Kind.WEB_SESSION).delete()


def two_factor_enabled(member: Member) -> bool:
    return TOTPDevice.objects.filter(user=member, confirmed=True).exists()


def pending_totp_device(member: Member) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=member, confirmed=False).order_by("-pk").first()


def recovery_codes_left(member: Member) -> int:
    return StaticToken.objects.filter(device__user=member, device__confirmed=True).count()


def _new_recovery_codes(device: StaticDevice) -> list[str]:
    codes = [StaticToken.random_token() for _ in range(settings.RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def start_two_factor_setup(member: Member) -> TOTPDevice:
    """Step 1 ("Set up"): a fresh, not yet active TOTP secret. Earlier unfinished set-ups are dropped."""
    if two_factor_enabled(member):
        raise ValidationError("Two-factor authentication is already on.")
    TOTPDevice.objects.filter(user=member, confirmed=False).delete()
    StaticDevice.objects.filter(user=member, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=member, name=TOTP_DEVICE_NAME, confirmed=False)
    audit(AuditAction.TWO_FACTOR_SETUP_STARTED, actor=member, member=member)
    return device


@transaction.atomic
def cancel_two_factor_setup(member: Member) -> bool:
    """ "Cancel set-up": drop the unfinished set-up (its secret and recovery codes). Returns
    whether there was one. Two-factor authentication that is already on is not touched."""
    totp, _ = TOTPDevice.objects.filter(user=member, confirmed=False).delete()
    StaticDevice.objects.filter(user=member, confirmed=False).delete()
    if totp:
        audit(AuditAction.TWO_FACTOR_SETUP_CANCELLED, actor=member, member=member)
    return bool(totp)


def _verify_totp(device: TOTPDevice, code: str) -> bool:
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == device.digits):
        return False
    with transaction.atomic():
        # Under a row lock, so two requests with the same code can not both pass:
        # django-otp refuses any time step not above the last verified one.
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        return device.verify_token(code)


def check_setup_code(member: Member, code: str) -> bool:
    """Step 2 ("Check code"): does the phone app produce the right codes? Nothing is activated."""
    device = pending_totp_device(member)
    if device is None:
        raise ValidationError("Click “Setup all fields (needs Save)” first.")
    return _verify_totp(device, code)


def setup_code_checked(device: TOTPDevice | None) -> bool:
    # last_t starts at -1 and is set when a code is verified.
    return device is not None and device.last_t >= 0


@transaction.atomic
def setup_recovery_codes(member: Member) -> list[str]:
    """Step 3 ("Show recovery codes"): new single-use codes for the set-up in progress."""
    if not setup_code_checked(pending_totp_device(member)):
        raise ValidationError("Check a code from your app first.")
    StaticDevice.objects.filter(user=member, confirmed=False).delete()
    device = StaticDevice.objects.create(user=member, name=RECOVERY_DEVICE_NAME, confirmed=False)
    return _new_recovery_codes(device)


def recovery_codes_shown(member: Member) -> bool:
    return StaticDevice.objects.filter(user=member, confirmed=False).exists()


@transaction.atomic
def activate_two_factor(member: Member) -> None:
    """Step 4 ("Save"): 2FA on. The main password stops working for mail programs at once."""
    totp = pending_totp_device(member)
    if not setup_code_checked(totp):
        raise ValidationError("Check a code from your app first.")
    static = StaticDevice.objects.filter(user=member, confirmed=False).order_by("-pk").first()
    if static is None:
        raise ValidationError("Show your recovery codes and keep them safe first.")
    TOTPDevice.objects.filter(user=member).exclude(pk=totp.pk).delete()
    StaticDevice.objects.filter(user=member).exclude(pk=static.pk).delete()
    TOTPDevice.objects.filter(pk=totp.pk).update(confirmed=True)
    StaticDevice.objects.filter(pk=static.pk).update(confirmed=True)
    audit(AuditAction.TWO_FACTOR_ENABLED, actor=member, member=member)
    end_web_sessions(member)
    # Sessions opened with the main password must not outlive it.
    transaction.on_commit(lambda: doveadm.kick(member.email))


def verify_second_factor(member: Member, code: str) -> str | None:
    """Check a code from the app or a recovery code; return "totp", "recovery" or None.

    A recovery code is deleted by the same statement that finds it, so it works once even
    when two requests race.
    """
    code = code.strip()
    device = TOTPDevice.objects.filter(user=member, confirmed=True).first()
    if device is None:
        return None
    if _verify_totp(device, code):
        return "totp"
    recovery = "".join(code.split()).replace("-", "").lower()
    if recovery:
        # One transaction: a used code and the notice about it (an outbox row) go together.
        with transaction.atomic():
            deleted, _ = StaticToken.objects.filter(
                device__user=member, device__confirmed=True, token=recovery
            ).delete()
            if deleted:
                audit(AuditAction.TWO_FACTOR_RECOVERY_CODE_USED, actor=member, member=member,
                      left=recovery_codes_left(member))
        if deleted:
            return "recovery"
    return None


@transaction.atomic
def disable_two_factor(member: Member, code: str) -> None:
    """2FA off, given a current code (or a recovery code). App passwords stay."""
    if not verify_second_factor(member, code):
        raise ValidationError(WRONG_CODE)
    TOTPDevice.objects.filter(user=member).delete()
    StaticDevice.objects.filter(user=member).delete()
    audit(AuditAction.TWO_FACTOR_DISABLED, actor=member, member=member)
    end_web_sessions(member)


@transaction.atomic
def regenerate_recovery_codes(member: Member, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), given a current code."""
    if not verify_second_factor(member, code):
        raise ValidationError(WRONG_CODE)
    StaticDevice.objects.filter(user=member).delete()
    device = StaticDevice.objects.create(user=member, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = _new_recovery_codes(device)
    audit(AuditAction.TWO_FACTOR_RECOVERY_CODES_REGENERATED, actor=member, member=member)
    return codes


@transaction.atomic
def reset_two_factor(member: Member, *, actor: Member) -> bool:
    """Admin: turn a member's 2FA off (lost phone and codes). Returns whether it was on."""
    was_on = two_factor_enabled(member)
    TOTPDevice.objects.filter(user=member).delete()
    StaticDevice.objects.filter(user=member).delete()
    audit(AuditAction.TWO_FACTOR_RESET_BY_ADMIN, actor=actor, member=member, was_enabled=was_on)
    end_web_sessions(member)
    return was_on


# The two-step login ----------------------------------------------------------------


def start_pending_login(request: HttpRequest, member: Member, next_url: str) -> None:
    """The password was right and a code is needed: remember who, until the code step."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "member": member.pk,
        "hash": member.get_session_auth_hash(),
        "at": int(time.time()),
        "next": next_url,
    }


def pending_login(request: HttpRequest) -> tuple[Member, str] | None:
    """The member waiting for the code step, or None if there is none, it expired, or the
    password changed meanwhile."""
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - data.get("at", 0) > settings.TWO_FACTOR_PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    member = Member.objects.filter(pk=data.get("member"), is_active=True).first()
    if member is None or not secrets.compare_digest(member.get_session_auth_hash(), data.get("hash", "")):
        request.session.pop(PENDING_KEY, None)
        return None
    return member, data.get("next", "")


def end_pending_login(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)
