"""Folder management: the "Manage folders" page, one folder's page (rename or move), delete
and empty with a confirmation page, subscriptions, and the sidebar's "Show all folders".

URLs start with "-/", the segment that is never a folder (webmail.names), so a folder of
any name ("folders", "-", "new-folder") keeps its deep links.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webmail import services
from webmail.folder_forms import ConfirmEmptyForm, FolderNameForm, ShowFoldersForm, SubscriptionForm
from webmail.mailbox.manage import Refused

from .common import mail_errors

# The sidebar's choice (templates/webmail/_folders.html reads it): unsubscribed folders too.
SHOW_ALL_KEY = "webmail_all_folders"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _next(request, value: str, default: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return value
    return default


def _manage_page(request, sidebar, overview, form: FolderNameForm, status: int = 200):
    form.offer_parents(overview.parents())
    return render(request, "webmail/folders.html", {"sidebar": sidebar, "overview": overview, "form": form},
                  status=status)


@require_GET
@login_required
def manage(request):
    sidebar, overview = services.folder_overview(request.user)
    return _manage_page(request, sidebar, overview, FolderNameForm(auto_id="new_%s"))


@require_POST
@login_required
def create(request):
    form = FolderNameForm(request.POST, auto_id="new_%s")
    if form.is_valid():
        try:
            name = services.create_folder(request.user, form.cleaned_data["name"], form.cleaned_data["parent"])
        except Refused as refused:
            form.add_error(refused.field, str(refused))
        else:
            messages.success(request, f"Folder “{name}” created.")
            return redirect("webmail:folders")
    sidebar, overview = services.folder_overview(request.user)
    return _manage_page(request, sidebar, overview, form, status=400)


def _edit_page(request, folder: str, form: FolderNameForm | None = None, status: int = 200):
    sidebar, overview, entry = services.folder_settings(request.user, folder)
    if form is None:
        parent, level = overview.split(entry.folder.name)
        form = FolderNameForm(initial={"name": level, "parent": parent})
    form.offer_parents(overview.parents(moving=entry.folder.name))
    return render(request, "webmail/folder_edit.html", {
        "sidebar": sidebar, "overview": overview, "entry": entry, "form": form,
        "refusal": entry.refusal("renamed, moved or deleted")}, status=status)


@require_GET
@login_required
@mail_errors
def edit(request, folder: str):
    return _edit_page(request, folder)


@require_POST
@login_required
@mail_errors
def rename(request, folder: str):
    form = FolderNameForm(request.POST)
    if form.is_valid():
        try:
            renamed = services.rename_folder(request.user, folder, form.cleaned_data["name"],
                                             form.cleaned_data["parent"])
        except Refused as refused:
            form.add_error(refused.field, str(refused))
        else:
            if renamed.name != folder:
                messages.success(request, f"“{folder}” is now “{renamed.name}”.")
            # The folder's deep link follows it; a level that holds no mail itself has none.
            return redirect("webmail:folder" if renamed.selectable else "webmail:folder_edit", folder=renamed.name)
    return _edit_page(request, folder, form, status=400)


@require_POST
@login_required
@mail_errors
def subscription(request, folder: str):
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        return render(request, "webmail/bad_request.html", {"problem": "That is not a subscription choice.",
                                                            "folder": folder}, status=400)
    back = _next(request, form.cleaned_data["next"], reverse("webmail:folders"))
    try:
        found = services.set_subscribed(request.user, folder, form.cleaned_data["subscribed"])
    except Refused as refused:
        messages.error(request, str(refused))
    else:
        if form.cleaned_data["subscribed"]:
            messages.success(request, f"Subscribed to “{found.name}”: the sidebar shows it.")
        else:
            messages.success(request, f"Unsubscribed from “{found.name}”: the sidebar shows it only with all folders.")
    return redirect(back)


@require_http_methods(["GET", "POST"])
@login_required
@mail_errors
def delete(request, folder: str):
    problem = None
    if request.method == "POST":
        try:
            deleted = services.delete_folder(request.user, folder)
        except Refused as refused:
            problem = str(refused)
        else:
            more = f" and {_n(deleted.sub_folders, 'sub-folder')}" if deleted.sub_folders else ""
            messages.success(request, f"“{folder}”{more} deleted, with {_n(deleted.messages, 'message')}.")
            return redirect("webmail:folders")
    _sidebar, _overview, entry = services.folder_settings(request.user, folder)
    problem = problem or entry.refusal("deleted")
    return render(request, "webmail/folder_delete.html", {"entry": entry, "problem": problem},
                  status=400 if problem else 200)


@require_http_methods(["GET", "POST"])
@login_required
@mail_errors
def empty(request, folder: str):
    problem = None
    form = ConfirmEmptyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not form.is_valid():
            problem = "Please confirm again."
        else:
            try:
                count = services.empty_folder(request.user, folder, form.cleaned_data["seen"])
            except Refused as refused:
                problem = str(refused)
            else:
                messages.success(request, f"{_n(count, 'message')} deleted for good.")
                return redirect("webmail:folder", folder=folder)
    try:
        contents = services.folder_contents(request.user, folder)
    except Refused as refused:
        return render(request, "webmail/folder_empty.html", {"folder": folder, "problem": str(refused)}, status=400)
    form = ConfirmEmptyForm(initial={"seen": contents.seen})
    return render(request, "webmail/folder_empty.html", {"folder": folder, "contents": contents, "form": form,
                                                         "problem": problem}, status=400 if problem else 200)


@require_POST
@login_required
def show_folders(request):
    """The sidebar's "Show all folders" / "Subscribed folders only", kept in the web session."""
    form = ShowFoldersForm(request.POST)
    if not form.is_valid():
        return redirect("webmail:index")
    request.session[SHOW_ALL_KEY] = form.cleaned_data["all"]
    return redirect(_next(request, form.cleaned_data["next"], reverse("webmail:index")))
