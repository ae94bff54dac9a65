"""Admin for global Sieve rules. Saving compiles the script (sievec) and installs it in
Dovecot's global directory; a script that does not compile is refused with sievec's message."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from . import services
from .models import FilterSettings, GlobalRule, Rule


class GlobalRuleForm(forms.ModelForm):
    class Meta:
        model = GlobalRule
        fields = ("name", "description", "script", "offered", "included_by_default")
        widgets = {"script": forms.Textarea(attrs={"rows": 16, "cols": 90, "spellcheck": "false", "class": "code"})}

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("name") and cleaned.get("script"):
            try:
                services.check_global_rule(cleaned["name"], cleaned["script"])
            except ValidationError as exc:
                self.add_error("script", exc)
        return cleaned


@admin.register(GlobalRule)
class GlobalRuleAdmin(admin.ModelAdmin):
    form = GlobalRuleForm
    list_display = ("name", "description", "offered", "included_by_default", "updated_at")
    list_filter = ("offered", "included_by_default")
    search_fields = ("name", "description")
    readonly_fields = ("updated_at",)

    def save_model(self, request, obj, form, change):
        old_name = GlobalRule.objects.get(pk=obj.pk).name if change else None
        services.save_global_rule(obj, actor=request.user, old_name=old_name)

    def delete_model(self, request, obj):
        try:
            services.delete_global_rule(obj, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)

    def get_actions(self, request):
        # Bulk delete would bypass the in-use check.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    """Read-only: members change their rules on the Filters page (through ManageSieve)."""

    list_display = ("member", "position", "name", "enabled", "match")
    list_select_related = ("member",)
    search_fields = ("member__email", "name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(FilterSettings)
class FilterSettingsAdmin(admin.ModelAdmin):
    list_display = ("member", "includes", "spam_threshold", "vacation_enabled", "saved_at")
    list_select_related = ("member",)
    search_fields = ("member__email",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
