"""The form editor's rules as data, and the vocabulary they are made of.

The vocabulary is defined here once: the condition fields, operators and actions, the words
a member sees for them, and which operators and which argument apply to which field or
action. The forms build their choices from it, the rule page's script reads it (as JSON
rendered into the page), and the writer and reader map it to Sieve.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

# Condition fields, in the order the editor offers them, with the member's words.
__all__ = [
    "ACTIONS", "ACTION_ARGS", "ACTION_LABELS", "ADDRESS_ACTIONS", "ADDRESS_FIELDS", "ENVELOPE_FIELDS", "FIELD_LABELS",
    "FLAG_ACTIONS", "FLAG_LIST_ACTIONS", "FOLDER_ACTIONS", "NO_VALUE_FIELDS", "OPS_FOR_FIELD", "OP_LABELS", "PARTS_FOR_FIELD",
    "PART_LABELS", "SIZE_OPS", "SPAM_FIELDS", "SPAM_OPS", "TEXT_ACTIONS", "TEXT_FIELDS", "TEXT_OPS",
    "Action", "Condition", "RuleSet", "SieveRule", "Vacation", "canonical_condition", "normalize_multiline",
    "same_script",
]

FIELD_LABELS = {
    "from": "From",
    "to": "To or Cc",
    "subject": "Subject",
    "header": "Another header…",
    "size": "Size",
    "spam": "Spam score (%)",
    "spam_level": "Spam level (0 to 10)",
    "env_from": "Envelope sender",
    "env_to": "Envelope recipient",
    "duplicate": "Already received (duplicate)",
}
# The text fields and the header(s) each tests; "header" tests the one named in the condition.
TEXT_FIELDS = {"from": ["from"], "to": ["to", "cc"], "subject": ["subject"], "header": []}
# Envelope fields (RFC 5228 `envelope`) and the envelope part each tests.
ENVELOPE_FIELDS = {"env_from": "from", "env_to": "to"}
# Fields whose value is an address, so that a part of it can be tested: "" tests the whole
# header text (`header`), any other part the addresses in it (`address` / `envelope`).
ADDRESS_FIELDS = ("from", "to", "header", *ENVELOPE_FIELDS)
PART_LABELS = {
    "": "the whole header",
    "all": "the address",
    "localpart": "the part before @",
    "domain": "the domain",
    "user": "the part before +",
    "detail": "the part after +",
}
PARTS_FOR_FIELD: dict[str, tuple[str, ...]] = {
    **{name: tuple(PART_LABELS) for name in TEXT_FIELDS if name in ADDRESS_FIELDS},
    **{name: tuple(p for p in PART_LABELS if p) for name in ENVELOPE_FIELDS},
}
# Spam fields: spamtest with :percent (0-100) or without (the server's 0-10 level).
SPAM_FIELDS = {"spam": True, "spam_level": False}
# Fields that take no value.
NO_VALUE_FIELDS = ("duplicate",)

OP_LABELS = {
    "contains": "contains",
    "not_contains": "does not contain",
    "is": "is",
    "not_is": "is not",
    "matches": "matches (* and ?)",
    "not_matches": "does not match",
    "regex": "matches regular expression",
    "not_regex": "does not match regular expression",
    "over": "over",
    "under": "under",
    "at_least": "at least",
    "at_most": "at most",
    "equals": "equals",
    "yes": "yes",
}
# Operators on text: the Sieve match type, and whether the test is negated.
TEXT_OPS = {
    "contains": (":contains", False),
    "not_contains": (":contains", True),
    "is": (":is", False),
    "not_is": (":is", True),
    "matches": (":matches", False),
    "not_matches": (":matches", True),
    "regex": (":regex", False),
    "not_regex": (":regex", True),
}
SIZE_OPS = {"over": ":over", "under": ":under"}
# Spam scores are compared as numbers (spamtest :value "gt" :comparator "i;ascii-numeric").
SPAM_OPS = {"over": "gt", "under": "lt", "at_least": "ge", "at_most": "le", "equals": "eq"}
OPS_FOR_FIELD: dict[str, tuple[str, ...]] = {
    **{name: tuple(TEXT_OPS) for name in TEXT_FIELDS},
    **{name: tuple(TEXT_OPS) for name in ENVELOPE_FIELDS},
    "size": tuple(SIZE_OPS),
    **{name: tuple(SPAM_OPS) for name in SPAM_FIELDS},
    "duplicate": ("yes",),
}

ACTION_LABELS = {
    "fileinto": "Move to folder",
    "copyto": "Copy to folder",
    "redirect": "Redirect to address",
    "redirect_copy": "Send a copy to address",
    "reject": "Reject with message",
    "discard": "Discard silently",
    "mark_read": "Mark as read",
    "flag": "Flag as important",
    "addflag": "Add IMAP flags",
    "setflag": "Set IMAP flags (replacing others)",
    "removeflag": "Remove IMAP flags",
    "keep": "Keep in INBOX",
    "stop": "Stop processing rules",
}
ACTIONS = tuple(ACTION_LABELS)
# What an action's `arg` holds; actions not named here take none.
ACTION_ARGS = {
    "fileinto": "folder",
    "copyto": "folder",
    "redirect": "address",
    "redirect_copy": "address",
    "reject": "text",
    "addflag": "flags",
    "setflag": "flags",
    "removeflag": "flags",
}
FOLDER_ACTIONS = tuple(kind for kind, arg in ACTION_ARGS.items() if arg == "folder")
ADDRESS_ACTIONS = tuple(kind for kind, arg in ACTION_ARGS.items() if arg == "address")
TEXT_ACTIONS = tuple(kind for kind, arg in ACTION_ARGS.items() if arg == "text")
FLAG_LIST_ACTIONS = tuple(kind for kind, arg in ACTION_ARGS.items() if arg == "flags")
# Actions that set an IMAP flag on the delivered mail, and the flag.
FLAG_ACTIONS = {"mark_read": "\\Seen", "flag": "\\Flagged"}


@dataclass
class Condition:
    field: str  # one of FIELD_LABELS
    op: str  # one of OPS_FOR_FIELD[field]
    value: str
    header: str = ""  # the header name when field == "header"
    part: str = ""  # one of PARTS_FOR_FIELD[field] ("" : the header text, not an address)


def canonical_condition(cond: Condition) -> Condition:
    """The one form a condition is written in: header names are case-insensitive in Sieve,
    and "any header: Subject" is the Subject condition. Without this, two conditions that
    mean the same would write the same script and read back as only one of them."""
    if cond.field != "header":
        return cond
    header = cond.header.lower()
    for fld, headers in TEXT_FIELDS.items():
        if headers == [header] and (not cond.part or fld in ADDRESS_FIELDS):
            return Condition(field=fld, op=cond.op, value=cond.value, part=cond.part)
    return Condition(field="header", op=cond.op, value=cond.value, header=header, part=cond.part)


@dataclass
class Action:
    kind: str  # one of ACTIONS
    arg: str = ""  # folder, address, message or space-separated IMAP flags, as ACTION_ARGS says
    create: bool = False  # folder actions: create the folder if it is missing (RFC 5490 :create)


@dataclass
class SieveRule:
    """One rule of the editor's script (the database row is filters.models.Rule)."""

    name: str
    conditions: list[Condition] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    match: str = "all"  # "all" or "any"
    enabled: bool = True


@dataclass
class Vacation:
    subject: str
    body: str
    addresses: list[str] = field(default_factory=list)
    days: int = 7
    start: dt.date | None = None
    end: dt.date | None = None
    seconds: int | None = None  # RFC 6131 :seconds, instead of days (kept as a script says)
    from_addr: str = ""  # :from (kept as a script says)


@dataclass
class RuleSet:
    includes: list[str] = field(default_factory=list)  # global scripts, e.g. "incoming_spam"
    spam_threshold: int | None = None  # percent
    vacation: Vacation | None = None  # None: no auto-reply
    rules: list[SieveRule] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def same_script(a: str, b: str) -> bool:
    """Whether two script texts are the same script: ManageSieve may turn LF into CRLF and
    an editor may add or drop blank lines at either end."""
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def normalize_multiline(value: str) -> str:
    """Line breaks of a multi-line text as LF. Text areas send CRLF, ManageSieve turns LF
    into CRLF and back, and a lone CR is a line break in mail too: all become LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n")
