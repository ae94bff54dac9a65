"""The views that create and revoke app passwords (the Settings page's App passwords tab)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from .. import app_passwords
from ..decorators import require_sudo_mode
from ..forms import AppPasswordForm
from ..models import MailToken
from .security_page import render_security_page, security_redirect
from .show_once import keep_for_next_page


def own_app_password(member, token_id: int) -> MailToken:
    """The member's own app password with that id, or 404: never another member's."""
    return get_object_or_404(app_passwords.app_passwords(member), pk=token_id)


@login_required
@require_sudo_mode
@require_POST
def app_password_create(request):
    form = AppPasswordForm(request.POST)
    if form.is_valid():
        try:
            token, secret = app_passwords.create_app_password(request.user, form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error("name", exc)
        else:
            # Shown once, on the page this redirects to: the database keeps just its hash.
            keep_for_next_page(request, new_app_password_name=token.name, new_secret=secret)
            return security_redirect("new-app-password")
    return render_security_page(request, status=400, tab="app-passwords", app_password_form=form)


@login_required
@require_sudo_mode
def app_password_revoke(request, token_id: int):
    """GET asks "Revoke “Phone”?"; the POST from that page revokes."""
    token = own_app_password(request.user, token_id)
    if request.method != "POST":
        return render(request, "accounts/app_password_revoke.html", {"token": token})
    app_passwords.revoke_app_password(token, actor=request.user)
    messages.success(request, f"App password “{token.name}” revoked. Programs using it can no longer log in.")
    return security_redirect("app-passwords")
