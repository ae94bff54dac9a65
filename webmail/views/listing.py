"""The folder's message list."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from webmail import services
from webmail.mailbox.listing import SORTS

from .common import mail_errors

# Newest first for dates and sizes, A→Z for names.
DEFAULT_REVERSE = {"date": True, "arrival": True, "size": True, "from": False, "subject": False}
SORT_LABELS = {"date": "Date", "arrival": "Arrival", "from": "From", "subject": "Subject", "size": "Size"}


class ListQuery(forms.Form):
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)
    order = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)
    page = forms.IntegerField(min_value=1, max_value=10_000_000, required=False)


@require_GET
@login_required
def index(request):
    return redirect("webmail:folder", folder="INBOX")


@require_GET
@login_required
@mail_errors
def folder(request, folder: str):
    query = ListQuery(request.GET)
    if not query.is_valid():
        return render(request, "webmail/bad_request.html",
                      {"problem": "This list can not be sorted or paged that way.", "folder": folder}, status=400)
    sort = query.cleaned_data["sort"] or "date"
    order = query.cleaned_data["order"]
    reverse_order = DEFAULT_REVERSE[sort] if not order else order == "desc"
    sidebar, page = services.folder_page(request.user, folder, sort=sort, reverse=reverse_order,
                                         number=query.cleaned_data["page"] or 1)
    sorts = [{"key": key, "label": SORT_LABELS[key] if key != "from" or not page.recipients else "To",
              "current": key == sort,
              # The current order's link turns it round; the others start at their default.
              "order": ("asc" if reverse_order else "desc") if key == sort else
                       ("desc" if DEFAULT_REVERSE[key] else "asc")} for key in SORTS]
    return render(request, "webmail/folder.html", {
        "sidebar": sidebar, "page": page, "folder": sidebar.current, "sorts": sorts,
        "order": "desc" if reverse_order else "asc",
    })
