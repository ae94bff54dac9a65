"""Helpers for the account-security tests: TOTP codes computed from a secret, as a phone would."""

import re
import time
from base64 import b32decode

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor


def code_for(key: bytes, t: int) -> str:
    totp = TOTP(key)
    totp.time = t * 30
    return f"{totp.token():06d}"


def next_code(key: bytes, member) -> str:
    """A code the server will accept now: the phone's current one, or the next time step
    if the current one was already used (the server refuses reuse inside a window and
    accepts one step ahead, so the tests need not sleep 30 s)."""
    device = TOTPDevice.objects.filter(user=member).order_by("-pk").first()
    now_t = int(time.time()) // 30 + device.drift
    t = max(now_t, device.last_t + 1)
    assert t <= now_t + device.tolerance, "no unused code inside the tolerance window"
    return code_for(key, t)


def secret_from_page(html: str) -> bytes:
    """The TOTP key the security page shows for manual entry ("ABCD EFGH …")."""
    match = re.search(r'id="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert match, "no secret on the page"
    return b32decode(match.group(1).replace(" ", ""))


def recovery_codes_from_page(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7]{8})</code></li>", html)


def enable_two_factor(member) -> tuple[bytes, list[str]]:
    """Turn 2FA on through the services (for tests about what comes after); return the key and codes."""
    device = twofactor.start_two_factor_setup(member)
    key = device.bin_key
    assert twofactor.check_setup_code(member, next_code(key, member))
    codes = twofactor.setup_recovery_codes(member)
    twofactor.activate_two_factor(member)
    return key, codes
