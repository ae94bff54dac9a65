"""The Settings page with the 2-Factor Authentication and App passwords tabs, and its rendering.

The views that change either tab (accounts.views.twofactor, accounts.views.app_passwords)
render this page again with their form's errors, or redirect to one of its anchors.
"""

from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.contrib.auth.decorators import login_required
from django.forms.utils import ErrorDict, ErrorList
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe

from .. import twofactor
from ..app_passwords import app_passwords
from ..forms import AppPasswordForm, CodeForm
from ..sudo import sudo_is_fresh
from .show_once import take_for_this_page


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    # Our own SVG from our own otpauth URL: nothing typed by anyone ends up in it as markup.
    return mark_safe(image.to_string(encoding="unicode"))


def _grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i:i + size] for i in range(0, len(text), size))


def _check_form_with_error(error: str) -> CodeForm:
    """The "Check code" form as a wrong code left it, after the redirect: empty, with the error."""
    form = CodeForm(allow_recovery=False, label="Check code", prefix="check")
    form._errors = ErrorDict({"code": ErrorList([error])})
    return form


def render_security_page(request, status: int = 200, *, tab: str = "two-factor", **extra) -> HttpResponse:
    """A tab of the Settings page ("two-factor" or "app-passwords"); a form passed by name
    (one with errors) replaces the empty one, and any other keyword goes to the template."""
    member = request.user
    if "check_error" in extra and "check_form" not in extra:
        extra["check_form"] = _check_form_with_error(extra.pop("check_error"))
    two_factor_on = twofactor.two_factor_enabled(member)
    pending = None if two_factor_on else twofactor.pending_totp_device(member)
    context = {
        "member": member,
        "tab": tab,
        "two_factor_on": two_factor_on,
        "recovery_codes_left": twofactor.recovery_codes_left(member) if two_factor_on else 0,
        "pending": pending,
        "code_checked": twofactor.setup_code_checked(pending),
        "codes_shown": pending is not None and twofactor.recovery_codes_shown(member),
        "app_passwords": list(app_passwords(member)) if tab == "app-passwords" else [],
        "check_form": extra.pop("check_form", None) or CodeForm(allow_recovery=False, label="Check code",
                                                                prefix="check"),
        "disable_form": extra.pop("disable_form", None) or CodeForm(prefix="disable"),
        "regenerate_form": extra.pop("regenerate_form", None) or CodeForm(prefix="regenerate"),
        "app_password_form": extra.pop("app_password_form", None) or AppPasswordForm(),
        **extra,
    }
    # Viewing the page needs no password, but the secret of a set-up in progress is only
    # shown in sudo mode: a borrowed session must not copy the key a member is about to use.
    context["secret_hidden"] = pending is not None and not sudo_is_fresh(request)
    if pending is not None and not context["secret_hidden"]:
        context["qr_svg"] = _qr_svg(pending.config_url)
        context["secret_text"] = _grouped(b32encode(pending.bin_key).decode())
    response = render(request, "accounts/security.html", context, status=status)
    # Secrets (the TOTP secret, recovery codes, a new app password) must not be cached.
    response["Cache-Control"] = "no-store"
    return response


@login_required
def security_page(request):
    """The Settings page's 2-Factor Authentication tab. Looking needs no password; every
    change does (sudo mode). New recovery codes made by the POST before are shown here once
    (POST-redirect-GET)."""
    return render_security_page(request, **take_for_this_page(request))


@login_required
def app_passwords_page(request):
    """The Settings page's App passwords tab; a new app password is shown here once."""
    return render_security_page(request, tab="app-passwords", **take_for_this_page(request))


def security_redirect(anchor: str) -> HttpResponse:
    """To the tab that holds `anchor` (the App passwords tab for its own parts)."""
    page = "app_passwords" if "app-password" in anchor else "security"
    return redirect(f"{reverse(page)}#{anchor}")
