"""The member's webmail settings page and its trusted senders (webmail.preferences).

Its URLs start ``/mail/-/``: a folder's own URLs are ``/mail/<folder>/`` and
``/mail/<folder>/<uid>/…`` with a UID of digits, so ``/mail/-/settings/`` is nobody's folder
URL, not even that of a folder named "-"."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from webmail import preferences
from webmail.models import PAGE_SIZES, ListView, MarkRead


class SettingsForm(forms.Form):
    page_size = forms.TypedChoiceField(label="Messages per page", coerce=int,
                                       choices=[(n, str(n)) for n in PAGE_SIZES])
    mark_read = forms.ChoiceField(label="Mark a message as read when I open it", choices=MarkRead.choices,
                                  widget=forms.RadioSelect)
    mark_read_seconds = forms.IntegerField(label="Seconds before it is marked read", min_value=2, max_value=60,
                                           required=False, help_text="With “After some seconds”: 2 to 60.")
    list_view = forms.ChoiceField(label="Show a folder as", choices=ListView.choices, widget=forms.RadioSelect)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("mark_read") == MarkRead.DELAYED and cleaned.get("mark_read_seconds") is None \
                and "mark_read_seconds" not in self.errors:
            self.add_error("mark_read_seconds", "Say after how many seconds (2 to 60).")
        return cleaned


class SenderForm(forms.Form):
    address = forms.CharField(max_length=320)


@require_http_methods(["GET", "POST"])
@login_required
def settings_page(request):
    prefs = preferences.for_member(request.user)
    form = SettingsForm(request.POST if request.method == "POST" else None, initial={
        "page_size": prefs.page_size, "mark_read": prefs.mark_read, "mark_read_seconds": prefs.mark_read_seconds,
        "list_view": prefs.list_view})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            preferences.save(request.user, **form.cleaned_data)
            messages.success(request, "Your webmail settings are saved.")
            return redirect("webmail:settings")
        status = 400
    return render(request, "webmail/settings.html", {"form": form, "trusted_senders": prefs.trusted_senders},
                  status=status)


@require_POST
@login_required
def distrust_sender(request):
    """Take a sender off the trusted list: their remote content is held back again."""
    form = SenderForm(request.POST)
    if form.is_valid() and preferences.distrust_sender(request.user, form.cleaned_data["address"]):
        messages.success(request, f"Remote content in mail from {form.cleaned_data['address']} is held back again.")
    else:
        messages.error(request, "That address is not on your list of trusted senders.")
    return redirect("webmail:settings")
