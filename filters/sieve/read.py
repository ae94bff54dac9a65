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
from .model import FLAG_ACTIONS, SIZE_OPS, TEXT_FIELDS, TEXT_OPS, Action, Condition, RuleSet, SieveRule, Vacation, same_script
from .write import HEADER_COMMENT, RULE_PREFIX, SPAM_COMMENT, VACATION_COMMENT, generate

_ENCODED_RE = re.compile(r"\$\{(hex|unicode):([0-9a-fA-F \t]*)\}", re.IGNORECASE)


class NotRepresentable(ValueError):
    """The script is valid Sieve (maybe) but not something the form editor wrote."""


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
