"""The folder's message list."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from webmail import preferences, services
from webmail.mailbox.listing import SORTS
from webmail.models import ListView

from .actions import take_toast
from .common import mail_errors

# Newest first for dates and sizes, A→Z for names.
DEFAULT_REVERSE = {"date": True, "arrival": True, "size": True, "from": False, "subject": False}
SORT_LABELS = {"date": "Date", "arrival": "Arrival", "from": "From", "subject": "Subject", "size": "Size"}


class ListQuery(forms.Form):
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)
    order = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)
    page = forms.IntegerField(min_value=1, max_value=10_000_000, required=False)
    # "messages": this list even when the member's default view is conversations.
    view = forms.ChoiceField(choices=[("messages", "messages")], required=False)


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
    if not query.cleaned_data["view"] and preferences.for_member(request.user).list_view == ListView.CONVERSATIONS:
        return redirect(reverse("webmail:conversations", args=[folder]) + request.get_full_path()[len(request.path):])
    sort, reverse_order = list_order(query)
    sidebar, page = services.folder_page(request.user, folder, sort=sort, reverse=reverse_order,
                                         number=query.cleaned_data["page"] or 1)
    return render(request, "webmail/folder.html", list_context(request, sidebar, page, sort, reverse_order))


def list_order(query: ListQuery) -> tuple[str, bool]:
    """The (valid) query's sort key and whether it runs backwards."""
    sort = query.cleaned_data["sort"] or "date"
    order = query.cleaned_data["order"]
    return sort, DEFAULT_REVERSE[sort] if not order else order == "desc"


def list_context(request, sidebar, page, sort: str, reverse_order: bool) -> dict:
    """What folder.html (and the pages extending it) show around the rows."""
    sorts = [{"key": key, "label": SORT_LABELS[key] if key != "from" or not page.recipients else "To",
              "current": key == sort,
              # The current order's link turns it round; the others start at their default.
              "order": ("asc" if reverse_order else "desc") if key == sort else
                       ("desc" if DEFAULT_REVERSE[key] else "asc")} for key in SORTS]
    # The result of an action that can be undone is the list's toast (with its Undo form);
    # other flash messages stay where every page shows them.
    toast, other_messages = take_toast(request)
    return {"sidebar": sidebar, "page": page, "folder": sidebar.current, "sorts": sorts,
            "order": "desc" if reverse_order else "asc", "toast": toast, "messages": other_messages}
