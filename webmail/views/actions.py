"""The list's actions (read, flag, move, copy, delete, archive, spam, not spam) on chosen
messages or on the whole folder, their undo, and the poll for new mail.

Every action is a plain form POST answered with a redirect and a flash message, so it works
without JavaScript; static/js/webmail-list.js only adds selection helpers and drag-and-drop.
A move the server answered with COPYUID can be undone for UNDO_SECONDS: the toast's form
carries a signed token of where the messages went (the member's own, checked on the way back).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from webmail import names, services
from webmail.mailbox.actions import ACTIONS, Moved, Outcome, Refused, Selection
from webmail.mailbox.listing import SORTS

from .common import mail_errors

UNDO_SECONDS = 5 * 60
UNDO_SALT = "webmail.actions.undo"
# The flash message that gets the Undo button, and where its token waits for the next page.
UNDO_TAG = "mail-undo"
UNDO_SESSION_KEY = "webmail_undo"
# A page shows 50 rows; "all N" is a range on the server, never a list from the browser.
MAX_UIDS = 500
_UINT32 = 0xFFFFFFFF

_DONE = {"read": "marked as read", "unread": "marked as unread", "flag": "flagged", "unflag": "unflagged",
         "copy": "copied to {target}", "move": "moved to {target}", "archive": "moved to {target}",
         "spam": "marked as spam and moved to {target}", "notspam": "marked as not spam and moved to {target}"}


def _messages(count: int) -> str:
    return f"{count:,} message{'' if count == 1 else 's'}"


def describe(outcome: Outcome) -> str:
    if outcome.action == "delete":
        done = f"moved to {outcome.target.label}" if outcome.target else "deleted for good"
    else:
        done = _DONE[outcome.action].format(target=outcome.target.label if outcome.target else "")
    return f"{_messages(outcome.count)} {done}."


class ActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS], error_messages={
        "required": "Choose what to do with the messages.", "invalid_choice": "There is no such action."})
    all = forms.BooleanField(required=False)
    target = forms.CharField(required=False, strip=False, max_length=names.MAX_FOLDER_LENGTH)
    next = forms.CharField(required=False, max_length=2000)
    uidvalidity = forms.IntegerField(required=False, min_value=1, max_value=_UINT32)
    uidnext = forms.IntegerField(required=False, min_value=1, max_value=_UINT32 + 1)
    confirm = forms.BooleanField(required=False)

    def clean_target(self) -> str:
        target = self.cleaned_data["target"]
        if target:
            try:
                names.check_folder(target)
            except ValueError:
                raise forms.ValidationError("That is not a folder name.")
        return target

    def clean(self):
        data = super().clean()
        raw = self.data.getlist("uid") if hasattr(self.data, "getlist") else []
        if len(raw) > MAX_UIDS:
            raise forms.ValidationError(f"At most {MAX_UIDS} messages can be chosen one by one: "
                                        "choose all messages of the folder instead.")
        try:
            data["uids"] = tuple(dict.fromkeys(names.check_uid(value) for value in raw))
        except ValueError:
            raise forms.ValidationError("Those are not messages of this folder.")
        return data

    def selection(self) -> Selection:
        data = self.cleaned_data
        return Selection(uids=() if data["all"] else data["uids"], every=data["all"],
                         uidvalidity=data["uidvalidity"], uidnext=data["uidnext"])


def _next(request, url: str, folder: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return reverse("webmail:folder", args=[folder])


def _bad(request, folder: str, problem: str):
    return render(request, "webmail/bad_request.html", {"problem": problem, "folder": folder}, status=400)


def _sign(member, moved: Moved) -> str:
    return signing.dumps({"m": member.pk, "s": moved.source, "t": moved.target, "v": moved.uidvalidity,
                          "u": moved.uids}, salt=UNDO_SALT, compress=True)


def _unsign(member, token: str) -> Moved | None:
    """The move a token describes; None when it is not this member's, forged, or too old."""
    try:
        data = signing.loads(token, salt=UNDO_SALT, max_age=UNDO_SECONDS)
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    if not isinstance(data, dict) or data.get("m") != member.pk:
        return None
    try:
        return Moved(names.check_folder(data["s"]), names.check_folder(data["t"]), int(data["v"]), str(data["u"]))
    except (KeyError, TypeError, ValueError):
        return None


@require_POST
@login_required
@mail_errors
def act(request, folder: str):
    form = ActionForm(request.POST)
    if not form.is_valid():
        problems = [error for errors in form.errors.values() for error in errors]
        return _bad(request, folder, " ".join(problems) or "That can not be done.")
    data = form.cleaned_data
    back = _next(request, data["next"], folder)
    try:
        outcome = services.act(request.user, folder, data["action"], form.selection(), target=data["target"] or None,
                               confirmed=data["confirm"])
    except Refused as refused:
        messages.error(request, str(refused))
        return redirect(back)
    if outcome.confirm:
        return render(request, "webmail/confirm_expunge.html", {
            "folder": outcome.source, "count": outcome.count, "count_text": _messages(outcome.count),
            "every": data["all"], "uids": data["uids"], "next": back,
            "uidvalidity": data["uidvalidity"], "uidnext": data["uidnext"],
        })
    if outcome.moved is not None:
        messages.success(request, describe(outcome), extra_tags=UNDO_TAG)
        request.session[UNDO_SESSION_KEY] = _sign(request.user, outcome.moved)
    else:
        messages.success(request, describe(outcome))
    return redirect(back)


@require_POST
@login_required
@mail_errors
def undo(request, folder: str):
    back = _next(request, request.POST.get("next", ""), folder)
    moved = _unsign(request.user, request.POST.get("token", ""))
    if moved is None:
        messages.error(request, f"This can no longer be undone (an undo lasts {UNDO_SECONDS // 60} minutes).")
        return redirect(back)
    try:
        outcome = services.undo_move(request.user, moved)
    except Refused as refused:
        messages.error(request, str(refused))
        return redirect(back)
    messages.success(request, f"{_messages(outcome.count)} moved back to {outcome.target.label}.")
    return redirect(back)


def take_toast(request) -> tuple[dict | None, list]:
    """The flash message with an Undo (and its token), and the other messages: the list
    page shows the first as its toast and passes the rest on as `messages`."""
    toast, rest = None, []
    for message in messages.get_messages(request):
        if toast is None and UNDO_TAG in message.extra_tags.split():
            toast = {"text": str(message), "token": request.session.pop(UNDO_SESSION_KEY, None),
                     "seconds": UNDO_SECONDS}
        else:
            rest.append(message)
    return toast, rest


class PollQuery(forms.Form):
    uidnext = forms.IntegerField(required=False, min_value=1, max_value=_UINT32 + 1)
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)
    order = forms.ChoiceField(choices=[("asc", "asc"), ("desc", "desc")], required=False)


@require_GET
@login_required
@mail_errors
def poll(request, folder: str):
    """The list's check for new mail (htmx, every 30 s): a banner when mail came since the
    page's UIDNEXT, the title's unread count, and the sidebar (swapped out of band)."""
    query = PollQuery(request.GET)
    if not query.is_valid():
        return _bad(request, folder, "This is not a question about new mail.")
    polled = services.poll(request.user, folder, query.cleaned_data["uidnext"])
    current = polled.sidebar.current
    params = {k: query.cleaned_data[k] for k in ("sort", "order") if query.cleaned_data[k]}
    show = reverse("webmail:folder", args=[current.name])
    if params:
        show += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return render(request, "webmail/_poll.html", {
        "folder": current, "sidebar": polled.sidebar, "news": polled.news, "show_url": show,
    })
