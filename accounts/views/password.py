"""The Settings page's "Password" tab: changing the main password."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from .. import services
from ..forms import MemberPasswordChangeForm
from ..throttle import LoginThrottle, Throttled


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
