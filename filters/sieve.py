"""The form editor's rule set as Sieve (RFC 5228), and back.

`generate(ruleset)` builds the script with sievelib's command objects and writes it with
their `tosieve`; `parse(text)` turns a script back into a RuleSet. Pure functions: no
database, no network.

Nothing typed in a form can change the script's structure:
- every value is written as a quoted string through `_quote`, which escapes `\\` and `"`;
- characters that a quoted string can not carry faithfully (control characters such as a
  lone CR or, in one-line fields, CR/LF) are written with RFC 5228's encoded-character
  extension (`${hex:0D}`); when that extension is in use every `$` is encoded too, so a
  typed `${hex:41}` stays literal text;
- rule names live in `#` comments as JSON strings, which never contain a line break.

`parse` accepts exactly what `generate` writes: it interprets the script, regenerates it
and compares. Anything else (a script written by hand, or edited since) raises
NotRepresentable, and the caller opens the raw editor instead of garbling it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import asdict, dataclass, field

from sievelib import commands, tools

from duckmail.lib import sieve_ext

HEADER_COMMENT = "# DuckMail filters: written by the form editor. Edit them on the Filters page."
SPAM_COMMENT = "# spam threshold"
VACATION_COMMENT = "# vacation"
RULE_PREFIX = "# rule: "
JUNK = "Junk"

# Condition fields and the header(s) they test.
TEXT_FIELDS = {"from": ["from"], "to": ["to", "cc"], "subject": ["subject"], "header": []}
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
ACTIONS = ("fileinto", "copyto", "redirect", "redirect_copy", "reject", "discard", "mark_read", "flag", "stop")
FOLDER_ACTIONS = ("fileinto", "copyto")
ADDRESS_ACTIONS = ("redirect", "redirect_copy")
TEXT_ACTIONS = ("reject",)
FLAG_ACTIONS = {"mark_read": "\\Seen", "flag": "\\Flagged"}

SIZE_RE = re.compile(r"^[0-9]{1,9}[KMG]?$")
# Require order in generated scripts (stable, so that regenerating gives the same text).
_REQUIRE_ORDER = [
    "encoded-character", "include", "fileinto", "copy", "reject", "imap4flags", "regex", "relational",
    "comparator-i;ascii-numeric", "spamtest", "spamtestplus", "date", "vacation",
]
_ENCODED_RE = re.compile(r"\$\{(hex|unicode):([0-9a-fA-F \t]*)\}", re.IGNORECASE)


class NotRepresentable(ValueError):
    """The script is valid Sieve (maybe) but not something the form editor wrote."""


@dataclass
class Condition:
    field: str  # one of TEXT_FIELDS, "size" or "spam"
    op: str  # TEXT_OPS for text fields, SIZE_OPS for size, "over" for spam
    value: str
    header: str = ""  # the header name when field == "header"


def canonical_condition(cond: Condition) -> Condition:
    """The one form a condition is written in: header names are case-insensitive in Sieve,
    and "any header: Subject" is the Subject condition. Without this, two conditions that
    mean the same would write the same script and read back as only one of them."""
    if cond.field != "header":
        return cond
    header = cond.header.lower()
    for fld, headers in TEXT_FIELDS.items():
        if headers == [header]:
            return Condition(field=fld, op=cond.op, value=cond.value)
    return Condition(field="header", op=cond.op, value=cond.value, header=header)


@dataclass
class Action:
    kind: str  # one of ACTIONS
    arg: str = ""  # folder, address or message, depending on kind


@dataclass
class Rule:
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


@dataclass
class RuleSet:
    includes: list[str] = field(default_factory=list)  # global scripts, e.g. "incoming_spam"
    spam_threshold: int | None = None  # percent
    vacation: Vacation | None = None  # None: no auto-reply
    rules: list[Rule] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


# Strings ---------------------------------------------------------------------------


def _needs_encoding(value: str, multiline: bool) -> bool:
    for ch in value:
        o = ord(ch)
        if (o < 0x20 and ch != "\t" and not (multiline and ch == "\n")) or o == 0x7F:
            return True
    return False


def normalize_multiline(value: str) -> str:
    """Line breaks of a multi-line text as LF. Text areas send CRLF, ManageSieve turns LF
    into CRLF and back, and a lone CR is a line break in mail too: all become LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


class _Writer:
    """Collects requirements and quotes strings for one script."""

    def __init__(self, encode: bool):
        self.encode = encode
        self.requires: set[str] = {"encoded-character"} if encode else set()

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


def _decode(value: str, encoded: bool) -> str:
    """A quoted string's value: unescaped, and encoded characters decoded when in use."""
    text = tools.unquote(value)
    if not encoded:
        return text

    def repl(m: re.Match) -> str:
        digits = m.group(2).split()
        base = 16
        return "".join(chr(int(d, base)) for d in digits)

    return _ENCODED_RE.sub(repl, text)


# Generation --------------------------------------------------------------------------


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
    names = TEXT_FIELDS[cond.field] or [cond.header]
    header_names = [w.quote(n) for n in names] if len(names) > 1 else w.quote(names[0])
    test = _cmd("header", match_type=tag, header_names=header_names, key_list=w.quote(cond.value))
    if negate:
        return _cmd("not", test=test)
    return test


def _spamtest(w: _Writer, percent: int | str) -> commands.Command:
    w.requires.update({"spamtestplus", "relational", "comparator-i;ascii-numeric"})
    test = _cmd("spamtest", percent=":percent", match_type=":value", comparator=":comparator", value=w.quote(str(percent)))
    test.extra_arguments["match-type"] = '"gt"'
    test.extra_arguments["comparator"] = '"i;ascii-numeric"'
    return test


def _test(w: _Writer, cond: Condition) -> commands.Command:
    if cond.field in TEXT_FIELDS:
        return _text_test(w, cond)
    if cond.field == "size":
        if not SIZE_RE.match(cond.value) or cond.op not in SIZE_OPS:
            raise ValueError(f"bad size condition {cond.op} {cond.value!r}")
        return _cmd("size", comparator=SIZE_OPS[cond.op], limit=cond.value)
    if cond.field == "spam":
        return _spamtest(w, int(cond.value))
    raise ValueError(f"unknown condition field {cond.field!r}")


def _action(w: _Writer, action: Action, parent: commands.Command) -> commands.Command:
    kind = action.kind
    if kind == "fileinto":
        w.requires.add("fileinto")
        return _cmd("fileinto", parent, mailbox=w.quote(action.arg))
    if kind == "copyto":
        w.requires.update({"fileinto", "copy"})
        return _cmd("fileinto", parent, copy=":copy", mailbox=w.quote(action.arg))
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
    if kind in ("discard", "stop"):
        return _cmd(kind, parent)
    raise ValueError(f"unknown action {kind!r}")


def _rule_block(w: _Writer, rule: Rule) -> commands.Command:
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
    action = _cmd("vacation", days=":days", subject=":subject", reason=w.quote(vac.body, multiline=True))
    action.extra_arguments["days"] = str(vac.days)
    action.extra_arguments["subject"] = w.quote(vac.subject)
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
        out += [(rs.vacation.subject, False), (rs.vacation.body, True)] + [(a, False) for a in rs.vacation.addresses]
    for rule in rs.rules:
        out += [(c.value, False) for c in rule.conditions] + [(c.header, False) for c in rule.conditions]
        out += [(a.arg, a.kind in TEXT_ACTIONS) for a in rule.actions]
    return out


def generate(rs: RuleSet) -> str:
    """The Sieve script for a rule set. Raises ValueError on values the forms never produce."""
    sieve_ext.install()
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


# Parsing -----------------------------------------------------------------------------


def _str(value, encoded: bool) -> str:
    if isinstance(value, list):
        raise NotRepresentable("a list where the editor writes one value")
    return _decode(value, encoded)


def _cond_from_test(test: commands.Command, encoded: bool) -> Condition:
    negate = False
    if test.name == "not":
        negate = True
        test = test.arguments["test"]
    if test.name == "header":
        names = test.arguments["header-names"]
        names = [_str(n, encoded) for n in names] if isinstance(names, list) else [_str(names, encoded)]
        tag = test.arguments.get("match-type", ":is")
        op = next((k for k, v in TEXT_OPS.items() if v == (tag, negate)), None)
        if op is None:
            raise NotRepresentable(f"match type {tag}")
        value = _str(test.arguments["key-list"], encoded)
        lowered = [n.lower() for n in names]
        for fld, headers in TEXT_FIELDS.items():
            if headers and lowered == headers:
                return Condition(field=fld, op=op, value=value)
        if len(names) != 1:
            raise NotRepresentable("several headers in one condition")
        return Condition(field="header", op=op, value=value, header=lowered[0])
    if negate:
        raise NotRepresentable(f"not {test.name}")
    if test.name == "size":
        op = {v: k for k, v in SIZE_OPS.items()}.get(test.arguments["comparator"])
        return Condition(field="size", op=op or "", value=str(test.arguments["limit"]))
    if test.name == "spamtest":
        return Condition(field="spam", op="over", value=_str(test.arguments["value"], encoded))
    raise NotRepresentable(f"the test “{test.name}”")


def _action_from_cmd(cmd: commands.Command, encoded: bool) -> Action:
    name = cmd.name
    if name == "fileinto":
        return Action("copyto" if "copy" in cmd.arguments else "fileinto", _str(cmd.arguments["mailbox"], encoded))
    if name == "redirect":
        return Action("redirect_copy" if "copy" in cmd.arguments else "redirect", _str(cmd.arguments["address"], encoded))
    if name == "reject":
        return Action("reject", _str(cmd.arguments["text"], encoded))
    if name == "addflag":
        flag = _str(cmd.arguments["list-of-flags"], encoded)
        kind = next((k for k, v in FLAG_ACTIONS.items() if v == flag), None)
        if kind is None:
            raise NotRepresentable(f"the flag {flag}")
        return Action(kind)
    if name in ("discard", "stop"):
        return Action(name)
    raise NotRepresentable(f"the action “{name}”")


def _comment(cmd: commands.Command) -> str | None:
    comments = [c.decode("utf-8") if isinstance(c, bytes) else c for c in cmd.hash_comments]
    comments = [c for c in comments if c != HEADER_COMMENT]
    if len(comments) > 1:
        raise NotRepresentable("comments the editor did not write")
    return comments[0] if comments else None


def _rule_from_block(name: str, cmd: commands.Command, encoded: bool) -> Rule:
    if cmd.name != "if":
        raise NotRepresentable(f"“{cmd.name}” where a rule was expected")
    test = cmd.arguments["test"]
    enabled = True
    if test.name == "allof" and len(test.arguments["tests"]) == 2 and test.arguments["tests"][0].name == "false":
        enabled = False
        test = test.arguments["tests"][1]
    if test.name == "true":
        conditions, match = [], "all"
    elif test.name in ("allof", "anyof"):
        conditions = [_cond_from_test(t, encoded) for t in test.arguments["tests"]]
        match = "all" if test.name == "allof" else "any"
    else:
        raise NotRepresentable(f"the rule test “{test.name}”")
    actions = [_action_from_cmd(c, encoded) for c in cmd.children]
    return Rule(name=name, conditions=conditions, actions=actions, match=match, enabled=enabled)


def _vacation_from(cmd: commands.Command, encoded: bool) -> Vacation:
    start = end = None
    if cmd.name == "if":
        for t in cmd.arguments["test"].arguments.get("tests", []):
            if t.name != "currentdate":
                raise NotRepresentable("a vacation condition the editor did not write")
            day = dt.date.fromisoformat(_str(t.arguments["key-list"], encoded))
            if t.extra_arguments.get("match-type") == '"ge"':
                start = day
            else:
                end = day
        if len(cmd.children) != 1:
            raise NotRepresentable("more than the auto-reply in the vacation block")
        cmd = cmd.children[0]
    if cmd.name != "vacation":
        raise NotRepresentable("the vacation block")
    addresses = cmd.extra_arguments.get("addresses", [])
    addresses = addresses if isinstance(addresses, list) else [addresses]
    return Vacation(
        subject=_str(cmd.extra_arguments.get("subject", '""'), encoded),
        body=_str(cmd.arguments["reason"], encoded),
        addresses=[_str(a, encoded) for a in addresses],
        days=int(cmd.extra_arguments.get("days", 7)),
        start=start,
        end=end,
    )


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def parse(text: str) -> RuleSet:
    """The RuleSet a script written by `generate` describes; NotRepresentable otherwise."""
    try:
        result = sieve_ext.parse(text)
    except sieve_ext.ParseFailed as exc:
        raise NotRepresentable(f"sievelib can not read it ({exc.message})") from exc
    rs = RuleSet()
    encoded = False
    try:
        for cmd in result:
            if cmd.name == "require":
                caps = cmd.arguments["capabilities"]
                caps = caps if isinstance(caps, list) else [caps]
                encoded = '"encoded-character"' in caps
                continue
            comment = _comment(cmd)
            if cmd.name == "include" and comment is None:
                rs.includes.append(_str(cmd.arguments["script-name"], encoded))
            elif comment == SPAM_COMMENT and cmd.name == "if":
                rs.spam_threshold = int(_str(cmd.arguments["test"].arguments["value"], encoded))
            elif comment == VACATION_COMMENT:
                rs.vacation = _vacation_from(cmd, encoded)
            elif comment and comment.startswith(RULE_PREFIX):
                name = json.loads(comment[len(RULE_PREFIX):])
                if not isinstance(name, str):
                    raise NotRepresentable("a rule name that is not a string")
                rs.rules.append(_rule_from_block(name, cmd, encoded))
            else:
                raise NotRepresentable(f"“{cmd.name}” outside a rule")
        regenerated = generate(rs)
    except NotRepresentable:
        raise
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise NotRepresentable(f"parts the editor did not write ({exc})") from exc
    if _normalize(regenerated) != _normalize(text):
        raise NotRepresentable("changes made outside the form editor")
    return rs
