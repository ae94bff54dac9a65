"""Forms: validation only. State changes happen in filters.services.

Values typed here go into Sieve only through filters.sieve, which quotes them; the checks
here are about meaning (a header name must be one, a size must be a size), not escaping.
The choices come from filters.sieve's vocabulary, and so does `rule_editor_vocabulary`,
what the rule page's script needs to show only the inputs that apply.
"""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from accounts.addresses import normalize_external_address
from duckmail.forms import NoSilentTruncation

from . import sieve
from .services import global_rules, scripts

BLANK_CHOICE = [("", "—")]
FIELD_CHOICES = BLANK_CHOICE + list(sieve.FIELD_LABELS.items())
OP_CHOICES = list(sieve.OP_LABELS.items())
ACTION_CHOICES = BLANK_CHOICE + list(sieve.ACTION_LABELS.items())
# What the rule page's script shows in a condition's value field (it sets these as the
# field changes; without the script the value field has none).
VALUE_PLACEHOLDERS = {"size": "e.g. 500K or 2M", "spam": "0 to 99", "spam_level": "0 to 10"}
PART_CHOICES = list(sieve.PART_LABELS.items())
# IMAP flags as typed: system flags (\Seen) or keywords, separated by spaces.
FLAGS_RE = re.compile(r"^\\?[!#-'+-.0-9;<-Z^-z|~]{1,64}$")
TEXT_PLACEHOLDER = "text to look for"
# RFC 5322 field name: printable ASCII except the colon.
HEADER_NAME_RE = re.compile(r"^[!-9;-~]{1,100}$")
SIZE_INPUT_RE = re.compile(r"^\s*([0-9]{1,9})\s*([KMG]?)B?\s*$", re.IGNORECASE)


def _wild_question_and_star(pattern: str) -> bool:
    """Whether a :matches pattern has both an unescaped ? and an unescaped *."""
    seen = set()
    escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "?*":
            seen.add(ch)
    return seen == {"?", "*"}


class CheckboxList(forms.CheckboxSelectMultiple):
    """Checkboxes for a multiple choice. Its own input_type keeps includes/field.html from
    wrapping the whole list in one checkbox label; each option is still a checkbox."""

    input_type = "checkbox-list"

    def create_option(self, *args, **kwargs):
        option = super().create_option(*args, **kwargs)
        option["type"] = "checkbox"
        return option


class RuleForm(NoSilentTruncation, forms.Form):
    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")
    match = forms.ChoiceField(
        choices=[("all", "all of the conditions"), ("any", "any of the conditions")], initial="all",
        label="Apply when mail matches",
        help_text="A rule without conditions applies to all mail.",
    )


class ConditionForm(NoSilentTruncation, forms.Form):
    field = forms.ChoiceField(choices=FIELD_CHOICES, required=False, label="When")
    header = forms.CharField(max_length=100, required=False, label="Header name",
                             widget=forms.TextInput(attrs={"placeholder": "e.g. List-Id"}))
    part = forms.ChoiceField(choices=PART_CHOICES, required=False, label="Test",
                             help_text="For addresses: which part of them to compare.")
    op = forms.ChoiceField(choices=OP_CHOICES, required=False, initial="contains", label="Operator")
    value = forms.CharField(max_length=500, required=False, strip=False, label="Value")

    def clean(self):
        cleaned = super().clean()
        fld, op, value = cleaned.get("field"), cleaned.get("op"), cleaned.get("value") or ""
        if not fld:
            if value.strip() or cleaned.get("header"):
                self.add_error("field", "Choose what to test.")
            return cleaned
        part = cleaned.get("part") or ""
        parts = sieve.PARTS_FOR_FIELD.get(fld, ("",))
        if part not in parts:
            if part:
                self.add_error("part", "This field has no parts to choose from." if parts == ("",)
                               else "Choose which part of the address to compare.")
            part = parts[0]
        cleaned["part"] = part
        if fld in sieve.TEXT_FIELDS or fld in sieve.ENVELOPE_FIELDS:
            if op not in sieve.TEXT_OPS:
                self.add_error("op", "Choose contains, is, matches or a regular expression.")
            if value == "":
                self.add_error("value", "Enter the text to look for.")
            elif op in ("matches", "not_matches") and _wild_question_and_star(value):
                # Pigeonhole 0.5.19 matches "a?*" against "a" and "a? b*" against "axyb"
                # (tests/filters/test_delivery.py keeps an eye on it): refuse rather than misfilter.
                self.add_error("value", "The mail server mishandles ? together with * in one pattern. "
                                        "Use only *, or a regular expression.")
            if fld == "header":
                header = (cleaned.get("header") or "").strip()
                if not HEADER_NAME_RE.match(header):
                    self.add_error("header", "Enter a header name: letters, digits and - (no spaces or colon).")
                cleaned["header"] = header
            else:
                cleaned["header"] = ""
        elif fld == "size":
            m = SIZE_INPUT_RE.match(value)
            if op not in sieve.SIZE_OPS:
                # E.g. "contains", the default operator, left as it was without JavaScript.
                self.add_error("op", "A size is compared with “over” or “under”: choose one of those.")
            if not m:
                self.add_error("value", "Enter a size such as 500K, 2M or 1048576.")
            else:
                cleaned["value"] = m.group(1) + m.group(2).upper()
            cleaned["header"] = ""
        elif fld in sieve.SPAM_FIELDS:
            if op in sieve.TEXT_OPS or not op:
                # A text operator (left as the default without JavaScript) can only mean "over".
                op = cleaned["op"] = "over"
            if op not in sieve.SPAM_OPS:
                self.add_error("op", "A spam score is compared with over, under, at least, at most or equals.")
            # isascii + isdigit: "²" or "٣" are digits to Python but not to int() or Sieve.
            digits = value.strip()
            top = 99 if sieve.SPAM_FIELDS[fld] else 10
            if not (digits.isascii() and digits.isdigit()) or not 0 <= int(digits) <= top:
                self.add_error("value", "Enter a percentage from 0 to 99." if top == 99 else "Enter a level from 0 to 10.")
            else:
                cleaned["value"] = str(int(digits))
            cleaned["header"] = ""
        elif fld in sieve.NO_VALUE_FIELDS:
            cleaned["op"], cleaned["value"], cleaned["header"] = sieve.OPS_FOR_FIELD[fld][0], "", ""
        return cleaned

    def as_condition(self) -> dict | None:
        c = self.cleaned_data
        if not c.get("field"):
            return None
        cond = {"field": c["field"], "op": c["op"], "value": c["value"], "header": c.get("header", "")}
        if c.get("part"):
            cond["part"] = c["part"]
        return cond


class ActionForm(NoSilentTruncation, forms.Form):
    kind = forms.ChoiceField(choices=ACTION_CHOICES, required=False, label="Then")
    folder = forms.ChoiceField(choices=[], required=False, label="Folder")
    address = forms.CharField(max_length=254, required=False, label="Address",
                              widget=forms.TextInput(attrs={"placeholder": "name@example.org"}))
    text = forms.CharField(max_length=2000, required=False, label="Message",
                           widget=forms.Textarea(attrs={"rows": 1, "placeholder": "for “Reject”"}))
    flags = forms.CharField(max_length=500, required=False, label="Flags",
                            widget=forms.TextInput(attrs={"placeholder": "e.g. \\Seen $Work"}))
    create = forms.BooleanField(required=False, label="Create the folder if it is missing")

    def __init__(self, *args, folders: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        folders = list(folders or [])
        current = self.initial.get("folder")
        if current and current not in folders:
            folders.append(current)
        self.fields["folder"].choices = [("", "—")] + [(f, f) for f in folders]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind in sieve.FOLDER_ACTIONS and not cleaned.get("folder"):
            self.add_error("folder", "Choose a folder.")
        if kind in sieve.ADDRESS_ACTIONS:
            try:
                cleaned["address"] = normalize_external_address(cleaned.get("address") or "")
            except ValidationError as exc:
                self.add_error("address", exc)
        if kind in sieve.TEXT_ACTIONS and not (cleaned.get("text") or "").strip():
            self.add_error("text", "Enter the message senders will get.")
        if kind in sieve.FLAG_LIST_ACTIONS:
            flags = (cleaned.get("flags") or "").split()
            if not flags or not all(FLAGS_RE.match(f) for f in flags):
                self.add_error("flags", "Enter IMAP flags separated by spaces, e.g. \\Seen or $Work.")
            cleaned["flags"] = " ".join(flags)
        return cleaned

    def as_action(self) -> dict | None:
        c = self.cleaned_data
        kind = c.get("kind")
        if not kind:
            return None
        arg = ""
        if kind in sieve.FOLDER_ACTIONS:
            arg = c["folder"]
        elif kind in sieve.ADDRESS_ACTIONS:
            arg = c["address"]
        elif kind in sieve.TEXT_ACTIONS:
            arg = sieve.normalize_multiline(c["text"])
        elif kind in sieve.FLAG_LIST_ACTIONS:
            arg = c["flags"]
        action = {"kind": kind, "arg": arg}
        if kind in sieve.FOLDER_ACTIONS and c.get("create"):
            action["create"] = True
        return action


ConditionFormSet = forms.formset_factory(ConditionForm, extra=1, max_num=20, validate_max=True)
ActionFormSet = forms.formset_factory(ActionForm, extra=1, max_num=20, validate_max=True)


def rule_editor_vocabulary() -> dict:
    """For the rule page's script (static/js/filters.js): per condition field, the operators
    it offers, whether it takes a header name, the value's placeholder and input mode; per
    action, the input its argument is typed in ("" for none).

    The blank field ("—", nothing chosen) keeps the text operators, so that its hidden
    operator is back on the form's initial "contains"."""
    fields = {"": {"ops": list(sieve.TEXT_OPS), "header": False, "placeholder": "", "inputmode": "text", "parts": [],
                   "value": True}}
    for name in sieve.FIELD_LABELS:
        fields[name] = {
            "ops": list(sieve.OPS_FOR_FIELD[name]),
            "header": name == "header",
            "placeholder": VALUE_PLACEHOLDERS.get(name, TEXT_PLACEHOLDER),
            "inputmode": "numeric" if name in sieve.SPAM_FIELDS else "text",
            "parts": [p for p in sieve.PARTS_FOR_FIELD.get(name, ()) if p] and list(sieve.PARTS_FOR_FIELD[name]),
            "value": name not in sieve.NO_VALUE_FIELDS,
        }
    actions = {kind: sieve.ACTION_ARGS.get(kind, "") for kind in sieve.ACTION_LABELS}
    return {"fields": fields, "actions": actions}


def rule_forms(data=None, *, rule=None, folders: list[str]):
    """The rule form and its condition and action formsets, bound to `data` or to `rule`."""
    initial = {"name": rule.name, "enabled": rule.enabled, "match": rule.match} if rule else None
    conditions = list(rule.conditions) if rule else []
    actions = [
        {"kind": a["kind"], "folder": a["arg"] if a["kind"] in sieve.FOLDER_ACTIONS else "",
         "address": a["arg"] if a["kind"] in sieve.ADDRESS_ACTIONS else "",
         "text": a["arg"] if a["kind"] in sieve.TEXT_ACTIONS else "",
         "flags": a["arg"] if a["kind"] in sieve.FLAG_LIST_ACTIONS else "", "create": bool(a.get("create"))}
        for a in (rule.actions if rule else [])
    ]
    form = RuleForm(data, initial=initial, prefix="rule")
    cond_fs = ConditionFormSet(data, initial=conditions, prefix="cond")
    act_fs = ActionFormSet(data, initial=actions, prefix="act", form_kwargs={"folders": folders})
    return form, cond_fs, act_fs


def clean_rule(form, cond_fs, act_fs) -> dict | None:
    """The rule's fields for editor.save_rule, or None (errors are on the forms)."""
    valid = form.is_valid() & cond_fs.is_valid() & act_fs.is_valid()
    if not valid:
        return None
    conditions = [c for c in (f.as_condition() for f in cond_fs.forms) if c]
    actions = [a for a in (f.as_action() for f in act_fs.forms) if a]
    if not actions:
        act_fs.forms[0].add_error("kind", "Choose at least one action.")
        return None
    kinds = [a["kind"] for a in actions]
    if "reject" in kinds and set(kinds) - {"reject", "stop"}:
        # RFC 5429: reject can not be combined with delivering the mail anywhere (Dovecot
        # would fail at delivery and keep the mail in the INBOX instead).
        form_index = next(i for i, f in enumerate(act_fs.forms) if f.cleaned_data.get("kind") == "reject")
        act_fs.forms[form_index].add_error("kind", "“Reject” can only be combined with “Stop processing rules”.")
        return None
    return {
        "name": form.cleaned_data["name"], "enabled": form.cleaned_data["enabled"],
        "match": form.cleaned_data["match"], "conditions": conditions, "actions": actions,
    }


class OptionsForm(NoSilentTruncation, forms.Form):
    includes = forms.MultipleChoiceField(
        choices=[], required=False, widget=CheckboxList, label="Global rules",
    )
    spam_threshold = forms.IntegerField(
        min_value=0, max_value=99, required=False, label="Move mail with a spam score above (%) to Junk",
        help_text="Leave empty to turn it off. Lower catches more spam, and more mail that is not.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["includes"].choices = [
            # Members read what a rule does; its name is the admins' (and scripts') handle.
            (r.name, r.description or r.name) for r in global_rules.offered_global_rules()
        ]


class VacationForm(NoSilentTruncation, forms.Form):
    enabled = forms.BooleanField(required=False, label="Send an automatic reply")
    subject = forms.CharField(max_length=200, required=False, initial="Out of office")
    body = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 6}), label="Message")
    addresses = forms.MultipleChoiceField(
        choices=[], required=False, widget=CheckboxList, label="Answer mail sent to",
    )
    days = forms.IntegerField(min_value=1, max_value=30, initial=7, label="Reply to the same sender at most every (days)")
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From (optional)")
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Until (optional)")

    def __init__(self, *args, addresses: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["addresses"].choices = [(a, a) for a in addresses]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("enabled"):
            if not (cleaned.get("subject") or "").strip():
                self.add_error("subject", "Enter a subject for the reply.")
            if not (cleaned.get("body") or "").strip():
                self.add_error("body", "Enter the reply's text.")
            if not cleaned.get("addresses"):
                self.add_error("addresses", "Choose at least one address.")
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "The end is before the start.")
        return cleaned


class ScriptForm(NoSilentTruncation, forms.Form):
    name = forms.CharField(max_length=70, label="Script name")
    text = forms.CharField(
        required=False, strip=False, label="Sieve script",
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "class": "code"}),
    )
    activate = forms.BooleanField(required=False, label="Make it the active script")
    # The script's own line endings: a text area sends CRLF whatever the script had.
    line_endings = forms.ChoiceField(choices=[("lf", "LF"), ("crlf", "CRLF")], required=False,
                                     widget=forms.HiddenInput)

    @staticmethod
    def line_endings_of(text: str) -> str:
        return "crlf" if "\r\n" in text else "lf"

    def clean_name(self):
        return scripts.check_script_name(self.cleaned_data["name"])

    def clean(self):
        cleaned = super().clean()
        text = (cleaned.get("text") or "").replace("\r\n", "\n")
        cleaned["text"] = text.replace("\n", "\r\n") if cleaned.get("line_endings") == "crlf" else text
        return cleaned


class UploadForm(NoSilentTruncation, forms.Form):
    file = forms.FileField(label="Sieve file")
    name = forms.CharField(max_length=70, required=False, label="Script name",
                           help_text="Empty: the file's name without .sieve.")
    activate = forms.BooleanField(required=False, label="Make it the active script")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None:
            return cleaned
        if upload.size > scripts.MAX_SCRIPT_BYTES:
            self.add_error("file", f"A script can be at most {scripts.MAX_SCRIPT_BYTES // 1024} KB.")
            return cleaned
        try:
            cleaned["text"] = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            self.add_error("file", "Sieve scripts are UTF-8 text; this file is not.")
            return cleaned
        try:
            cleaned["name"] = scripts.check_script_name(cleaned.get("name") or upload.name)
        except ValidationError as exc:
            self.add_error("name", exc)
        return cleaned
