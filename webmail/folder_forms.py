"""The forms of folder management (validation only). What needs the server (its delimiter,
the names taken, the special folders) is checked by webmail.mailbox.manage."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from webmail import names
from webmail.mailbox.folders import Folder

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("A folder name can not contain line breaks or other control characters.")


class FolderNameForm(forms.Form):
    """A folder's name (one level) and the folder it is in ("" for the top level)."""

    name = forms.CharField(label="Name", max_length=names.MAX_FOLDER_LENGTH, validators=[_no_control],
                           error_messages={"required": "Please give the folder a name."})
    parent = forms.CharField(label="In", required=False, max_length=names.MAX_FOLDER_LENGTH, validators=[_no_control],
                             widget=forms.Select)

    def offer_parents(self, folders: list[Folder], top: str = "(top level)") -> None:
        """The folders the parent list offers (the choice is checked again by the server's side)."""
        self.fields["parent"].widget.choices = [("", top)] + [
            (f.name, "Inbox" if f.role == "inbox" else f.name) for f in folders]


class ConfirmEmptyForm(forms.Form):
    # What the confirmation page saw ("<UIDVALIDITY>:<UIDNEXT>"): mail that came later stays.
    seen = forms.RegexField(regex=r"\A[0-9]{1,10}:[0-9]{1,10}\Z", widget=forms.HiddenInput)


class SubscriptionForm(forms.Form):
    subscribed = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1")
    next = forms.CharField(required=False, max_length=2000)


class ShowFoldersForm(forms.Form):
    all = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda v: v == "1")
    next = forms.CharField(required=False, max_length=2000)
