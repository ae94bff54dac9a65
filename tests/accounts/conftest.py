"""Fixtures only the accounts tests use: two-factor authentication as a member's phone does it
(codes computed from the secret), and logging in through the browser."""

import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from tests.helpers import PASSWORD


def _code_for(key: bytes, t: int) -> str:
    totp = TOTP(key)
    totp.time = t * 30
    return f"{totp.token():06d}"


def _next_code(key: bytes, member) -> str:
    device = TOTPDevice.objects.filter(user=member).order_by("-pk").first()
    now_t = int(time.time()) // 30 + device.drift
    t = max(now_t, device.last_t + 1)
    assert t <= now_t + device.tolerance, "no unused code inside the tolerance window"
    return _code_for(key, t)


def _secret_from_page(html: str) -> bytes:
    match = re.search(r'id="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert match, "no secret on the page"
    return b32decode(match.group(1).replace(" ", ""))


def _recovery_codes_from_page(html: str) -> list[str]:
    return re.findall(r"<li><code>([a-z2-7]{8})</code></li>", html)


def _enable_two_factor(member) -> tuple[bytes, list[str]]:
    device = twofactor.start_two_factor_setup(member)
    key = device.bin_key
    assert twofactor.check_setup_code(member, _next_code(key, member))
    codes = twofactor.setup_recovery_codes(member)
    twofactor.activate_two_factor(member)
    return key, codes


@pytest.fixture
def code_for():
    """code_for(key, t): the TOTP code of time step t, as a phone computes it from the key."""
    return _code_for


@pytest.fixture
def next_code():
    """next_code(key, member): a code the server will accept now: the phone's current one, or
    the next time step if the current one was already used (the server refuses reuse inside a
    window and accepts one step ahead, so the tests need not sleep 30 s)."""
    return _next_code


@pytest.fixture
def secret_from_page():
    """secret_from_page(html): the TOTP key the Settings page shows for manual entry ("ABCD EFGH …")."""
    return _secret_from_page


@pytest.fixture
def recovery_codes_from_page():
    """recovery_codes_from_page(html): the recovery codes a page shows."""
    return _recovery_codes_from_page


@pytest.fixture
def enable_two_factor():
    """enable_two_factor(member): turn 2FA on through the services (for tests about what comes
    after); returns the key and the recovery codes."""
    return _enable_two_factor


@pytest.fixture
def log_in():
    """log_in(page, code=None): alice logs in on the browser's login page, with a code when 2FA is on."""

    def log_in(page, code: str | None = None) -> None:
        page.goto("/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        if code is not None:
            page.wait_for_url("**/login/code/")
            page.fill("#id_code", code)
            page.click("main button[type=submit]")
        page.wait_for_url("**/account/")

    return log_in
