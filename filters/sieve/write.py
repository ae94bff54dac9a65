"""The writer: a RuleSet as a Sieve script (RFC 5228).

`generate(ruleset)` builds the script with sievelib's command objects and writes it with
their `tosieve`. The script's layout (the comments that mark its parts) is defined here
and read back by filters.sieve.read.

Nothing typed in a form can change the script's structure:
- every value is written as a quoted string through `_Writer.quote`, which escapes `\\`
  and `"`;
- characters that a quoted string can not carry faithfully (control characters such as a
  lone CR or, in one-line fields, CR/LF) are written with RFC 5228's encoded-character
  extension (`${hex:0D}`); when that extension is in use every `$` is encoded too, so a
  typed `${hex:41}` stays literal text;
- rule names live in `#` comments as JSON strings, which never contain a line break.
"""

from __future__ import annotations

import io
import json
import re

from sievelib import commands

from . import sievelib_ext
from .model import (
    ENVELOPE_FIELDS,
    FLAG_ACTIONS,
    FLAG_LIST_ACTIONS,
    SIZE_OPS,
    SPAM_FIELDS,
    SPAM_OPS,
    TEXT_ACTIONS,
    TEXT_FIELDS,
    TEXT_OPS,
    Action,
    Condition,
    RuleSet,
    SieveRule,
    Vacation,
    canonical_condition,
    normalize_multiline,
)

HEADER_COMMENT = "# DuckMail filters: written by the form editor. Edit them on the Filters page."
SPAM_COMMENT = "# spam threshold"
VACATION_COMMENT = "# vacation"
RULE_PREFIX = "# rule: "
JUNK = "Junk"

SIZE_RE = re.compile(r"^[0-9]{1,9}[KMG]?$")
# Require order in generated scripts (stable, so that regenerating gives the same text).
_REQUIRE_ORDER = [
    "encoded-character", "include", "fileinto", "copy", "reject", "imap4flags", "regex", "relational",
    "comparator-i;ascii-numeric", "spamtest", "spamtestplus", "date", "vacation",
    # Only in scripts opened from elsewhere (the editor's own layout never needed them before).
    "envelope", "subaddress", "mailbox", "duplicate", "vacation-seconds",
]
_ADDRESS_PARTS = {"all": ":all", "localpart": ":localpart", "domain": ":domain", "user": ":user", "detail": ":detail"}
FLAG_RE = re.compile(r"^\\?[!#-'+-.0-9;<-Z^-z|~]{1,64}$")


# Strings ---------------------------------------------------------------------------


def _needs_encoding(value: str, multiline: bool) -> bool:
    for ch in value:
        o = ord(ch)
        if (o < 0x20 and ch != "\t" and not (multiline and ch == "\n")) or o == 0x7F:
            return True
    return False


class _Writer:
    """Collects requirements and quotes strings for one script."""

    def __init__(self, encode: bool):
        self.encode = encode
        self.requires: set[str] = {"encoded-character"} if encode else set()

    def quote_list(self, values: list[str]) -> str | list[str]:
        return [self.quote(v) for v in values] if len(values) > 1 else self.quote(values[0])

    def quote(self, value: str, *, multiline: bool = False) -> str:
        if multiline:
            value = normalize_multiline(value)
        out = []
        for ch in value:
            o = ord(ch)
            if ch == "\\":
                out.append("\\\\")
            elif ch == '"':
                out.append('\\"')
            elif self.encode and (ch == "$" or ((o < 0x20 or o == 0x7F) and ch != "\t" and not (multiline and ch == "\n"))):
                out.append(f"${{hex:{o:02X}}}")
            else:
                out.append(ch)
        return '"' + "".join(out) + '"'


# Commands ----------------------------------------------------------------------------


def _cmd(name: str, parent: commands.Command | None = None, **arguments) -> commands.Command:
    cmd = commands.get_command_instance(name, parent, checkexists=False)
    for key, value in arguments.items():
        cmd.arguments[key.replace("_", "-")] = value
    return cmd


def _text_test(w: _Writer, cond: Condition) -> commands.Command:
    cond = canonical_condition(cond)
    tag, negate = TEXT_OPS[cond.op]
    if tag == ":regex":
        w.requires.add("regex")
    if cond.field in ENVELOPE_FIELDS:
        w.requires.add("envelope")
        names = [ENVELOPE_FIELDS[cond.field]]
    else:
        names = TEXT_FIELDS[cond.field] or [cond.header]
    header_names = w.quote_list(names)
    if cond.part or cond.field in ENVELOPE_FIELDS:
        if cond.part in ("user", "detail"):
            w.requires.add("subaddress")
        test = _cmd("envelope" if cond.field in ENVELOPE_FIELDS else "address")
        if cond.part and cond.part != "all":  # :all is the default address part
            test.arguments["address-part"] = _ADDRESS_PARTS[cond.part]
        test.arguments.update({"match-type": tag, "header-list": header_names, "key-list": w.quote(cond.value)})
    else:
        test = _cmd("header", match_type=tag, header_names=header_names, key_list=w.quote(cond.value))
    if negate:
        return _cmd("not", test=test)
    return test


def _spamtest(w: _Writer, value: int | str, op: str = "over", percent: bool = True) -> commands.Command:
    w.requires.update({"spamtestplus" if percent else "spamtest", "relational", "comparator-i;ascii-numeric"})
    test = _cmd("spamtest", match_type=":value", comparator=":comparator", value=w.quote(str(value)))
    if percent:
        test.arguments = {"percent": ":percent", **test.arguments}
    test.extra_arguments["match-type"] = f'"{SPAM_OPS[op]}"'
    test.extra_arguments["comparator"] = '"i;ascii-numeric"'
    return test


def _test(w: _Writer, cond: Condition) -> commands.Command:
    if cond.field in TEXT_FIELDS or cond.field in ENVELOPE_FIELDS:
        return _text_test(w, cond)
    if cond.field == "size":
        if not SIZE_RE.match(cond.value) or cond.op not in SIZE_OPS:
            raise ValueError(f"bad size condition {cond.op} {cond.value!r}")
        return _cmd("size", comparator=SIZE_OPS[cond.op], limit=cond.value)
    if cond.field in SPAM_FIELDS:
        if cond.op not in SPAM_OPS:
            raise ValueError(f"bad spam condition {cond.op}")
        return _spamtest(w, int(cond.value), cond.op, percent=SPAM_FIELDS[cond.field])
    if cond.field == "duplicate":
        w.requires.add("duplicate")
        return _cmd("duplicate")
    raise ValueError(f"unknown condition field {cond.field!r}")


def _action(w: _Writer, action: Action, parent: commands.Command) -> commands.Command:
    kind = action.kind
    if kind in ("fileinto", "copyto"):
        w.requires.add("fileinto")
        cmd = _cmd("fileinto", parent)
        if kind == "copyto":
            w.requires.add("copy")
            cmd.arguments["copy"] = ":copy"
        if action.create:
            w.requires.add("mailbox")
            cmd.arguments["create"] = ":create"
        cmd.arguments["mailbox"] = w.quote(action.arg)
        return cmd
    if kind == "redirect":
        return _cmd("redirect", parent, address=w.quote(action.arg))
    if kind == "redirect_copy":
        w.requires.add("copy")
        return _cmd("redirect", parent, copy=":copy", address=w.quote(action.arg))
    if kind == "reject":
        w.requires.add("reject")
        return _cmd("reject", parent, text=w.quote(action.arg, multiline=True))
    if kind in FLAG_ACTIONS:
        w.requires.add("imap4flags")
        return _cmd("addflag", parent, list_of_flags=w.quote(FLAG_ACTIONS[kind]))
    if kind in FLAG_LIST_ACTIONS:
        flags = action.arg.split()
        if not flags or not all(FLAG_RE.match(f) for f in flags):
            raise ValueError(f"bad IMAP flags {action.arg!r}")
        w.requires.add("imap4flags")
        return _cmd(kind, parent, list_of_flags=w.quote_list(flags))
    if kind in ("discard", "stop", "keep"):
        return _cmd(kind, parent)
    raise ValueError(f"unknown action {kind!r}")


def _rule_block(w: _Writer, rule: SieveRule) -> commands.Command:
    # Without conditions a rule applies to all mail (`true`), whatever its match says:
    # the reader gives such rules match="all" (services store them so).
    if rule.conditions:
        test = _cmd("allof" if rule.match == "all" else "anyof", tests=[_test(w, c) for c in rule.conditions])
    else:
        test = _cmd("true")
    if not rule.enabled:
        # `allof(false, …)` keeps a disabled rule's conditions in the script.
        test = _cmd("allof", tests=[_cmd("false"), test])
    block = _cmd("if", test=test)
    block.children = [_action(w, a, block) for a in rule.actions]
    return block


def _vacation_block(w: _Writer, vac: Vacation) -> commands.Command:
    w.requires.add("vacation")
    if vac.seconds is not None:
        w.requires.add("vacation-seconds")
        action = _cmd("vacation", days=":seconds", subject=":subject", reason=w.quote(vac.body, multiline=True))
        action.extra_arguments["days"] = str(vac.seconds)
    else:
        action = _cmd("vacation", days=":days", subject=":subject", reason=w.quote(vac.body, multiline=True))
        action.extra_arguments["days"] = str(vac.days)
    action.extra_arguments["subject"] = w.quote(vac.subject)
    if vac.from_addr:
        action.arguments["from"] = ":from"
        action.extra_arguments["from"] = w.quote(vac.from_addr)
    if vac.addresses:
        action.arguments["addresses"] = ":addresses"
        action.extra_arguments["addresses"] = [w.quote(a) for a in vac.addresses]
    tests = []
    for bound, rel in ((vac.start, "ge"), (vac.end, "le")):
        if bound is not None:
            w.requires.update({"date", "relational"})
            t = _cmd("currentdate", match_type=":value", date_part=w.quote("date"), key_list=w.quote(bound.isoformat()))
            t.extra_arguments["match-type"] = f'"{rel}"'
            tests.append(t)
    if not tests:
        return action
    block = _cmd("if", test=_cmd("allof", tests=tests))
    action.parent = block
    block.children = [action]
    return block


def _all_strings(rs: RuleSet) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = [(name, False) for name in rs.includes]
    if rs.vacation:
        out += vacation_strings(rs.vacation)
    for rule in rs.rules:
        out += rule_strings(rule)
    return out


def rule_strings(rule: SieveRule) -> list[tuple[str, bool]]:
    """A rule's typed strings, and whether each may span lines."""
    return ([(c.value, False) for c in rule.conditions] + [(c.header, False) for c in rule.conditions]
            + [(a.arg, a.kind in TEXT_ACTIONS) for a in rule.actions])


def vacation_strings(vac: Vacation) -> list[tuple[str, bool]]:
    return [(vac.subject, False), (vac.body, True), (vac.from_addr, False)] + [(a, False) for a in vac.addresses]


def needs_encoding(strings: list[tuple[str, bool]]) -> bool:
    return any(_needs_encoding(normalize_multiline(s) if ml else s, ml) for s, ml in strings)


def generate(rs: RuleSet) -> str:
    """The Sieve script for a rule set. Raises ValueError on values the forms never produce."""
    sievelib_ext.install()
    encode = any(_needs_encoding(normalize_multiline(s) if ml else s, ml) for s, ml in _all_strings(rs))
    w = _Writer(encode)
    parts: list[tuple[str | None, commands.Command]] = []
    for name in rs.includes:
        w.requires.add("include")
        parts.append((None, _cmd("include", location=":global", script_name=w.quote(name))))
    if rs.spam_threshold is not None:
        w.requires.add("fileinto")
        block = _cmd("if", test=_spamtest(w, rs.spam_threshold))
        block.children = [_cmd("fileinto", block, mailbox=w.quote(JUNK)), _cmd("stop", block)]
        parts.append((SPAM_COMMENT, block))
    if rs.vacation is not None:
        parts.append((VACATION_COMMENT, _vacation_block(w, rs.vacation)))
    for rule in rs.rules:
        parts.append((RULE_PREFIX + json.dumps(rule.name, ensure_ascii=False), _rule_block(w, rule)))

    out = io.StringIO()
    out.write(HEADER_COMMENT + "\n")
    if w.requires:
        reqs = sorted(w.requires, key=_REQUIRE_ORDER.index)
        _cmd("require", capabilities=[f'"{r}"' for r in reqs]).tosieve(target=out)
    for comment, cmd in parts:
        out.write("\n")
        if comment:
            out.write(comment + "\n")
        cmd.tosieve(target=out)
    return out.getvalue()
