"""The mail domains we receive mail for.

The table keeps its first name, ``accounts_domain`` (the model moved here from
accounts): the SQL views that Dovecot and Postfix read name it (created in
``accounts/migrations/0002_mail_views.py`` and later migrations).
"""

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.addresses import display_domain


class Domain(models.Model):
    """A mail domain we receive mail for. Stored as a lower-case IDNA A-label."""

    name = models.CharField(max_length=253, unique=True)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "accounts_domain"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(name=Lower("name")), name="domain_name_lower_case"),
        ]

    def __str__(self):
        return display_domain(self.name)
