"""Django admin for domains. Saves are audited through accounts.services."""

from django.contrib import admin

from accounts import services
from accounts.addresses import normalize_domain
from accounts.models import AuditAction

from .models import Domain


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ("__str__", "name", "is_active", "description", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "description")

    def save_model(self, request, obj, form, change):
        obj.name = normalize_domain(obj.name)
        super().save_model(request, obj, form, change)
        services.audit(AuditAction.DOMAIN_SAVED, actor=request.user, domain=obj.name, active=obj.is_active)
