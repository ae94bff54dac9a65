"""Any Sieve script as an ordered list of items the form editor can show, and back.

`read(text)` cuts a script into its top-level statements, keeping each one's exact text
(the comments and blank lines before it, the rest of its last line after it), and turns
each into an Item:

- "rule": an `if` (or one branch of an `if`/`elsif`/`else` chain) whose test and actions
  the editor's vocabulary holds, named from Roundcube's `# rule:[name]`, the editor's own
  `# rule: "name"`, or a one-line comment right before it (Nextcloud, KMail, by hand);
  disabled when Roundcube's `if false # test` or the editor's `allof(false, …)` says so;
- "vacation": the automatic reply (alone, or under Roundcube's `currentdate` date range);
- "require": a `require` statement;
- "raw": everything else, verbatim: unknown commands, variables, nested tests, a statement
  sievelib can not read, and the sections other programs manage (Nextcloud Mail's
  `### Nextcloud Mail: … ### DON'T EDIT ###` blocks, SnappyMail's `BEGIN:FILTER` blocks),
  whose own copy of their rules would go stale if their Sieve changed here.

Never guess: a statement becomes a rule only if what the writer would write for that rule
parses to the same commands (compared after `canon`, which only removes what Sieve itself
ignores: defaults, one-element lists, header-name case, a one-test allof/anyof).

`render(items)` writes the items back: every item whose rule (or reply) is still the one read
from it is its original text, byte for byte; changed and new ones are written by
filters.sieve.write; `require` grows only by what they need. So a script read and rendered
without changes is the original bytes.
"""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field

from sievelib import commands

from . import read as _read
from . import sievelib_ext
from . import write as _write
from .model import SieveRule, Vacation

KINDS = ("rule", "vacation", "require", "raw")


class ScanError(ValueError):
    """The text is not Sieve this module can cut into statements (then it is one raw item)."""


@dataclass
class Item:
    kind: str  # one of KINDS
    text: str = ""  # the exact original text ("" for an item created in the editor)
    lead: str = ""  # the comments and blank lines before the statement (part of `text`)
    tail: str = ""  # after the statement: the rest of its line (part of `text`)
    branch: str = ""  # a branch of an if/elsif/else chain: "if", "elsif" or "else"; "" alone
    name_style: str = ""  # how the rule's name is written: "roundcube", "duckmail", "comment" or ""
    label: str = ""  # raw: what it is, when known (e.g. "Nextcloud Mail: Vacation Responder")
    rule: SieveRule | None = None  # rule: the rule now
    read_rule: SieveRule | None = None  # rule: the rule as read from `text`
    vacation: Vacation | None = None  # vacation: the reply now (None: turned off)
    read_vacation: Vacation | None = None
    caps: list[str] = field(default_factory=list)  # require: its capabilities

    def changed(self) -> bool:
        if not self.text:
            return True
        if self.kind == "rule":
            return self.rule != self.read_rule
        if self.kind == "vacation":
            return self.vacation != self.read_vacation
        return False


# Scanning ------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""(?P<ws>[ \t\r\n]+)|(?P<hash>\#[^\n]*)|(?P<bracket>/\*.*?\*/)|(?P<string>"(?:[^"\\]|\\.)*")
    |(?P<text>text:[ \t]*(?:\#[^\n]*)?\r?\n(?:.*?\n)??\.\r?(?=\n|\Z))
    |(?P<tag>:[A-Za-z_][A-Za-z0-9_]*)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<number>[0-9]+[KMGkmg]?)
    |(?P<punct>[;{}\[\](),])""",
    re.VERBOSE | re.DOTALL,
)


def _tokens(text: str, start: int, end: int) -> list[tuple[str, int, int, str]]:
    """The tokens (kind, start, end, text) between start and end, comments and spaces left out."""
    out = []
    pos = start
    while pos < end:
        m = _TOKEN_RE.match(text, pos, end)
        if not m or m.end() == pos:
            raise ScanError(f"unexpected text at offset {pos}")
        kind = m.lastgroup
        if kind == "text" and not re.match(r"text:", m.group(), re.IGNORECASE):
            raise ScanError("bad multi-line string")
        if kind not in ("ws", "hash", "bracket"):
            out.append((kind, m.start(), m.end(), m.group()))
        pos = m.end()
    return out


@dataclass
class _Statement:
    start: int
    end: int
    keyword: str
    branches: list[tuple[str, int, int]]  # (keyword, start, end) of each if/elsif/else


def _statements(text: str, start: int, end: int) -> list[_Statement]:
    toks = _tokens(text, start, end)
    out: list[_Statement] = []
    i = 0

    def one(i: int) -> tuple[int, int, bool]:
        """From the command at i: (index after it, end offset, ended with a block)."""
        if toks[i][0] != "ident":
            raise ScanError(f"a command expected at offset {toks[i][1]}")
        j = i + 1
        while j < len(toks):
            kind, _s, e, value = toks[j]
            if value == ";":
                return j + 1, e, False
            if value == "{":
                depth = 0
                while j < len(toks):
                    if toks[j][3] == "{":
                        depth += 1
                    elif toks[j][3] == "}":
                        depth -= 1
                        if depth == 0:
                            return j + 1, toks[j][2], True
                    j += 1
                raise ScanError("a block without its closing brace")
            if value == "}":
                raise ScanError(f"a closing brace without a block at offset {toks[j][1]}")
            j += 1
        raise ScanError("a command without its end")

    while i < len(toks):
        keyword = toks[i][3].lower()
        s = toks[i][1]
        nxt, e, block = one(i)
        branches = [(keyword, s, e)]
        if block and keyword == "if":
            while nxt < len(toks) and toks[nxt][3].lower() in ("elsif", "else"):
                kw = toks[nxt][3].lower()
                bs = toks[nxt][1]
                nxt, e, _ = one(nxt)
                branches.append((kw, bs, e))
                if kw == "else":
                    break
        out.append(_Statement(s, e, keyword, branches))
        i = nxt
    return out


_LINE_TAIL_RE = re.compile(r"[ \t]*(?:#[^\n]*)?(?:\n|\Z)")

# Sections other programs manage: (start, end) regexes and the label.
_NEXTCLOUD_RE = re.compile(r"^### Nextcloud Mail: (?P<what>[^#\r\n]+?) ### DON'T EDIT ###[ \t]*\r?$", re.MULTILINE)
_SNAPPY_RE = re.compile(
    r"^/\*[ \t]*\r?\nBEGIN:FILTER:(?P<id>\S+)\r?\nBEGIN:HEADER\r?\n(?P<b64>.*?)END:HEADER.*?^/\* END:FILTER \*/[ \t]*(?:\r?\n|\Z)",
    re.MULTILINE | re.DOTALL,
)


def _line_end(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _sections(text: str) -> list[tuple[int, int, str]]:
    """Spans of text that other programs manage, with a label, in order, not overlapping."""
    spans = []
    markers = list(_NEXTCLOUD_RE.finditer(text))
    i = 0
    while i + 1 < len(markers):
        a, b = markers[i], markers[i + 1]
        if a.group("what") == b.group("what"):
            spans.append((a.start(), _line_end(text, b.end()), f"Nextcloud Mail: {a.group('what').strip()}"))
            i += 2
        else:
            i += 1
    for m in _SNAPPY_RE.finditer(text):
        label = "SnappyMail filter"
        try:
            name = json.loads(base64.b64decode("".join(m.group("b64").split())).decode("utf-8")).get("Name")
            if isinstance(name, str) and name:
                label = f"SnappyMail filter “{name}”"
        except (ValueError, UnicodeDecodeError, AttributeError):
            pass
        spans.append((m.start(), m.end(), label))
    spans.sort()
    out: list[tuple[int, int, str]] = []
    for s, e, label in spans:
        if out and s < out[-1][1]:
            continue
        out.append((s, e, label))
    return out


# Canonical commands: what a statement means, for comparing -----------------------------

_ADDRESS_TESTS = ("header", "address", "envelope")


def canon(node, encoded: bool):
    if isinstance(node, commands.Command):
        name = node.name
        if name in ("allof", "anyof") and len(node.arguments.get("tests", [])) == 1:
            return canon(node.arguments["tests"][0], encoded)
        args = {}
        for key, value in node.arguments.items():
            extra = node.extra_arguments.get(key)
            args[key] = (canon(value, encoded), canon(extra, encoded)) if extra is not None else canon(value, encoded)
        if name in _ADDRESS_TESTS:
            args.setdefault("match-type", ":is")
            args.setdefault("comparator", (":comparator", ("s", "i;ascii-casemap")))
            key = "header-names" if name == "header" else "header-list"
            names = args.get(key)
            if names is not None:
                names = names if isinstance(names, tuple) and names and names[0] != "s" else (names,)
                args[key] = tuple(("s", n[1].lower()) for n in names)
        if name in ("address", "envelope"):
            args.setdefault("address-part", ":all")
        children = tuple(canon(c, encoded) for c in node.children)
        return (name, tuple(sorted(args.items(), key=lambda kv: kv[0])), children)
    if isinstance(node, list):
        items = tuple(canon(v, encoded) for v in node)
        return items[0] if len(items) == 1 else items
    if isinstance(node, str):
        if node.startswith('"') or node.lower().startswith("text:"):
            return ("s", _read._decode(node, encoded))
        return node.lower() if node.startswith(":") else node
    return node


# Reading ---------------------------------------------------------------------------


def _parse(prefix: str, body: str) -> list[commands.Command]:
    return sievelib_ext.parse(prefix + body)[1:] if prefix else sievelib_ext.parse(body)


def _require_prefix(caps: list[str]) -> str:
    return ("require [" + ", ".join(json.dumps(c) for c in caps) + "];\n") if caps else ""


_ROUNDCUBE_NAME_RE = re.compile(r"^# rule:\[(?P<name>.*)\][ \t]*\r?$", re.MULTILINE)
_DUCKMAIL_NAME_RE = re.compile(r"^# rule: (?P<json>\".*\")[ \t]*\r?$", re.MULTILINE)
_DISABLED_RE = re.compile(r"\A(?:if|elsif)[ \t]+false[ \t]*#[ \t]*(?P<test>[^\r\n]+)", re.IGNORECASE)


def _name_from(lead: str) -> tuple[str, str]:
    """(name, style) from the comments before a rule; ("", "") when they name none."""
    found = list(_ROUNDCUBE_NAME_RE.finditer(lead))
    if found:
        return found[-1].group("name"), "roundcube"
    found = list(_DUCKMAIL_NAME_RE.finditer(lead))
    if found:
        m = found[-1]
        try:
            name = json.loads(m.group("json"))
        except ValueError:
            name = None
        if isinstance(name, str):
            return name, "duckmail"
    lines = [line.strip() for line in lead.replace("\r", "").split("\n") if line.strip()]
    if lines and lines[-1].startswith("#") and not lines[-1].startswith("##"):
        name = lines[-1].lstrip("#").strip()
        if 0 < len(name) <= 100:
            return name, "comment"
    return "", ""


def _rule_of(test, children, encoded: bool) -> SieveRule:
    enabled = True
    if test is not None and test.name == "allof" and len(test.arguments["tests"]) == 2 \
            and test.arguments["tests"][0].name == "false":
        enabled = False
        test = test.arguments["tests"][1]
    if test is None or test.name == "true":
        conditions, match = [], "all"
    elif test.name in ("allof", "anyof"):
        conditions = [_read._cond_from_test(t, encoded) for t in test.arguments["tests"]]
        match = "all" if test.name == "allof" or len(conditions) == 1 else "any"
    else:
        conditions, match = [_read._cond_from_test(test, encoded)], "all"
    if test is not None and test.name in ("allof", "anyof") and not conditions:
        raise _read.NotRepresentable("an empty allof/anyof")
    actions = [_read._action_from_cmd(c, encoded) for c in children]
    if not actions:
        raise _read.NotRepresentable("a rule without actions")
    return SieveRule(name="", conditions=conditions, actions=actions, match=match, enabled=enabled)


def _statement_text(w: _write._Writer, rule: SieveRule, branch: str) -> str:
    out = io.StringIO()
    _write._rule_block(w, rule).tosieve(target=out)
    text = out.getvalue().rstrip("\n")
    if branch == "elsif":
        return "elsif" + text[2:]
    if branch == "else":
        if rule.enabled and not rule.conditions:
            return "else" + text[len("if true"):]
        return "elsif" + text[2:]
    return text


def _vacation_text(w: _write._Writer, vac: Vacation) -> str:
    out = io.StringIO()
    _write._vacation_block(w, vac).tosieve(target=out)
    return out.getvalue().rstrip("\n")


def _check_rule(rule: SieveRule, branch: str, original: list[commands.Command], caps: list[str], encoded: bool) -> None:
    """NotRepresentable unless the writer's text for `rule` means exactly `original`."""
    w = _write._Writer(encoded)
    try:
        text = _statement_text(w, rule, "" if branch in ("", "if") else "elsif" if branch == "elsif" else branch)
    except ValueError as exc:
        raise _read.NotRepresentable(str(exc)) from exc
    if branch in ("elsif", "else"):
        text = "if false { stop; }\n" + text  # an elsif/else needs an if before it
    written = _parse(_require_prefix(sorted(set(caps) | w.requires)), text)
    if branch in ("elsif", "else"):
        written = written[1:]
    if [canon(c, encoded) for c in written] != [canon(c, encoded) for c in original]:
        raise _read.NotRepresentable("the writer would not write it the same way")


def _read_chain(text: str, st: _Statement, lead: str, tail: str, caps: list[str], encoded: bool) -> list[Item]:
    prefix = _require_prefix(caps)
    parsed = _parse(prefix, text[st.start:st.end])
    if len(parsed) != len(st.branches):
        raise _read.NotRepresentable("an odd if chain")
    name, style = _name_from(lead)
    items = []
    for k, ((kw, bs, be), cmd) in enumerate(zip(st.branches, parsed, strict=True)):
        branch_text = text[bs:be]
        test = cmd.arguments.get("test") if kw != "else" else None
        original = [cmd]
        disabled = _DISABLED_RE.match(branch_text)
        if test is not None and test.name == "false":
            if not disabled:
                raise _read.NotRepresentable("a rule that never runs")
            # Roundcube's disabled rule: `if false # <its test>`, the test kept in the comment.
            (shadow,) = _parse(prefix, f"if {disabled.group('test')} {{\n{_children_text(cmd)}}}\n")
            rule = _rule_of(shadow.arguments["test"], shadow.children, encoded)
            _check_rule(rule, "", [shadow], caps, encoded)
            rule.enabled = False
        else:
            rule = _rule_of(test, cmd.children, encoded)
            _check_rule(rule, kw if len(st.branches) > 1 else "", original, caps, encoded)
        branch = kw if len(st.branches) > 1 else ""
        if k == 0:
            rule.name = name
        b_tail = tail if k == len(st.branches) - 1 else text[be:st.branches[k + 1][1]]
        b_lead = lead if k == 0 else ""
        items.append(Item(kind="rule", text=b_lead + branch_text + b_tail, lead=b_lead, tail=b_tail, branch=branch,
                          name_style=style if k == 0 else "", rule=rule))
    return items


def _children_text(cmd: commands.Command) -> str:
    out = io.StringIO()
    for child in cmd.children:
        child.tosieve(target=out)
    return out.getvalue()


def _read_vacation(text: str, st: _Statement, caps: list[str], encoded: bool) -> Vacation:
    (cmd,) = _parse(_require_prefix(caps), text[st.start:st.end])
    vac = _read._vacation_from(cmd, encoded)
    w = _write._Writer(encoded)
    try:
        written = _parse(_require_prefix(sorted(set(caps) | {"vacation", "date", "relational", "vacation-seconds"})),
                         _vacation_text(w, vac) + "\n")
    except ValueError as exc:
        raise _read.NotRepresentable(str(exc)) from exc
    if [canon(c, encoded) for c in written] != [canon(cmd, encoded)]:
        raise _read.NotRepresentable("the writer would not write this reply the same way")
    return vac


def _caps_of(text: str, statements: list[_Statement]) -> list[str]:
    caps: list[str] = []
    for st in statements:
        if st.keyword == "require":
            for kind, _s, _e, value in _tokens(text, st.start, st.end):
                if kind == "string":
                    cap = _read._decode(value, False)
                    if cap not in caps:
                        caps.append(cap)
    return caps


def read(text: str) -> list[Item]:
    """The items of a script; their texts put together are `text`, exactly."""
    sievelib_ext.install()
    if not text:
        return []
    sections = _sections(text)
    # Segments: (start, end, label or None for Sieve to cut into statements).
    segments: list[tuple[int, int, str | None]] = []
    pos = 0
    for s, e, label in sections:
        if s > pos:
            segments.append((pos, s, None))
        segments.append((s, e, label))
        pos = e
    if pos < len(text):
        segments.append((pos, len(text), None))
    try:
        cut = {i: _statements(text, s, e) for i, (s, e, label) in enumerate(segments) if label is None}
        inside = [st for i, (s, e, label) in enumerate(segments) if label is not None for st in _statements(text, s, e)]
    except ScanError:
        return [Item(kind="raw", text=text)]
    caps = _caps_of(text, [st for sts in cut.values() for st in sts] + inside)
    encoded = "encoded-character" in caps
    items: list[Item] = []
    vacation_seen = False
    for i, (s, e, label) in enumerate(segments):
        if label is not None:
            items.append(Item(kind="raw", text=text[s:e], label=label))
            continue
        prev = s
        for st in cut[i]:
            lead = text[prev:st.start]
            m = _LINE_TAIL_RE.match(text, st.end, e)
            tail = m.group() if m else ""
            prev = st.end + len(tail)
            whole = lead + text[st.start:st.end] + tail
            if st.keyword == "require":
                items.append(Item(kind="require", text=whole, lead=lead, tail=tail,
                                  caps=_caps_of(text, [st])))
                continue
            try:
                if not vacation_seen and _is_vacation(text, st):
                    vac = _read_vacation(text, st, caps, encoded)
                    items.append(Item(kind="vacation", text=whole, lead=lead, tail=tail, vacation=vac,
                                      read_vacation=_copy_vacation(vac)))
                    vacation_seen = True
                    continue
                if st.keyword == "if":
                    items.extend(_read_chain(text, st, lead, tail, caps, encoded))
                    continue
            except (_read.NotRepresentable, sievelib_ext.ParseFailed, KeyError, ValueError, TypeError,
                    AttributeError, IndexError):
                pass
            items.append(Item(kind="raw", text=whole, lead=lead, tail=tail))
        if prev < e:
            rest = text[prev:e]
            if items and not rest.strip():
                items[-1].text += rest
                items[-1].tail += rest
            else:
                items.append(Item(kind="raw", text=rest))
    _name_rules(items)
    for item in items:
        if item.kind == "rule":
            item.read_rule = _copy_rule(item.rule)
    return items


def _is_vacation(text: str, st: _Statement) -> bool:
    body = text[st.start:st.end]
    if st.keyword == "vacation":
        return True
    return st.keyword == "if" and len(st.branches) == 1 and "currentdate" in body and re.search(r"\bvacation\b", body) is not None


def _name_rules(items: list[Item]) -> None:
    """Rules the script does not name get "Rule N"; a chain's later branches the first one's name."""
    number = 0
    head = ""
    for item in items:
        if item.kind != "rule":
            continue
        number += 1
        if item.branch in ("", "if"):
            if not item.rule.name:
                item.rule.name = f"Rule {number}"
            head = item.rule.name
        else:
            item.rule.name = f"{head} – {'otherwise' if item.branch == 'else' else 'else if'}"


def _copy_rule(rule: SieveRule) -> SieveRule:
    import copy

    return copy.deepcopy(rule)


def _copy_vacation(vac: Vacation) -> Vacation:
    import copy

    return copy.deepcopy(vac)


# Writing ---------------------------------------------------------------------------


def _named_lead(item: Item) -> str:
    """The comments before a changed rule, its name written in the script's own way."""
    lead = item.lead
    if item.branch in ("elsif", "else"):
        return lead  # a chain is named by its first branch
    name = " ".join(item.rule.name.split())
    if item.read_rule is not None and item.read_rule.name == item.rule.name:
        return lead
    if item.name_style == "roundcube":
        return _last_sub(_ROUNDCUBE_NAME_RE, lead, f"# rule:[{name}]")
    if item.name_style == "duckmail":
        return _last_sub(_DUCKMAIL_NAME_RE, lead, _write.RULE_PREFIX + json.dumps(item.rule.name, ensure_ascii=False))
    if item.name_style == "comment":
        lines = lead.split("\n")
        for k in range(len(lines) - 1, -1, -1):
            if lines[k].strip().startswith("#"):
                indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
                cr = "\r" if lines[k].endswith("\r") else ""
                lines[k] = f"{indent}# {name}{cr}"
                return "\n".join(lines)
    if lead and not lead.endswith("\n"):
        lead += "\n"
    return lead + f"# rule:[{name}]\n"


def _renamed_only(item: Item) -> bool:
    import dataclasses

    return item.read_rule is not None and dataclasses.replace(item.rule, name=item.read_rule.name) == item.read_rule


def _last_sub(pattern: re.Pattern, lead: str, line: str) -> str:
    matches = list(pattern.finditer(lead))
    m = matches[-1]
    cr = "\r" if m.group().endswith("\r") else ""
    return lead[: m.start()] + line + cr + lead[m.end():]


def render(items: list[Item]) -> str:
    """The script the items describe (see the module's docstring). ValueError for a typed value
    this script can not hold (e.g. one that needs encoded characters in a script whose other
    strings would then change meaning)."""
    sievelib_ext.install()
    caps = [c for item in items if item.kind == "require" for c in item.caps]
    changed = [item for item in items if item.changed() and item.kind in ("rule", "vacation")]
    strings: list[tuple[str, bool]] = []
    for item in changed:
        if item.kind == "rule":
            strings += _write.rule_strings(item.rule)
        elif item.vacation is not None:
            strings += _write.vacation_strings(item.vacation)
    encoded = "encoded-character" in caps
    if not encoded and _write.needs_encoding(strings):
        if any("${" in item.text for item in items if not item.changed()):
            raise ValueError("This script has text that would change meaning if control characters were written in it.")
        encoded = True
    if "variables" in caps and any("${" in s for s, _ml in strings):
        raise ValueError("This script uses variables: “${” would be read as one. Leave it out.")
    w = _write._Writer(encoded)
    parts: list[str] = []
    for item in items:
        if item in changed:
            if item.kind == "rule":
                lead = _named_lead(item)
                if item.text and _renamed_only(item):
                    stmt = item.text[len(item.lead):len(item.text) - len(item.tail)]
                else:
                    stmt = _statement_text(w, item.rule, item.branch)
            elif item.vacation is None:
                parts.append("")  # the automatic reply was turned off
                continue
            else:
                stmt = _vacation_text(w, item.vacation)
                lead = item.lead
            tail = item.tail if item.text else "\n"
            if parts and not parts[-1].endswith("\n") and not item.text:
                parts[-1] += "\n"
            parts.append(lead + stmt + tail)
        else:
            parts.append(item.text)
    missing = [c for c in sorted(w.requires, key=_write._REQUIRE_ORDER.index) if c not in caps]
    if missing:
        first = next((k for k, item in enumerate(items) if item.kind == "require"), None)
        if first is None:
            parts.insert(0, _require_prefix(missing))
        else:
            req = items[first]
            parts[first] = req.lead + _require_prefix(req.caps + missing).rstrip("\n") + (req.tail or "\n")
    return "".join(parts)


# Senders a script names ---------------------------------------------------------

_SENDING = {"vacation", "notify"}  # the commands that send mail under a :from of the script's choosing


def sent_from(text: str) -> list[tuple[int, str, str]]:
    """(line, command, value) of every `:from` a `vacation` or `notify` in `text` gives.

    A scan of tokens, not a parse: it also finds them in statements sievelib can not read,
    and in comments and strings it finds nothing. A script that does not even scan gives []
    (the server refuses it with its own message)."""
    try:
        tokens = _tokens(text, 0, len(text))
    except ScanError:
        return []
    found = []
    command = ""
    for i, (kind, start, _end, value) in enumerate(tokens):
        if kind == "ident":
            command = value.lower()
        elif kind == "punct" and value in ";{}":
            command = ""
        elif (kind == "tag" and value.lower() == ":from" and command in _SENDING and i + 1 < len(tokens)
              and tokens[i + 1][0] == "string"):
            raw = tokens[i + 1][3][1:-1]
            found.append((text.count("\n", 0, start) + 1, command, re.sub(r"\\(.)", r"\1", raw)))
    return found
