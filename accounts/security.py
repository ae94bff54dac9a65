"""Account security: two-factor authentication, recovery codes, app passwords, sudo mode.

State changes only, each atomic and audited (like accounts.services). The web flow lives in
accounts.views; throttling of failed attempts in accounts.throttle.

Two-factor authentication uses django-otp: one TOTP device (the phone app) and one static
device (the recovery codes) per member. During set-up both exist unconfirmed; "Save"
confirms them, and from then on the `mail_users` view hides the main password from Dovecot
(migration 0004), so mail programs need app passwords.
"""

import hashlib
import secrets
import string
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from duckmail.lib import dovecot_admin

from .models import MailToken, Member
from .services import audit

MAX_APP_PASSWORDS = 30
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


# Tokens (app passwords) ------------------------------------------------------------


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
    audit("app_password.created", actor=member, member=member, name=name, token_id=token.pk)
    return token, secret


@transaction.atomic
def revoke_app_password(token: MailToken, *, actor: Member) -> None:
    """Delete an app password and end the member's open mail sessions.

    Dovecot can not tell which session logged in with which token, so all of the member's
    sessions end; programs with a valid password reconnect by themselves.
    """
    member, name, token_id = token.member, token.name, token.pk
    token.delete()
    audit("app_password.revoked", actor=actor, member=member, name=name, token_id=token_id)
    transaction.on_commit(lambda: dovecot_admin.kick(member.email))


# Two-factor authentication ---------------------------------------------------------


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
    audit("two_factor.setup_started", actor=member, member=member)
    return device


@transaction.atomic
def cancel_two_factor_setup(member: Member) -> bool:
    """ "Cancel set-up": drop the unfinished set-up (its secret and recovery codes). Returns
    whether there was one. Two-factor authentication that is already on is not touched."""
    totp, _ = TOTPDevice.objects.filter(user=member, confirmed=False).delete()
    StaticDevice.objects.filter(user=member, confirmed=False).delete()
    if totp:
        audit("two_factor.setup_cancelled", actor=member, member=member)
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
    audit("two_factor.enabled", actor=member, member=member)
    end_web_sessions(member)
    # Sessions opened with the main password must not outlive it.
    transaction.on_commit(lambda: dovecot_admin.kick(member.email))


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
        deleted, _ = StaticToken.objects.filter(
            device__user=member, device__confirmed=True, token=recovery
        ).delete()
        if deleted:
            audit("two_factor.recovery_code_used", actor=member, member=member, left=recovery_codes_left(member))
            return "recovery"
    return None


@transaction.atomic
def disable_two_factor(member: Member, code: str) -> None:
    """2FA off, given a current code (or a recovery code). App passwords stay."""
    if not verify_second_factor(member, code):
        raise ValidationError("That code is not right. Type the current code from your app, or a recovery code.")
    TOTPDevice.objects.filter(user=member).delete()
    StaticDevice.objects.filter(user=member).delete()
    audit("two_factor.disabled", actor=member, member=member)
    end_web_sessions(member)


@transaction.atomic
def regenerate_recovery_codes(member: Member, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), given a current code."""
    if not verify_second_factor(member, code):
        raise ValidationError("That code is not right. Type the current code from your app, or a recovery code.")
    StaticDevice.objects.filter(user=member).delete()
    device = StaticDevice.objects.create(user=member, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = _new_recovery_codes(device)
    audit("two_factor.recovery_codes_regenerated", actor=member, member=member)
    return codes


@transaction.atomic
def reset_two_factor(member: Member, *, actor: Member) -> bool:
    """Admin: turn a member's 2FA off (lost phone and codes). Returns whether it was on."""
    was_on = two_factor_enabled(member)
    TOTPDevice.objects.filter(user=member).delete()
    StaticDevice.objects.filter(user=member).delete()
    audit("two_factor.reset_by_admin", actor=actor, member=member, was_enabled=was_on)
    end_web_sessions(member)
    return was_on


# Sudo mode and the two-step login ----------------------------------------------------

AUTH_AT_KEY = "duckmail_auth_at"
PENDING_KEY = "duckmail_2fa_pending"


def mark_authenticated(request: HttpRequest) -> None:
    """Remember when this session last proved the password (sudo mode counts from here)."""
    request.session[AUTH_AT_KEY] = int(time.time())


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    # Every login (including the second step of a 2FA login) is a fresh authentication.
    if request is not None and hasattr(request, "session"):
        mark_authenticated(request)


def sudo_is_fresh(request: HttpRequest) -> bool:
    auth_at = request.session.get(AUTH_AT_KEY)
    return isinstance(auth_at, int) and time.time() - auth_at < settings.SUDO_MODE_SECONDS


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


# Secrets shown once, after a redirect -------------------------------------------------

ONCE_KEY = "duckmail_show_once"


def keep_for_next_page(request: HttpRequest, **secrets_to_show) -> None:
    """Keep a one-time secret (new recovery codes, a new app password) in the session for
    the page the browser is redirected to, so that reloading that page never repeats the
    POST that made it (POST-redirect-GET)."""
    request.session[ONCE_KEY] = secrets_to_show


def take_for_this_page(request: HttpRequest) -> dict:
    """The one-time secrets kept by `keep_for_next_page`, removed from the session: shown once."""
    data = request.session.pop(ONCE_KEY, None)
    return data if isinstance(data, dict) else {}
