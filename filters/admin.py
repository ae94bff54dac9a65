"""Admin for global Sieve rules. Saving compiles the script (sievec) and installs it in
Dovecot's global directory; a script that does not compile is refused with sievec's message."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from duckmail.lib import managesieve

from .models import FilterSettings, GlobalRule, Rule
from .services import global_rules


class GlobalRuleForm(forms.ModelForm):
    class Meta:
        model = GlobalRule
        fields = ("name", "description", "script", "offered", "included_by_default")
        widgets = {"script": forms.Textarea(attrs={
            "rows": 16, "cols": 90, "spellcheck": "false", "class": "code",
            # The admin does not load duckmail.css: Sieve reads best in a monospace font.
            "style": "font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: .9rem",
        })}

    def clean_name(self):
        name = self.cleaned_data["name"]
        if name == managesieve.DEFAULT_SCRIPT_NAME:
            raise ValidationError("“default” is the file of the default rules; choose another name.")
        return name

    def clean(self):
        cleaned = super().clean()
        name = cleaned.get("name") or (self.instance.name if self.instance.pk else "")
        if name and cleaned.get("script"):
            try:
                global_rules.check_global_rule(name, cleaned["script"])
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

    def get_readonly_fields(self, request, obj=None):
        # Members' scripts include a global rule by name: renaming it would break them.
        return ("name", "updated_at") if obj else ("updated_at",)

    def save_model(self, request, obj, form, change):
        global_rules.save_global_rule(obj, actor=request.user)

    def delete_model(self, request, obj):
        try:
            global_rules.delete_global_rule(obj, actor=request.user)
        except ValidationError as exc:
            self.message_user(request, exc.messages[0], messages.ERROR)

    # Every member's mail runs through these scripts (incoming_spam by default): only
    # superusers may write them; other staff may read them.
    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

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
