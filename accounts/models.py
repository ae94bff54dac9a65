"""Members, their addresses, quota requests and the audit log (domains: the domains app).

PostgreSQL is the source of truth for the mail servers too: Dovecot and Postfix read
these tables through the SQL views created in the migrations (0002_mail_views and its successors).
"""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from domains.models import Domain

from .addresses import display_domain


class MemberManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email=username.strip().lower())

    def create_user(self, email, password=None, **extra):
        # Full member creation (with mailbox address) is accounts.services.create_member.
        member = self.model(email=email.strip().lower(), **extra)
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class Member(AbstractBaseUser, PermissionsMixin):
    """A member: a login, a mailbox (its primary address), and a quota."""

    email = models.EmailField("mailbox address", max_length=254, unique=True)
    display_name = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(
        "enabled", default=True, help_text="Disabled members can not log in anywhere: web, IMAP, POP3, ManageSieve, SMTP."
    )
    is_staff = models.BooleanField("admin", default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    quota_mb = models.PositiveIntegerField("quota (MB)", default=settings.DEFAULT_QUOTA_MB)
    max_addresses = models.PositiveIntegerField(
        "address limit", default=settings.DEFAULT_MAX_ADDRESSES, help_text="Aliases plus redirections."
    )
    # Last usage Dovecot reported (refreshed by a periodic task), in KiB.
    quota_used_kb = models.PositiveBigIntegerField(default=0)
    quota_checked_at = models.DateTimeField(null=True, blank=True)
    # The highest warning level (e.g. 80, 95) already mailed to the member; 0 for none.
    quota_warning_level = models.PositiveSmallIntegerField(default=0)
    # Changed whenever every open web session must end without a password change (2FA
    # turned on or off, reset by an admin): it is part of the session auth hash below.
    security_stamp = models.CharField(max_length=32, blank=True, default="", editable=False)

    objects = MemberManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(condition=models.Q(email=Lower("email")), name="member_email_lower_case"),
        ]

    def __str__(self):
        return self.email

    @property
    def quota_percent(self) -> int:
        if not self.quota_mb:
            return 0
        return min(100, round(self.quota_used_kb * 100 / (self.quota_mb * 1024)))

    @property
    def quota_used_mb(self) -> float:
        return round(self.quota_used_kb / 1024, 1)

    def _get_session_auth_hash(self, secret=None):
        # Django ends sessions whose stored hash no longer matches (password change); mixing
        # in the stamp ends them on security changes too. An empty stamp gives Django's own
        # hash, so sessions opened before the stamp existed stay valid.
        from django.utils.crypto import salted_hmac

        key_salt = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"
        return salted_hmac(key_salt, self.password + self.security_stamp, secret=secret, algorithm="sha256").hexdigest()


class Address(models.Model):
    """Every address we deliver for: a mailbox, an alias to it, or a redirection.

    One table for the three kinds, so that the database itself keeps an address unique
    across mailboxes, aliases and redirections.
    """

    class Kind(models.TextChoices):
        MAILBOX = "mailbox", "Mailbox"
        ALIAS = "alias", "Alias"
        REDIRECTION = "redirection", "Redirection"

    local_part = models.CharField(max_length=64)
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="addresses")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    owner = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="addresses")
    # Redirections only: also deliver a copy to the owner's mailbox.
    keep_copy = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain__name", "local_part"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(fields=["local_part", "domain"], name="address_unique"),
            models.UniqueConstraint(
                fields=["owner"], condition=models.Q(kind="mailbox"), name="one_mailbox_per_member"
            ),
            models.CheckConstraint(
                condition=models.Q(local_part=Lower("local_part")), name="address_local_part_lower_case"
            ),
        ]

    def __str__(self):
        return self.email

    @property
    def email(self) -> str:
        return f"{self.local_part}@{self.domain.name}"

    @property
    def display(self) -> str:
        return f"{self.local_part}@{display_domain(self.domain.name)}"


class RedirectionTarget(models.Model):
    """One destination of a redirection (an address, usually outside)."""

    address = models.ForeignKey(Address, on_delete=models.CASCADE, related_name="targets")
    target = models.CharField(max_length=254)

    class Meta:
        ordering = ["target"]
        constraints = [models.UniqueConstraint(fields=["address", "target"], name="redirection_target_unique")]

    def __str__(self):
        return self.target


class QuotaRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="quota_requests")
    current_mb = models.PositiveIntegerField()
    requested_mb = models.PositiveIntegerField()
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    admin_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"], condition=models.Q(status="pending"), name="one_pending_quota_request"
            ),
        ]

    def __str__(self):
        return f"{self.member}: {self.current_mb} → {self.requested_mb} MB ({self.status})"


class AuditAction(models.TextChoices):
    """Every kind of audit-log entry: one member each, so that none is spelled at run time."""

    MEMBER_CREATED = "member.created", "Member created"
    MEMBER_CHANGED_BY_ADMIN = "member.changed_by_admin", "Member changed by an admin"
    MEMBER_ENABLED = "member.enabled", "Member enabled"
    MEMBER_DISABLED = "member.disabled", "Member disabled"
    MEMBER_PASSWORD_CHANGED = "member.password_changed", "Password changed"
    ADDRESS_ALIAS_ADDED = "address.alias_added", "Alias added"
    ADDRESS_REDIRECTION_ADDED = "address.redirection_added", "Redirection added"
    ADDRESS_REDIRECTION_CHANGED = "address.redirection_changed", "Redirection changed"
    ADDRESS_ALIAS_REMOVED = "address.alias_removed", "Alias removed"
    ADDRESS_REDIRECTION_REMOVED = "address.redirection_removed", "Redirection removed"
    ADDRESS_SAVED_BY_ADMIN = "address.saved_by_admin", "Address saved by an admin"
    ADDRESS_DELETED_BY_ADMIN = "address.deleted_by_admin", "Address deleted by an admin"
    DOMAIN_SAVED = "domain.saved", "Domain saved"
    QUOTA_REQUESTED = "quota.requested", "More space requested"
    QUOTA_REQUEST_APPROVED = "quota.request_approved", "Request for space approved"
    QUOTA_REQUEST_REJECTED = "quota.request_rejected", "Request for space rejected"
    QUOTA_CHANGED = "quota.changed", "Quota changed"
    QUOTA_WARNING_SENT = "quota.warning_sent", "Quota warning sent"
    TWO_FACTOR_SETUP_STARTED = "two_factor.setup_started", "2FA set-up started"
    TWO_FACTOR_SETUP_CANCELLED = "two_factor.setup_cancelled", "2FA set-up cancelled"
    TWO_FACTOR_ENABLED = "two_factor.enabled", "2FA turned on"
    TWO_FACTOR_DISABLED = "two_factor.disabled", "2FA turned off"
    TWO_FACTOR_RECOVERY_CODE_USED = "two_factor.recovery_code_used", "Recovery code used"
    TWO_FACTOR_RECOVERY_CODES_REGENERATED = "two_factor.recovery_codes_regenerated", "New recovery codes"
    TWO_FACTOR_RESET_BY_ADMIN = "two_factor.reset_by_admin", "2FA reset by an admin"
    APP_PASSWORD_CREATED = "app_password.created", "App password created"
    APP_PASSWORD_REVOKED = "app_password.revoked", "App password revoked"
    FILTERS_RULE_SAVED = "filters.rule_saved", "Filter rule saved"
    FILTERS_RULE_ENABLED = "filters.rule_enabled", "Filter rule enabled"
    FILTERS_RULE_DISABLED = "filters.rule_disabled", "Filter rule disabled"
    FILTERS_RULE_DELETED = "filters.rule_deleted", "Filter rule deleted"
    FILTERS_OPTIONS_SAVED = "filters.options_saved", "Spam settings saved"
    FILTERS_VACATION_SAVED = "filters.vacation_saved", "Automatic reply saved"
    FILTERS_IMPORTED = "filters.imported", "Filter script imported into the editor"
    FILTERS_SCRIPT_SAVED = "filters.script_saved", "Sieve script saved"
    FILTERS_SCRIPT_ACTIVATED = "filters.script_activated", "Sieve script activated"
    FILTERS_SCRIPT_DELETED = "filters.script_deleted", "Sieve script deleted"
    FILTERS_GLOBAL_RULE_SAVED = "filters.global_rule_saved", "Global rule saved"
    FILTERS_GLOBAL_RULE_DELETED = "filters.global_rule_deleted", "Global rule deleted"


class AuditLog(models.Model):
    """Who did what, when: every state change made through accounts.services."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries",
        help_text="The member the change is about.",
    )
    action = models.CharField(max_length=50, choices=AuditAction.choices, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor or 'system'}: {self.action}"


class MailToken(models.Model):
    """A secret that logs a member in to IMAP, POP3, ManageSieve and SMTP instead of the password.

    Dovecot checks these itself, in a second, fast SQL passdb (the `mail_tokens` view and the
    `mail_token_login()` function, migrations 0004 and 0007): only the SHA-256 of the secret is stored,
    so a check costs one index lookup instead of an Argon2 hash. Random secrets with enough
    entropy need no slow hash.

    One table for every kind of token, so the webmail's per-session IMAP tokens (minted at
    web login, bound to the web session) can later use the same passdb without rework:
    `expires_at` ends a token by itself, `allow_nets` limits where it may be used from
    (Dovecot's `allow_nets` passdb field, e.g. the web host's address).
    """

    class Kind(models.TextChoices):
        APP_PASSWORD = "app", "App password"
        WEB_SESSION = "web", "Webmail session"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="mail_tokens")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.APP_PASSWORD)
    name = models.CharField(max_length=60)
    # hex SHA-256 of the secret (see accounts.app_passwords.token_hashes). Dovecot hashes what
    # the program sends, so a secret shown in groups ("abcd efgh …") also has the hash of
    # its grouped form: members may type it with or without the spaces.
    token_hash = models.CharField(max_length=64, unique=True)
    grouped_hash = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # Written by Dovecot's passdb lookup (mail_token_login), at most once a minute.
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    allow_nets = models.CharField(max_length=200, blank=True)
    # Web-session tokens only: the Django session they belong to (revoked at its logout).
    session_key = models.CharField(max_length=40, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["member", "kind"])]

    def __str__(self):
        return f"{self.member}: {self.name} ({self.get_kind_display()})"


class OutboxMail(models.Model):
    """A mail the service owes a member, written in the same transaction as the change it tells of.

    A worker delivers it over LMTP as soon as the change commits (accounts.outbox.deliver); a
    periodic sweep retries what is still unsent, so neither Redis being down when it was
    queued, nor a worker killed mid-task, nor Dovecot being down for a while loses it. The
    message is built at the time of the change, so it says what was true then, and its
    Message-ID is fixed: the one duplicate the outbox can not rule out is recognisable.
    """

    class Kind(models.TextChoices):
        SECURITY_NOTICE = "security_notice", "Security notice"
        QUOTA_DECISION = "quota_decision", "Quota decision"
        QUOTA_WARNING = "quota_warning", "Quota warning"

    # Null once the member is deleted: the mail is then dropped, not retried.
    member = models.ForeignKey(Member, null=True, on_delete=models.SET_NULL, related_name="+")
    recipient = models.CharField(max_length=254)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.BinaryField()
    message_id = models.CharField("Message-ID", max_length=254)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set instead of sent_at when the member was disabled or deleted before delivery.
    dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "outbox mail"
        verbose_name_plural = "outbox"
        indexes = [
            # The sweep's question: what is unsent and due? (A handful of rows, however big the table.)
            models.Index(
                fields=["next_attempt_at"], name="outbox_mail_due",
                condition=models.Q(sent_at__isnull=True, dropped_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.recipient}"
