"""The sign-up page: a new member chooses an address and a password, and is logged in."""

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from .. import services
from ..forms import SignupForm
from ..throttle import Throttled, count_signup


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
