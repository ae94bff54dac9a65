"""The account page: the member's addresses, aliases, redirections and quota, and their forms.

Thin views: parse with a form, fetch through a permission helper, call one service,
render or redirect.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from .. import services, twofactor
from ..decorators import require_sudo_mode
from ..forms import LocalPartForm, QuotaRequestForm, RedirectionEditForm, RedirectionForm
from ..models import Address, QuotaRequest


def own_address(member, address_id: int, kind: str | None = None) -> Address:
    """The member's own address with that id, or 404: never another member's."""
    qs = Address.objects.filter(owner=member).select_related("domain")
    if kind:
        qs = qs.filter(kind=kind)
    return get_object_or_404(qs, pk=address_id)


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
        "two_factor_on": twofactor.two_factor_enabled(member),
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
