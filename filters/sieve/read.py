"""The reader: a script the form editor wrote, back into its RuleSet.

`parse` accepts exactly what `generate` writes: it interprets the script, regenerates it
and compares. Anything else (a script written by hand, or edited since) raises
NotRepresentable, and the caller opens the raw editor instead of garbling it.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from sievelib import commands, tools

from . import sievelib_ext
from .model import (
    ADDRESS_FIELDS,
    ENVELOPE_FIELDS,
    FLAG_ACTIONS,
    SIZE_OPS,
    SPAM_OPS,
    TEXT_FIELDS,
    TEXT_OPS,
    Action,
    Condition,
    RuleSet,
    SieveRule,
    Vacation,
    same_script,
)
from .write import HEADER_COMMENT, RULE_PREFIX, SPAM_COMMENT, VACATION_COMMENT, generate

_ENCODED_RE = re.compile(r"\$\{(hex|unicode):([0-9a-fA-F \t]*)\}", re.IGNORECASE)


class NotRepresentable(ValueError):
    """The script is valid Sieve (maybe) but not something the form editor wrote."""


def _multiline(value: str) -> str:
    """The value of a `text:` string: the lines after `text:` up to the lone ".", dot-stuffing undone."""
    body = value.split("\n", 1)[1] if "\n" in value else ""
    lines = body.split("\n")
    if lines and lines[-1].rstrip("\r") == ".":
        lines = lines[:-1]
    out = "\n".join(line[1:] if line.startswith("..") else line for line in lines)
    return out + "\n" if lines else out


def _decode(value: str, encoded: bool) -> str:
    """A string's value: unescaped, and encoded characters decoded when in use."""
    text = _multiline(value) if value.startswith("text:") else tools.unquote(value)
    if not encoded:
        return text

    def repl(m: re.Match) -> str:
        digits = m.group(2).split()
        return "".join(chr(int(d, 16)) for d in digits)  # hex: octets' values; unicode: code points

    return _ENCODED_RE.sub(repl, text)


def _str(value, encoded: bool) -> str:
    if isinstance(value, list):
        if len(value) == 1:  # ["x"] means "x"
            return _decode(value[0], encoded)
        raise NotRepresentable("a list where the editor writes one value")
    return _decode(value, encoded)


def _strs(value, encoded: bool) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [_decode(v, encoded) for v in values]


_PARTS = {":all": "all", ":localpart": "localpart", ":domain": "domain", ":user": "user", ":detail": "detail"}
_RELATIONS = {v: k for k, v in SPAM_OPS.items()}


def _only(test: commands.Command, allowed: set[str]) -> None:
    """Refuse tags the editor can not represent (a comparator, :index, :mime …)."""
    extra = set(test.arguments) - allowed
    if extra:
        raise NotRepresentable(f"{test.name} with {', '.join(sorted(extra))}")


def _cond_from_test(test: commands.Command, encoded: bool) -> Condition:
    negate = False
    if test.name == "not":
        negate = True
        test = test.arguments["test"]
    if test.name in ("header", "address", "envelope"):
        _only(test, {"match-type", "header-names", "header-list", "key-list", "address-part"})
        names = _strs(test.arguments.get("header-names", test.arguments.get("header-list")), encoded)
        tag = test.arguments.get("match-type", ":is")
        op = next((k for k, v in TEXT_OPS.items() if v == (tag, negate)), None)
        if op is None:
            raise NotRepresentable(f"match type {tag}")
        value = _str(test.arguments["key-list"], encoded)
        lowered = [n.lower() for n in names]
        part = ""
        if test.name != "header":
            part = _PARTS[test.arguments.get("address-part", ":all")]
        if test.name == "envelope":
            fld = next((f for f, n in ENVELOPE_FIELDS.items() if [n] == lowered), None)
            if fld is None:
                raise NotRepresentable("an envelope part the editor does not offer")
            return Condition(field=fld, op=op, value=value, part=part)
        for fld, headers in TEXT_FIELDS.items():
            if headers and lowered == headers and (not part or fld in ADDRESS_FIELDS):
                return Condition(field=fld, op=op, value=value, part=part)
        if len(names) != 1:
            raise NotRepresentable("several headers in one condition")
        return Condition(field="header", op=op, value=value, header=lowered[0], part=part)
    if negate:
        raise NotRepresentable(f"not {test.name}")
    if test.name == "size":
        op = {v: k for k, v in SIZE_OPS.items()}.get(test.arguments["comparator"])
        return Condition(field="size", op=op or "", value=str(test.arguments["limit"]))
    if test.name == "spamtest":
        _only(test, {"percent", "match-type", "comparator", "value"})
        relation = _decode(test.extra_arguments.get("match-type", '""'), False)
        op = _RELATIONS.get(relation)
        if test.arguments.get("match-type") != ":value" or op is None:
            raise NotRepresentable("a spamtest the editor can not represent")
        fld = "spam" if "percent" in test.arguments else "spam_level"
        return Condition(field=fld, op=op, value=_str(test.arguments["value"], encoded))
    if test.name == "duplicate":
        _only(test, set())
        return Condition(field="duplicate", op="yes", value="")
    raise NotRepresentable(f"the test “{test.name}”")


def _action_from_cmd(cmd: commands.Command, encoded: bool) -> Action:
    name = cmd.name
    if name == "fileinto":
        _only(cmd, {"copy", "create", "mailbox"})
        return Action("copyto" if "copy" in cmd.arguments else "fileinto", _str(cmd.arguments["mailbox"], encoded),
                      create="create" in cmd.arguments)
    if name == "redirect":
        _only(cmd, {"copy", "address"})
        return Action("redirect_copy" if "copy" in cmd.arguments else "redirect", _str(cmd.arguments["address"], encoded))
    if name == "reject":
        return Action("reject", _str(cmd.arguments["text"], encoded))
    if name in ("addflag", "setflag", "removeflag"):
        _only(cmd, {"list-of-flags"})
        flags = _strs(cmd.arguments["list-of-flags"], encoded)
        if any(not f or any(c.isspace() for c in f) for f in flags):
            raise NotRepresentable("an IMAP flag with spaces")
        kind = next((k for k, v in FLAG_ACTIONS.items() if [v] == flags), None)
        if name == "addflag" and kind is not None:
            return Action(kind)
        return Action(name, " ".join(flags))
    if name in ("discard", "stop", "keep"):
        _only(cmd, set())
        return Action(name)
    raise NotRepresentable(f"the action “{name}”")


def _comment(cmd: commands.Command) -> str | None:
    comments = [c.decode("utf-8") if isinstance(c, bytes) else c for c in cmd.hash_comments]
    comments = [c for c in comments if c != HEADER_COMMENT]
    if len(comments) > 1:
        raise NotRepresentable("comments the editor did not write")
    return comments[0] if comments else None


def _rule_from_block(name: str, cmd: commands.Command, encoded: bool) -> SieveRule:
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
    return SieveRule(name=name, conditions=conditions, actions=actions, match=match, enabled=enabled)


def _vacation_from(cmd: commands.Command, encoded: bool) -> Vacation:
    """A vacation action, alone or under `if [allof(]currentdate :value "ge"/"le" "date" "YYYY-MM-DD"[)]`."""
    start = end = None
    if cmd.name == "if":
        test = cmd.arguments["test"]
        tests = test.arguments["tests"] if test.name == "allof" else [test]
        for t in tests:
            if t.name != "currentdate":
                raise NotRepresentable("a vacation condition the editor can not represent")
            _only(t, {"match-type", "date-part", "key-list"})
            relation = _decode(t.extra_arguments.get("match-type", '""'), False)
            if t.arguments.get("match-type") != ":value" or _str(t.arguments["date-part"], encoded) != "date":
                raise NotRepresentable("a vacation date the editor can not represent")
            day = dt.date.fromisoformat(_str(t.arguments["key-list"], encoded))
            if relation == "ge" and start is None:
                start = day
            elif relation == "le" and end is None:
                end = day
            else:
                raise NotRepresentable("a vacation date the editor can not represent")
        if len(cmd.children) != 1:
            raise NotRepresentable("more than the auto-reply in the vacation block")
        cmd = cmd.children[0]
    if cmd.name != "vacation":
        raise NotRepresentable("the vacation block")
    _only(cmd, {"days", "subject", "from", "addresses", "reason"})
    addresses = cmd.extra_arguments.get("addresses", [])
    seconds = None
    days = 7
    if cmd.arguments.get("days") == ":seconds":
        seconds = int(cmd.extra_arguments["days"])
    elif "days" in cmd.arguments:
        days = int(cmd.extra_arguments["days"])
    return Vacation(
        subject=_str(cmd.extra_arguments.get("subject", '""'), encoded),
        body=_str(cmd.arguments["reason"], encoded),
        addresses=_strs(addresses, encoded) if addresses else [],
        days=days,
        start=start,
        end=end,
        seconds=seconds,
        from_addr=_str(cmd.extra_arguments["from"], encoded) if "from" in cmd.arguments else "",
    )


def parse(text: str) -> RuleSet:
    """The RuleSet a script written by `generate` describes; NotRepresentable otherwise."""
    try:
        result = sievelib_ext.parse(text)
    except sievelib_ext.ParseFailed as exc:
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
    if not same_script(regenerated, text):
        raise NotRepresentable("changes made outside the form editor")
    return rs
