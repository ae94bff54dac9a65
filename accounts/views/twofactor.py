"""The views that change two-factor authentication: set-up step by step, turning it off, and
new recovery codes. Each needs sudo mode and a POST, and ends on the Settings page (but
"Save", which logs the member out).

Wrong codes count against the login throttle, like a wrong password.
"""

from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from .. import twofactor
from ..decorators import require_sudo_mode
from ..forms import CodeForm
from ..throttle import LoginThrottle, Throttled
from .security_page import render_security_page, security_redirect
from .show_once import keep_for_next_page


@login_required
@require_sudo_mode
@require_POST
def two_factor_setup(request):
    """ "Setup all fields (needs Save)": a new secret, shown as a QR code; nothing is active yet."""
    try:
        twofactor.start_two_factor_setup(request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return security_redirect("two-factor")


def _code_or_throttled(request, form: CodeForm, check) -> tuple[bool, int]:
    """Run `check(code)` under the login throttle; put any error on the form's code field."""
    throttle = LoginThrottle.for_request(request, request.user.email)
    try:
        throttle.check()
        try:
            ok = check(form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc)
            throttle.failure()
            return False, 400
        if ok:
            # The attempt is over: left in flight, it would hold back the next login.
            throttle.release()
            return True, 200
        form.add_error("code", twofactor.WRONG_CODE)
        throttle.failure()
        return False, 400
    except Throttled as exc:
        form.errors["code"] = form.error_class([exc.message])
        return False, 429


@login_required
@require_sudo_mode
@require_POST
@sensitive_post_parameters()
def two_factor_check(request):
    """ "Check code": proves the phone app works; activates nothing."""
    form = CodeForm(request.POST, allow_recovery=False, label="Check code", prefix="check")
    if not form.is_valid():
        return _check_again(request, form.errors["code"][0])
    if twofactor.pending_totp_device(request.user) is None:
        messages.error(request, "Click “Setup all fields (needs Save)” first.")
        return redirect("security")
    # Not under the login throttle: this is the member's own new secret, which proves nothing
    # to a guesser, and a mistyped code while setting up must not lock the member's logins.
    try:
        ok = twofactor.check_setup_code(request.user, form.cleaned_data["code"])
    except ValidationError as exc:
        form.add_error("code", exc)
        ok = False
    if ok:
        messages.success(request, "The code is right: your app works. Now show and keep your recovery codes.")
        return security_redirect("two-factor")
    return _check_again(request, form.errors["code"][0] if form.has_error("code") else twofactor.WRONG_SETUP_CODE)


def _check_again(request, error: str):
    """Back to the Settings page with the error next to "Check code" (POST-redirect-GET: a
    reload does not send the code again)."""
    keep_for_next_page(request, check_error=error)
    return security_redirect("two-factor")


@login_required
@require_sudo_mode
@require_POST
def two_factor_recovery_codes(request):
    """ "Show recovery codes": shown once, on the page this redirects to (a reload of that
    page does not make new ones)."""
    try:
        codes = twofactor.setup_recovery_codes(request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return security_redirect("two-factor")
    keep_for_next_page(request, recovery_codes=codes)
    return security_redirect("recovery-codes")


@login_required
@require_sudo_mode
@require_POST
def two_factor_cancel(request):
    """ "Cancel set-up": the unfinished set-up is dropped; two-factor authentication stays off."""
    if twofactor.cancel_two_factor_setup(request.user):
        messages.success(request, "Set-up cancelled. Two-factor authentication is off. "
                                  "You can delete the entry in your phone's app.")
    return security_redirect("two-factor")


@login_required
@require_sudo_mode
@require_POST
def two_factor_save(request):
    """ "Save": 2FA on, and the member is logged out to log in again with a code."""
    try:
        twofactor.activate_two_factor(request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return security_redirect("two-factor")
    logout(request)
    messages.success(request, "Two-factor authentication is on. Log in again with your password and a code "
                              "from your app. Mail programs now need app passwords.")
    return redirect("login")


@login_required
@require_sudo_mode
@require_POST
@sensitive_post_parameters()
def two_factor_disable(request):
    form = CodeForm(request.POST, prefix="disable")
    if not form.is_valid():
        return render_security_page(request, status=400, disable_form=form)
    ok, status = _code_or_throttled(request, form, lambda code: _disable(request.user, code))
    if ok:
        # Turning 2FA off ends the member's other web sessions; this one stays.
        update_session_auth_hash(request, request.user)
        messages.success(request, "Two-factor authentication is off. Your password works in mail programs again.")
        return redirect("security")
    return render_security_page(request, status=status, disable_form=form)


def _disable(member, code: str) -> bool:
    twofactor.disable_two_factor(member, code)
    return True


@login_required
@require_sudo_mode
@require_POST
@sensitive_post_parameters()
def two_factor_regenerate(request):
    form = CodeForm(request.POST, prefix="regenerate")
    if not form.is_valid():
        return render_security_page(request, status=400, regenerate_form=form)
    codes: list[str] = []

    def regenerate(code: str) -> bool:
        codes.extend(twofactor.regenerate_recovery_codes(request.user, code))
        return True

    ok, status = _code_or_throttled(request, form, regenerate)
    if ok:
        keep_for_next_page(request, recovery_codes=codes)
        return security_redirect("recovery-codes")
    return render_security_page(request, status=status, regenerate_form=form)
