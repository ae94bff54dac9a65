"""Search (one folder or all) and the conversation view of a folder."""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from webmail import services
from webmail.mailbox import search as mail_search

from .actions import take_toast
from .common import mail_errors
from .listing import ListQuery, list_context, list_order

_UNITS = {"kb": 1024, "mb": 1024 * 1024}
# Dovecot's full-text index knows words from 3 characters on.
_SHORTEST_WORD = 3


def _no_control(value: str) -> None:
    if mail_search.REFUSED.search(value):
        raise forms.ValidationError("Line breaks and control characters can not be searched for.")


class TermField(forms.CharField):
    def __init__(self, label: str, **kwargs):
        super().__init__(label=label, required=False, max_length=mail_search.MAX_TERM,
                         validators=[_no_control], error_messages={
                             "max_length": f"At most {mail_search.MAX_TERM} characters, please."}, **kwargs)


class SearchForm(forms.Form):
    """The search box (q) and the advanced search; the names are the URL's query keys."""

    q = TermField("Search", widget=forms.TextInput(attrs={"type": "search"}))
    # "from" is a Python keyword: that field is added in __init__, in this order.
    to = TermField("To")
    subject = TermField("Subject")
    body = TermField("Text")
    since = forms.DateField(label="Sent on or after", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.DateField(label="Sent before", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    unread = forms.BooleanField(label="Unread", required=False)
    flagged = forms.BooleanField(label="Flagged", required=False)
    answered = forms.BooleanField(label="Answered", required=False)
    larger = forms.IntegerField(label="Larger than", required=False, min_value=0, max_value=4 * 1024 * 1024)
    smaller = forms.IntegerField(label="Smaller than", required=False, min_value=1, max_value=4 * 1024 * 1024)
    unit = forms.ChoiceField(label="Unit", required=False, choices=[("kb", "KB"), ("mb", "MB")])
    scope = forms.ChoiceField(label="Where", required=False, widget=forms.RadioSelect, initial="folder",
                              choices=[("folder", "This folder"), ("all", "All folders")])

    ADVANCED = ("from", "to", "subject", "body", "since", "before", "unread", "flagged", "answered", "larger",
                "smaller", "scope")

    def __init__(self, data=None, **kwargs):
        if data is not None and not data.get("scope"):
            data = data.copy()
            data["scope"] = "folder"  # so that the page shows the radio button checked
        super().__init__(data, **kwargs)
        order = ["q", "from", *list(self.fields)[1:]]
        self.fields["from"] = TermField("From")
        self.fields = {name: self.fields[name] for name in order}

    def clean(self):
        data = super().clean()
        unit = _UNITS[data.get("unit") or "kb"]
        for name in ("larger", "smaller"):
            if data.get(name) is not None:
                data[name] *= unit
                if data[name] > 0xFFFFFFFF:
                    self.add_error(name, "At most 4 GB (4096 MB).")
        since, before = data.get("since"), data.get("before")
        if since and before and since >= before:
            self.add_error("before", "This day must be after the first one.")
        return data

    @property
    def advanced(self) -> bool:
        """Whether the advanced part is in use (or wrong), so that the page shows it open."""
        used = any(self.data.get(name) for name in self.ADVANCED if name != "scope")
        return used or self.data.get("scope") == "all" or any(name in self.errors for name in self.ADVANCED)

    def query(self) -> mail_search.Query:
        d = self.cleaned_data
        return mail_search.Query(
            text=d["q"], sender=d["from"], recipient=d["to"], subject=d["subject"], body=d["body"],
            since=d["since"], before=d["before"], unread=d["unread"], flagged=d["flagged"], answered=d["answered"],
            larger=d["larger"], smaller=d["smaller"], everywhere=d["scope"] == "all")


class PageQuery(forms.Form):
    page = forms.IntegerField(min_value=1, max_value=10_000_000, required=False)


def _short_words_only(query: mail_search.Query) -> bool:
    """Whether some term has no word the full-text index could know (so finds nothing)."""
    return any(all(len(word) < _SHORTEST_WORD for word in re.split(r"\W+", term)) for term in query.terms)


@require_GET
@login_required
@mail_errors
def search(request, folder: str):
    """Results of the search box or the advanced form, newest first, 50 a page; the query
    stays in the URL (a bookmark or reload repeats the search)."""
    paging = PageQuery(request.GET)
    if not paging.is_valid():
        return render(request, "webmail/bad_request.html",
                      {"problem": "These results can not be paged that way.", "folder": folder}, status=400)
    form = SearchForm(request.GET)
    context = {"form": form, "results": None}
    status = 200
    if not form.is_valid():
        sidebar, status = services.search_sidebar(request.user, folder), 400
    elif form.query().empty:
        sidebar = services.search_sidebar(request.user, folder)
    else:
        query = form.query()
        sidebar, results = services.search_page(request.user, folder, query, number=paging.cleaned_data["page"] or 1)
        context.update(results=results, short_words=not results.total and _short_words_only(query))
    # Back from an action on the results (the toolbar's form): its Undo, as on the list.
    toast, other_messages = take_toast(request)
    context.update(sidebar=sidebar, folder=sidebar.current, searching=True, toast=toast, messages=other_messages)
    return render(request, "webmail/search.html", context, status=status)


@require_GET
@login_required
@mail_errors
def conversations(request, folder: str):
    """The folder as threads, sorted and paged like its list (a page holds as many threads as a list page rows)."""
    query = ListQuery(request.GET)
    if not query.is_valid():
        return render(request, "webmail/bad_request.html",
                      {"problem": "This list can not be sorted or paged that way.", "folder": folder}, status=400)
    sort, reverse_order = list_order(query)
    sidebar, page = services.conversations_page(request.user, folder, sort=sort, reverse=reverse_order,
                                                number=query.cleaned_data["page"] or 1)
    # An action taken from this page comes back here with its Undo, as on the list.
    context = list_context(request, sidebar, page, sort, reverse_order)
    context["conversations"] = True
    return render(request, "webmail/conversations.html", context)
