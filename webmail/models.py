"""The member's webmail settings: one row per member, written the first time they save
(webmail.preferences reads the defaults for a member without one)."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

PAGE_SIZES = (25, 50, 100, 200)
MAX_TRUSTED_SENDERS = 500


class MarkRead(models.TextChoices):
    AT_ONCE = "now", "At once"
    DELAYED = "delay", "After some seconds"
    NEVER = "never", "Never: I mark messages read myself"


class ListView(models.TextChoices):
    MESSAGES = "messages", "Messages"
    CONVERSATIONS = "conversations", "Conversations"


class WebmailSettings(models.Model):
    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webmail_settings")
    page_size = models.PositiveSmallIntegerField(default=50, choices=[(n, str(n)) for n in PAGE_SIZES])
    mark_read = models.CharField(max_length=5, choices=MarkRead.choices, default=MarkRead.AT_ONCE)
    mark_read_seconds = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(2), MaxValueValidator(60)])
    list_view = models.CharField(max_length=13, choices=ListView.choices, default=ListView.MESSAGES)
    # Addresses (lower-case, IDNA domain: webmail.preferences.normalise_address) whose
    # mail shows remote content without asking. A list on the row: read with the rest in
    # one query; writes lock the row (webmail.preferences).
    trusted_senders = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "webmail settings"
        verbose_name_plural = "webmail settings"

    def __str__(self):
        return f"webmail settings of {self.member}"
