"""Django admin for members, addresses, quota requests and the audit log (domains: domains/admin.py).

Changes that matter to the mail servers (enabling, quota, decisions) go through
accounts.services so that they are audited and take effect in Dovecot.
"""

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import app_passwords, services, twofactor
from .models import Address, AuditAction, AuditLog, MailToken, Member, OutboxMail, QuotaRequest, RedirectionTarget


def may_act_on(admin_member: Member, member: Member | None) -> bool:
    """Whether an admin may change `member`: administrators (staff) only by a superuser, or a
    staff member could take over an administrator's account or mail."""
    if member is None or admin_member.is_superuser:
        return True
    return not (member.is_staff or member.is_superuser)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records to read, never to edit: what happened (audit log), what was sent (outbox)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AddressInline(admin.TabularInline):
    model = Address
    fields = ("local_part", "domain", "kind", "keep_copy", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class MemberCreationForm(forms.ModelForm):
    local_part = forms.CharField(label="Mailbox name", help_text="The part before the @ on the service domain.")
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    class Meta:
        model = Member
        fields = ("display_name", "quota_mb", "max_addresses", "is_staff")

    def clean_local_part(self):
        return services.check_new_local_part(self.cleaned_data["local_part"], services.service_domain(), allow_reserved=True)

    def clean_password(self):
        password = self.cleaned_data["password"]
        password_validation.validate_password(password)
        return password


def _day(moment):
    """A day in the list (the member's page has the full time)."""
    from django.utils import formats, timezone

    return formats.date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT") if moment else "never"


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    # Compact columns: the list must fit a 1280-pixel screen (long addresses wrap in "member").
    list_display = ("member", "is_active", "usage", "address_count", "is_staff", "joined", "last_seen")
    list_display_links = ("member",)
    list_filter = ("is_active", "is_staff", "date_joined")
    search_fields = ("email", "display_name", "addresses__local_part")
    readonly_fields = ("email", "date_joined", "last_login", "usage", "quota_checked_at", "quota_warning_level",
                       "two_factor", "app_password_count", "history")
    fields = ("email", "display_name", "is_active", "is_staff", "is_superuser", "quota_mb", "max_addresses",
              "usage", "quota_checked_at", "quota_warning_level", "date_joined", "last_login",
              "two_factor", "app_password_count", "history")
    inlines = [AddressInline]
    actions = ["disable_members", "enable_members", "reset_two_factor", "set_new_password"]
    ordering = ("email",)

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_addresses=Count("addresses"))

    @admin.display(description="used", ordering="quota_used_kb")
    def usage(self, obj):
        # No-break spaces: the figure stays on one line in the narrow column.
        return f"{obj.quota_percent}\u00a0% of {obj.quota_mb}\u00a0MB"

    @admin.display(description="member", ordering="email")
    def member(self, obj):
        from django.utils.html import format_html

        if not obj.display_name:
            return obj.email
        return format_html('{}<br><span class="quiet">{}</span>', obj.email, obj.display_name)

    @admin.display(description="joined", ordering="date_joined")
    def joined(self, obj):
        return _day(obj.date_joined)

    @admin.display(description="last login", ordering="last_login")
    def last_seen(self, obj):
        return _day(obj.last_login)

    @admin.display(description="history")
    def history(self, obj):
        from django.utils.html import format_html

        log = reverse("admin:accounts_auditlog_changelist") + f"?member__id__exact={obj.pk}"
        requests = reverse("admin:accounts_quotarequest_changelist") + f"?member__id__exact={obj.pk}"
        return format_html('<a href="{}">Audit log</a> · <a href="{}">Quota requests</a>', log, requests)

    @admin.action(description="Set a new password (member forgot theirs): shown once", permissions=["change"])
    def set_new_password(self, request, queryset):
        import secrets

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one member to give a new password.", messages.ERROR)
            return
        member = queryset.get()
        if not may_act_on(request.user, member):
            self.message_user(request, "Only a superuser can set a new password for an administrator.", messages.ERROR)
            return
        password = secrets.token_urlsafe(12)
        services.change_password(member, password, actor=request.user)
        self.message_user(
            request,
            f"New password for {member.email}: {password} — shown only now. Give it to the member over a channel "
            "you trust and ask them to change it at once; their open sessions have ended.",
            messages.WARNING,
        )

    @admin.display(description="addresses", ordering="n_addresses")
    def address_count(self, obj):
        return obj.n_addresses

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = MemberCreationForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("local_part", "password", "display_name", "quota_mb", "max_addresses", "is_staff")
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return () if request.user.is_superuser else ("is_staff",)
        # Only superusers hand out admin rights.
        extra = () if request.user.is_superuser else ("is_staff", "is_superuser")
        return self.readonly_fields + extra

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def has_change_permission(self, request, obj=None):
        # Other staff see an administrator's page but can not change it.
        return super().has_change_permission(request, obj) and may_act_on(request.user, obj)

    def _members_allowed(self, request, queryset) -> list[Member]:
        """The selected members this admin may act on; says which were left alone."""
        allowed = [m for m in queryset if may_act_on(request.user, m)]
        skipped = [m.email for m in queryset if m not in allowed]
        if skipped:
            self.message_user(request, f"Only a superuser can do that to an administrator: {', '.join(skipped)} "
                                       "left unchanged.", messages.ERROR)
        return allowed

    def save_model(self, request, obj, form, change):
        if not change:
            created = services.create_member(
                form.cleaned_data["local_part"], form.cleaned_data["password"], actor=request.user,
                allow_reserved=True, display_name=obj.display_name, quota_mb=obj.quota_mb,
                max_addresses=obj.max_addresses, is_staff=obj.is_staff,
            )
            obj.pk = created.pk
            obj.email = created.email
            return
        old = Member.objects.get(pk=obj.pk)
        if old.quota_mb != obj.quota_mb:
            services.set_quota(old, obj.quota_mb, actor=request.user)
        if old.is_active != obj.is_active:
            services.set_member_active(old, obj.is_active, actor=request.user)
        obj.save(update_fields=["display_name", "is_staff", "is_superuser", "max_addresses"])
        services.audit(AuditAction.MEMBER_CHANGED_BY_ADMIN, actor=request.user, member=obj,
                       fields=[f for f in form.changed_data if f not in ("quota_mb", "is_active")])

    @admin.action(description="Disable selected members (no login anywhere)", permissions=["change"])
    def disable_members(self, request, queryset):
        members = self._members_allowed(request, queryset)
        for member in members:
            services.set_member_active(member, False, actor=request.user)
        self.message_user(request, f"{len(members)} member(s) disabled.", messages.SUCCESS)

    @admin.display(description="two-factor authentication")
    def two_factor(self, obj):
        if not twofactor.two_factor_enabled(obj):
            return "off"
        return f"on ({twofactor.recovery_codes_left(obj)} recovery codes left) — reset with the action in the member list"

    @admin.display(description="app passwords")
    def app_password_count(self, obj):
        return app_passwords.app_passwords(obj).count()

    @admin.action(description="Reset two-factor authentication (member lost phone and recovery codes)", permissions=["change"])
    def reset_two_factor(self, request, queryset):
        done = sum(twofactor.reset_two_factor(member, actor=request.user)
                   for member in self._members_allowed(request, queryset))
        self.message_user(request, f"Two-factor authentication reset for {done} member(s); "
                                   "they log in with their password alone now.", messages.SUCCESS)

    @admin.action(description="Enable selected members", permissions=["change"])
    def enable_members(self, request, queryset):
        members = self._members_allowed(request, queryset)
        for member in members:
            services.set_member_active(member, True, actor=request.user)
        self.message_user(request, f"{len(members)} member(s) enabled.", messages.SUCCESS)


class RedirectionTargetInline(admin.TabularInline):
    model = RedirectionTarget
    extra = 0


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "owner", "keep_copy", "created_at")
    list_filter = ("kind", "domain")
    search_fields = ("local_part", "owner__email", "targets__target")
    list_select_related = ("domain", "owner")
    raw_id_fields = ("owner",)
    inlines = [RedirectionTargetInline]

    def get_readonly_fields(self, request, obj=None):
        # Who owns an address and what it is change only through accounts.services (a
        # mailbox turned into a redirection, or given to someone else, takes its mail along).
        return ("local_part", "domain", "kind", "owner", "created_at") if obj else ("created_at",)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and may_act_on(request.user, obj and obj.owner)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and may_act_on(request.user, obj and obj.owner)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.audit(AuditAction.ADDRESS_SAVED_BY_ADMIN, actor=request.user, member=obj.owner, address=obj.email, kind=obj.kind)

    def delete_model(self, request, obj):
        services.audit(AuditAction.ADDRESS_DELETED_BY_ADMIN, actor=request.user, member=obj.owner, address=obj.email)
        super().delete_model(request, obj)


@admin.register(QuotaRequest)
class QuotaRequestAdmin(admin.ModelAdmin):
    list_display = ("member", "current_mb", "requested_mb", "member_usage", "short_reason", "status", "created_at",
                    "decided_by", "decided_at")
    list_filter = ("status", "created_at")
    search_fields = ("member__email", "reason")
    list_select_related = ("member", "decided_by")
    readonly_fields = ("member", "current_mb", "requested_mb", "reason", "status", "created_at", "decided_by", "decided_at")
    fields = readonly_fields + ("admin_note",)
    actions = ["approve", "reject"]
    change_form_template = "admin/accounts/quotarequest/change_form.html"

    def get_queryset(self, request):
        from django.db.models import Case, IntegerField, Value, When

        # Waiting requests first.
        return super().get_queryset(request).annotate(
            waiting=Case(When(status=QuotaRequest.Status.PENDING, then=Value(0)), default=Value(1),
                         output_field=IntegerField())
        ).order_by("waiting", "-created_at")

    @admin.display(description="usage now")
    def member_usage(self, obj):
        return f"{obj.member.quota_used_mb} MB ({obj.member.quota_percent} %)"

    @admin.display(description="reason")
    def short_reason(self, obj):
        return obj.reason if len(obj.reason) <= 60 else obj.reason[:59] + "…"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Requests are the history of quota decisions.
        return False

    def response_change(self, request, obj):
        for button, approve in (("_approve", True), ("_reject", False)):
            if button in request.POST and obj.status == QuotaRequest.Status.PENDING:
                services.decide_quota_request(obj, approve, actor=request.user, note=obj.admin_note)
                verb = "approved" if approve else "rejected"
                self.message_user(request, f"Request of {obj.member} {verb}; they are told by mail.", messages.SUCCESS)
                return redirect("admin:accounts_quotarequest_changelist")
        return super().response_change(request, obj)

    def _decide(self, request, queryset, approve: bool):
        done = 0
        for qr in queryset.filter(status=QuotaRequest.Status.PENDING):
            services.decide_quota_request(qr, approve, actor=request.user, note=qr.admin_note)
            done += 1
        verb = "approved" if approve else "rejected"
        self.message_user(request, f"{done} request(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Approve selected requests (sets the new quota)", permissions=["change"])
    def approve(self, request, queryset):
        self._decide(request, queryset, True)

    @admin.action(description="Reject selected requests", permissions=["change"])
    def reject(self, request, queryset):
        self._decide(request, queryset, False)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "member", "details")
    list_filter = ("action", "created_at")
    search_fields = ("action", "actor__email", "member__email")
    list_select_related = ("actor", "member")
    date_hierarchy = "created_at"


@admin.register(MailToken)
class MailTokenAdmin(admin.ModelAdmin):
    """App passwords: visible (never their secret) and revocable, not editable."""

    list_display = ("member", "name", "kind", "created_at", "last_used_at", "expires_at")
    list_filter = ("kind", "created_at")
    search_fields = ("member__email", "name")
    list_select_related = ("member",)
    fields = ("member", "name", "kind", "created_at", "last_used_at", "expires_at", "allow_nets")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        app_passwords.revoke_app_password(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for token in queryset:
            app_passwords.revoke_app_password(token, actor=request.user)


# django-otp's own admin pages show TOTP secrets and change devices without an audit
# trail; 2FA is managed through the member action above instead.
for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


def _admin_login(request, extra_context=None):
    """The admin logs in through the member login, so 2FA and the throttle apply there too."""
    if request.user.is_authenticated:
        # Logged in but not staff: sending them to the login page would loop.
        raise PermissionDenied
    next_url = request.GET.get("next") or reverse("admin:index")
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")


admin.site.login = _admin_login
admin.site.site_header = "DuckMail administration"
admin.site.site_title = "DuckMail admin"
# The list pages need the width (the member list must fit 1280 pixels); the index page and
# the breadcrumbs lead everywhere the sidebar did.
admin.site.enable_nav_sidebar = False


def _admin_password_change(request, extra_context=None):
    """The admin's own "Change password" is the member password page (Settings → Password),
    so the change is audited, announced by mail and throttled like any member's."""
    return redirect("password_change")


admin.site.password_change = _admin_password_change


@admin.register(OutboxMail)
class OutboxMailAdmin(ReadOnlyAdmin):
    """The mails the service owes members: what is waiting, why, and what was sent. Read-only:
    the sweep retries by itself, and the message is as it was written at the change."""

    list_display = ("recipient", "kind", "created_at", "sent_at", "dropped_at", "attempts", "next_attempt_at",
                    "last_error")
    list_filter = ("kind", ("sent_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("recipient", "message_id")
    fields = ("recipient", "kind", "message_id", "created_at", "sent_at", "dropped_at", "attempts", "next_attempt_at",
              "last_error")
    readonly_fields = fields
