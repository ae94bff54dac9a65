"""Member-facing pages: sign-up, log-in, the account page and its address and quota forms.

Thin views: parse with a form, fetch through a permission helper, call one service,
render or redirect.
"""

from base64 import b32encode
from functools import wraps
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from . import security, services
from .forms import (
    AppPasswordForm,
    CodeForm,
    LocalPartForm,
    LoginForm,
    MemberPasswordChangeForm,
    QuotaRequestForm,
    RedirectionEditForm,
    RedirectionForm,
    SignupForm,
    SudoForm,
    normalize_login,
)
from .models import Address, MailToken, QuotaRequest
from .throttle import LoginThrottle, Throttled, count_signup

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def own_address(member, address_id: int, kind: str | None = None) -> Address:
    """The member's own address with that id, or 404: never another member's."""
    qs = Address.objects.filter(owner=member).select_related("domain")
    if kind:
        qs = qs.filter(kind=kind)
    return get_object_or_404(qs, pk=address_id)


def signup(request):
    if request.user.is_authenticated:
        return redirect("account")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            count_signup(request)
        except Throttled as exc:
            form.add_error(None, f"Too many new accounts from your address. Please try again in {exc.retry_after} seconds.")
            return render(request, "accounts/signup.html", {"form": form}, status=429)
        try:
            member = services.create_member(
                form.cleaned_data["local_part"], form.cleaned_data["password1"],
                display_name=form.cleaned_data["display_name"],
            )
        except ValidationError as exc:
            form.add_error("local_part", exc)
        else:
            login(request, member, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome! Your mailbox {member.email} is ready.")
            return redirect("account")
    return render(request, "accounts/signup.html", {"form": form})


def _safe_next(request: HttpRequest, url: str | None) -> str:
    """A local path to go on to, or the account page.

    A bare word does not pass: `redirect()` would take it for a URL name (NoReverseMatch,
    a 500 on a crafted login link).
    """
    if url and url.startswith(("/", "http://", "https://")) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def require_sudo_mode(view):
    """Ask for the password again if this session proved it more than SUDO_MODE_SECONDS ago.

    After confirming, the member comes back to the page (for a GET) or to the page the form
    was on (for a POST, whose data is not replayed: they submit again, knowingly).
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        return sudo_redirect(request) or view(request, *args, **kwargs)

    return wrapped


def sudo_redirect(request: HttpRequest) -> HttpResponse | None:
    """None if this session proved the password recently, else the redirect to confirm it.

    For views that need sudo mode only for some requests (e.g. a filter rule that forwards mail).
    """
    if security.sudo_is_fresh(request):
        return None
    came_from = _safe_next(request, request.META.get("HTTP_REFERER"))
    back = request.get_full_path() if request.method == "GET" else came_from
    # "Cancel" on the sudo page goes back to where the member was, never to a page
    # that would ask again.
    return redirect(f"{reverse('sudo')}?{urlencode({'next': back, 'cancel': came_from})}")


@sensitive_post_parameters("password")
@never_cache
def login_view(request):
    """Step one of logging in: the address and password (then, with 2FA, `login_code`).

    An unknown address and a wrong password get the same answer, in about the same time
    (Django's ModelBackend hashes the typed password even for an unknown address), and
    both count against the throttle of the address as typed.
    """
    if request.user.is_authenticated:
        return redirect(_safe_next(request, request.GET.get("next")))
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if request.method != "POST":
        return render(request, "accounts/login.html", {"form": LoginForm(request), "next": next_url})
    typed = normalize_login(request.POST.get("username", ""))
    throttle = LoginThrottle.for_request(request, typed)
    try:
        throttle.check()
    except Throttled as exc:
        form = LoginForm(request, initial={"username": request.POST.get("username", "")})
        return render(request, "accounts/login.html", {"form": form, "next": next_url, "error": exc.message},
                      status=429)
    form = LoginForm(request, data=request.POST)
    if not form.is_valid():
        if form.has_error("__all__", "invalid_login"):
            try:
                throttle.failure()
            except Throttled as exc:
                return render(request, "accounts/login.html", {"form": form, "next": next_url, "error": exc.message},
                              status=429)
        else:
            throttle.release()
        return render(request, "accounts/login.html", {"form": form, "next": next_url})
    member = form.get_user()
    if security.two_factor_enabled(member):
        # The account's failure count stays until the code is right too: clearing it here
        # would give someone who knows the password unlimited guesses at the code.
        throttle.release()
        security.start_pending_login(request, member, next_url)
        return redirect("login_code")
    throttle.success()
    # A half-finished 2FA login of someone else in this browser must not linger.
    security.end_pending_login(request)
    login(request, member, backend=MODEL_BACKEND)
    return redirect(_safe_next(request, next_url))


class LogoutView(auth_views.LogoutView):
    """Django's log-out (POST only), saying so on the login page it leads to."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        was_logged_in = request.user.is_authenticated
        response = super().post(request, *args, **kwargs)
        if was_logged_in:
            messages.info(request, "You are logged out.")
        return response


@sensitive_post_parameters("code")
@never_cache
def login_code(request):
    """Step two of logging in with 2FA: a code from the app, or a recovery code."""
    pending = security.pending_login(request)
    if pending is None:
        messages.error(request, "Please log in again: the first step expired.")
        return redirect("login")
    member, next_url = pending
    form = CodeForm(request.POST or None, autofocus=True)
    status = 200
    if request.method == "POST" and form.is_valid():
        throttle = LoginThrottle.for_request(request, member.email)
        try:
            throttle.check()
            used = security.verify_second_factor(member, form.cleaned_data["code"])
            if used:
                throttle.success()
                security.end_pending_login(request)
                login(request, member, backend=MODEL_BACKEND)
                if used == "recovery":
                    left = security.recovery_codes_left(member)
                    messages.warning(request, f"You logged in with a recovery code; it can not be used again. "
                                              f"{left} left. Make new ones under Settings if you are running out.")
                return redirect(_safe_next(request, next_url))
            form.add_error("code", "That code is not right. Type the current code from your app, or a recovery code.")
            status = 400
            throttle.failure()
        except Throttled as exc:
            form.errors["code"] = form.error_class([exc.message])
            status = 429
    return render(request, "accounts/login_code.html", {"form": form, "member": member}, status=status)


@login_required
@sensitive_post_parameters("password", "code")
@never_cache
def sudo(request):
    """Confirm the password (and, with 2FA, a code) before a sensitive change; throttled like the login."""
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    cancel_url = _safe_next(request, request.POST.get("cancel") or request.GET.get("cancel"))
    two_factor = security.two_factor_enabled(request.user)
    form = SudoForm(request.POST or None, two_factor=two_factor)
    status = 200
    if request.method == "POST" and form.is_valid():
        throttle = LoginThrottle.for_request(request, request.user.email)
        try:
            throttle.check()
            password_ok = request.user.check_password(form.cleaned_data["password"])
            # The code is only tried with the right password, so a wrong password never
            # burns a recovery code.
            if password_ok and two_factor and not security.verify_second_factor(request.user, form.cleaned_data["code"]):
                form.add_error("code", "That code is not right. Type the current code from your app, or a recovery code.")
                status = 400
                throttle.failure()
            elif password_ok:
                throttle.success()
                # check_password may upgrade the stored hash: keep this session valid.
                update_session_auth_hash(request, request.user)
                security.mark_authenticated(request)
                return redirect(next_url)
            else:
                form.add_error("password", "That is not your password.")
                status = 400
                throttle.failure()
        except Throttled as exc:
            form.errors["password"] = form.error_class([exc.message])
            status = 429
    return render(request, "accounts/sudo.html",
                  {"form": form, "next": next_url, "cancel": cancel_url, "two_factor": two_factor}, status=status)


def mail_program_settings() -> list[tuple[str, str, int]]:
    """What to type into a mail program: (what for, protocol, port) on PUBLIC_MAIL_HOST."""
    return [
        ("Reading mail (recommended)", "IMAP", settings.PUBLIC_IMAP_PORT),
        ("Reading mail (downloads it)", "POP3", settings.PUBLIC_POP3_PORT),
        ("Sending mail", "SMTP submission", settings.PUBLIC_SUBMISSION_PORT),
        ("Filters (Thunderbird, sieve-connect)", "ManageSieve", settings.PUBLIC_MANAGESIEVE_PORT),
    ]


def _overview(request, status=200, **forms):
    member = request.user
    addresses = list(
        member.addresses.select_related("domain").prefetch_related("targets").order_by("kind", "local_part")
    )
    context = {
        "member": member,
        "mailbox": next((a for a in addresses if a.kind == Address.Kind.MAILBOX), None),
        "aliases": [a for a in addresses if a.kind == Address.Kind.ALIAS],
        "redirections": [a for a in addresses if a.kind == Address.Kind.REDIRECTION],
        "slots_left": member.max_addresses - sum(a.kind != Address.Kind.MAILBOX for a in addresses),
        "pending_request": member.quota_requests.filter(status=QuotaRequest.Status.PENDING).first(),
        "recent_requests": member.quota_requests.exclude(status=QuotaRequest.Status.PENDING)[:3],
        "alias_form": forms.get("alias_form") or LocalPartForm(prefix="alias"),
        "redirection_form": forms.get("redirection_form") or RedirectionForm(prefix="redirection"),
        "quota_form": forms.get("quota_form") or QuotaRequestForm(member=member),
        "warning_levels": sorted(settings.QUOTA_WARNING_LEVELS),
        "mail_settings": mail_program_settings(),
        "checked_recently": member.quota_checked_at is not None
        and (timezone.now() - member.quota_checked_at).total_seconds() < 60,
        "PUBLIC_MAIL_HOST": settings.PUBLIC_MAIL_HOST,
        "PUBLIC_MAIL_SECURITY": settings.PUBLIC_MAIL_SECURITY,
        "two_factor_on": security.two_factor_enabled(member),
    }
    return render(request, "accounts/account.html", context, status=status)


@login_required
def account(request):
    # Usage comes from Dovecot through a worker; a visit asks for a fresh figure if the
    # last one is old (shown on the next visit: the page never waits for Dovecot).
    services.refresh_quota_usage_if_stale(request.user)
    return _overview(request)


@login_required
@require_POST
def alias_add(request):
    form = LocalPartForm(request.POST, prefix="alias")
    if form.is_valid():
        try:
            address = services.add_alias(request.user, form.cleaned_data["local_part"])
        except ValidationError as exc:
            form.add_error("local_part", exc)
        else:
            messages.success(request, f"{address.display} now delivers to your mailbox.")
            return redirect("account")
    return _overview(request, status=400, alias_form=form)


@login_required
@require_sudo_mode
@require_POST
def redirection_add(request):
    form = RedirectionForm(request.POST, prefix="redirection")
    if form.is_valid():
        try:
            address = services.add_redirection(
                request.user, form.cleaned_data["local_part"], form.cleaned_data["targets"],
                keep_copy=form.cleaned_data["keep_copy"],
            )
        except ValidationError as exc:
            form.add_error("targets" if getattr(exc, "code", None) == "bad_target" else "local_part", exc)
        else:
            messages.success(request, f"{address.display} now forwards to {', '.join(form.cleaned_data['targets'])}.")
            return redirect("account")
    return _overview(request, status=400, redirection_form=form)


@login_required
@require_sudo_mode
def redirection_edit(request, address_id: int):
    address = own_address(request.user, address_id, Address.Kind.REDIRECTION)
    initial = {"targets": "\n".join(address.targets.values_list("target", flat=True)), "keep_copy": address.keep_copy}
    form = RedirectionEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_redirection(address, form.cleaned_data["targets"], keep_copy=form.cleaned_data["keep_copy"])
        except ValidationError as exc:
            form.add_error("targets", exc)
        else:
            messages.success(request, f"Redirection {address.display} saved.")
            return redirect("account")
    return render(request, "accounts/redirection_edit.html", {"form": form, "address": address},
                  status=400 if form.errors else 200)


@login_required
@require_sudo_mode
@require_POST
def address_remove(request, address_id: int):
    address = own_address(request.user, address_id)
    try:
        services.remove_address(address, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"{address.display} removed.")
    return redirect("account")


@login_required
@require_POST
def quota_request(request):
    form = QuotaRequestForm(request.POST, member=request.user)
    if form.is_valid():
        try:
            services.request_quota(request.user, form.cleaned_data["requested_mb"], form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error("requested_mb", exc)
        else:
            messages.success(request, "Your request was sent to the administrators.")
            return redirect("account")
    return _overview(request, status=400, quota_form=form)


@login_required
@sensitive_post_parameters()
def password_change(request):
    """The Settings page's "Password" tab. Not behind sudo mode: the form asks for the old
    password itself (throttled like a login)."""
    form = MemberPasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST":
        # Guessing the old password from an open session is throttled like a login.
        throttle = LoginThrottle.for_request(request, request.user.email)
        try:
            throttle.check()
            if form.has_error("old_password", "password_incorrect"):
                throttle.failure()
            else:
                throttle.release()
        except Throttled as exc:
            return render(request, "accounts/password_change.html",
                          {"form": MemberPasswordChangeForm(request.user), "error": exc.message}, status=429)
    if request.method == "POST" and form.is_valid():
        services.change_password(request.user, form.cleaned_data["new_password1"])
        # Keeps this session; every other session of the member ends.
        update_session_auth_hash(request, request.user)
        messages.success(request, "Password changed. Use the new one in your mail programs too.")
        return redirect("account")
    return render(request, "accounts/password_change.html", {"form": form}, status=400 if form.errors else 200)


# Security: two-factor authentication and app passwords ------------------------------


def own_app_password(member, token_id: int) -> MailToken:
    """The member's own app password with that id, or 404: never another member's."""
    return get_object_or_404(security.app_passwords(member), pk=token_id)


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    # Our own SVG from our own otpauth URL: nothing typed by anyone ends up in it as markup.
    return mark_safe(image.to_string(encoding="unicode"))


def _grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i:i + size] for i in range(0, len(text), size))


def _security_page(request, status: int = 200, **extra) -> HttpResponse:
    member = request.user
    two_factor_on = security.two_factor_enabled(member)
    pending = None if two_factor_on else security.pending_totp_device(member)
    context = {
        "member": member,
        "two_factor_on": two_factor_on,
        "recovery_codes_left": security.recovery_codes_left(member) if two_factor_on else 0,
        "pending": pending,
        "code_checked": security.setup_code_checked(pending),
        "codes_shown": pending is not None and security.recovery_codes_shown(member),
        "app_passwords": list(security.app_passwords(member)),
        "check_form": extra.pop("check_form", None) or CodeForm(allow_recovery=False, label="Check code",
                                                                prefix="check"),
        "disable_form": extra.pop("disable_form", None) or CodeForm(prefix="disable"),
        "regenerate_form": extra.pop("regenerate_form", None) or CodeForm(prefix="regenerate"),
        "app_password_form": extra.pop("app_password_form", None) or AppPasswordForm(),
        **extra,
    }
    # Viewing the page needs no password, but the secret of a set-up in progress is only
    # shown in sudo mode: a borrowed session must not copy the key a member is about to use.
    context["secret_hidden"] = pending is not None and not security.sudo_is_fresh(request)
    if pending is not None and not context["secret_hidden"]:
        context["qr_svg"] = _qr_svg(pending.config_url)
        context["secret_text"] = _grouped(b32encode(pending.bin_key).decode())
    response = render(request, "accounts/security.html", context, status=status)
    # Secrets (the TOTP secret, recovery codes, a new app password) must not be cached.
    response["Cache-Control"] = "no-store"
    return response


@login_required
def security_page(request):
    """The Settings page (2-Factor Authentication and App passwords tabs). Looking needs no
    password; every change below does (sudo mode). A new secret made by the POST before is
    shown here once (POST-redirect-GET)."""
    return _security_page(request, **security.take_for_this_page(request))


def _security_redirect(anchor: str) -> HttpResponse:
    return redirect(f"{reverse('security')}#{anchor}")


@login_required
@require_sudo_mode
@require_POST
def two_factor_setup(request):
    """ "Setup all fields (needs Save)": a new secret, shown as a QR code; nothing is active yet."""
    try:
        security.start_two_factor_setup(request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return _security_redirect("two-factor")


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
            return True, 200
        form.add_error("code", "That code is not right. Check the time on your phone and type the code shown now.")
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
    form = CodeForm(request.POST, allow_recovery=False, prefix="check")
    if not form.is_valid():
        return _security_page(request, status=400, check_form=form)
    if security.pending_totp_device(request.user) is None:
        messages.error(request, "Click “Setup all fields (needs Save)” first.")
        return redirect("security")
    ok, status = _code_or_throttled(request, form, lambda code: security.check_setup_code(request.user, code))
    if ok:
        messages.success(request, "The code is right: your app works. Now show and keep your recovery codes.")
        return _security_redirect("two-factor")
    return _security_page(request, status=status, check_form=form)


@login_required
@require_sudo_mode
@require_POST
def two_factor_recovery_codes(request):
    """ "Show recovery codes": shown once, on the page this redirects to (a reload of that
    page does not make new ones)."""
    try:
        codes = security.setup_recovery_codes(request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return _security_redirect("two-factor")
    security.keep_for_next_page(request, recovery_codes=codes)
    return _security_redirect("recovery-codes")


@login_required
@require_sudo_mode
@require_POST
def two_factor_cancel(request):
    """ "Cancel set-up": the unfinished set-up is dropped; two-factor authentication stays off."""
    if security.cancel_two_factor_setup(request.user):
        messages.success(request, "Set-up cancelled. Two-factor authentication is off. "
                                  "You can delete the entry in your phone's app.")
    return _security_redirect("two-factor")


@login_required
@require_sudo_mode
@require_POST
def two_factor_save(request):
    """ "Save": 2FA on, and the member is logged out to log in again with a code."""
    try:
        security.activate_two_factor(request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return _security_redirect("two-factor")
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
        return _security_page(request, status=400, disable_form=form)
    ok, status = _code_or_throttled(request, form, lambda code: _disable(request.user, code))
    if ok:
        # Turning 2FA off ends the member's other web sessions; this one stays.
        update_session_auth_hash(request, request.user)
        messages.success(request, "Two-factor authentication is off. Your password works in mail programs again.")
        return redirect("security")
    return _security_page(request, status=status, disable_form=form)


def _disable(member, code: str) -> bool:
    security.disable_two_factor(member, code)
    return True


@login_required
@require_sudo_mode
@require_POST
@sensitive_post_parameters()
def two_factor_regenerate(request):
    form = CodeForm(request.POST, prefix="regenerate")
    if not form.is_valid():
        return _security_page(request, status=400, regenerate_form=form)
    codes: list[str] = []

    def regenerate(code: str) -> bool:
        codes.extend(security.regenerate_recovery_codes(request.user, code))
        return True

    ok, status = _code_or_throttled(request, form, regenerate)
    if ok:
        security.keep_for_next_page(request, recovery_codes=codes)
        return _security_redirect("recovery-codes")
    return _security_page(request, status=status, regenerate_form=form)


@login_required
@require_sudo_mode
@require_POST
def app_password_create(request):
    form = AppPasswordForm(request.POST)
    if form.is_valid():
        try:
            token, secret = security.create_app_password(request.user, form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            # Shown once, on the page this redirects to: the database keeps just its hash.
            security.keep_for_next_page(request, new_app_password_name=token.name, new_secret=secret)
            return _security_redirect("new-app-password")
    return _security_page(request, status=400, app_password_form=form)


@login_required
@require_sudo_mode
def app_password_revoke(request, token_id: int):
    """GET asks "Revoke “Phone”?"; the POST from that page revokes."""
    token = own_app_password(request.user, token_id)
    if request.method != "POST":
        return render(request, "accounts/app_password_revoke.html", {"token": token})
    security.revoke_app_password(token, actor=request.user)
    messages.success(request, f"App password “{token.name}” revoked. Programs using it can no longer log in.")
    return _security_redirect("app-passwords")
