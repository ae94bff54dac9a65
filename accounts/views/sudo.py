"""The sudo page: the password (and, with 2FA, a code) confirmed again before a sensitive change.

Views that need it are wrapped with accounts.decorators.require_sudo_mode, which sends the
browser here.
"""

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from .. import twofactor
from ..forms import SudoForm
from ..navigation import safe_next
from ..sudo import mark_authenticated
from ..throttle import LoginThrottle, Throttled


@login_required
@sensitive_post_parameters("password", "code")
@never_cache
def sudo(request):
    """Confirm the password (and, with 2FA, a code) before a sensitive change; throttled like the login."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    cancel_url = safe_next(request, request.POST.get("cancel") or request.GET.get("cancel"))
    two_factor = twofactor.two_factor_enabled(request.user)
    form = SudoForm(request.POST or None, two_factor=two_factor)
    status = 200
    if request.method == "POST" and form.is_valid():
        throttle = LoginThrottle.for_request(request, request.user.email)
        try:
            throttle.check()
            password_ok = request.user.check_password(form.cleaned_data["password"])
            # The code is only tried with the right password, so a wrong password never
            # burns a recovery code.
            if password_ok and two_factor and not twofactor.verify_second_factor(request.user, form.cleaned_data["code"]):
                form.add_error("code", twofactor.WRONG_CODE)
                status = 400
                throttle.failure()
            elif password_ok:
                throttle.success()
                # check_password may upgrade the stored hash: keep this session valid.
                update_session_auth_hash(request, request.user)
                mark_authenticated(request)
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
