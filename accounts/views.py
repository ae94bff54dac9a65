"""Member-facing pages: sign-up, log-in, the account page and its address and quota forms.

Thin views: parse with a form, fetch through a permission helper, call one service,
render or redirect.
"""

from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import services
from .forms import (
    LocalPartForm,
    LoginForm,
    MemberPasswordChangeForm,
    QuotaRequestForm,
    RedirectionEditForm,
    RedirectionForm,
    SignupForm,
)
from .models import Address, QuotaRequest


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


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


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
        "alias_form": forms.get("alias_form") or LocalPartForm(),
        "redirection_form": forms.get("redirection_form") or RedirectionForm(),
        "quota_form": forms.get("quota_form") or QuotaRequestForm(member=member),
        "warning_levels": sorted(services.settings.QUOTA_WARNING_LEVELS),
    }
    return render(request, "accounts/account.html", context, status=status)


@login_required
def account(request):
    return _overview(request)


@login_required
@require_POST
def alias_add(request):
    form = LocalPartForm(request.POST)
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
@require_POST
def redirection_add(request):
    form = RedirectionForm(request.POST)
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
def password_change(request):
    form = MemberPasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.change_password(request.user, form.cleaned_data["new_password1"])
        # Keeps this session; every other session of the member ends.
        update_session_auth_hash(request, request.user)
        messages.success(request, "Password changed. Use the new one in your mail programs too.")
        return redirect("account")
    return render(request, "accounts/password_change.html", {"form": form}, status=400 if form.errors else 200)
