"""Logging in and out: the address and password, then (with 2FA) a code; log-out.

Failed attempts at either step count against the login throttle (accounts.throttle).
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from .. import twofactor
from ..forms import CodeForm, LoginForm, normalize_login
from ..navigation import safe_next
from ..throttle import LoginThrottle, Throttled, remember_device

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@sensitive_post_parameters("password")
@never_cache
def login_view(request):
    """Step one of logging in: the address and password (then, with 2FA, `login_code`).

    An unknown address and a wrong password get the same answer, in about the same time
    (Django's ModelBackend hashes the typed password even for an unknown address), and
    both count against the throttle of the address as typed.
    """
    if request.user.is_authenticated:
        return redirect(safe_next(request, request.GET.get("next")))
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
    if twofactor.two_factor_enabled(member):
        # The account's failure count stays until the code is right too: clearing it here
        # would give someone who knows the password unlimited guesses at the code.
        throttle.release()
        twofactor.start_pending_login(request, member, next_url)
        return redirect("login_code")
    throttle.success()
    # A half-finished 2FA login of someone else in this browser must not linger.
    twofactor.end_pending_login(request)
    login(request, member, backend=MODEL_BACKEND)
    response = redirect(safe_next(request, next_url))
    remember_device(response, member.email)
    return response


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
    pending = twofactor.pending_login(request)
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
            used = twofactor.verify_second_factor(member, form.cleaned_data["code"])
            if used:
                throttle.success()
                twofactor.end_pending_login(request)
                login(request, member, backend=MODEL_BACKEND)
                if used == "recovery":
                    left = twofactor.recovery_codes_left(member)
                    messages.warning(request, f"You logged in with a recovery code; it can not be used again. "
                                              f"{left} left. Make new ones under Settings if you are running out.")
                response = redirect(safe_next(request, next_url))
                remember_device(response, member.email)
                return response
            form.add_error("code", twofactor.WRONG_CODE)
            status = 400
            throttle.failure()
        except Throttled as exc:
            form.errors["code"] = form.error_class([exc.message])
            status = 429
    return render(request, "accounts/login_code.html", {"form": form, "member": member}, status=status)
