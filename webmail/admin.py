"""The members' webmail settings, to look at (they change them themselves)."""

from django.contrib import admin

from .models import WebmailSettings


@admin.register(WebmailSettings)
class WebmailSettingsAdmin(admin.ModelAdmin):
    list_display = ("member", "page_size", "mark_read", "list_view", "updated_at")
    list_select_related = ("member",)
    search_fields = ("member__email",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
