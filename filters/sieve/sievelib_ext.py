"""Sieve extensions sievelib 1.6 does not know, taught to it through its own extension points.

Out of the box sievelib's parser refuses `include :global` (RFC 6609), `spamtest :percent`
and `virustest` (RFC 5235), the `i;ascii-numeric` comparator (RFC 4790), `address :user /
:detail` (RFC 5233), editheader (RFC 5293), `string` (RFC 5229) and `mailboxexists`
(RFC 5490).
`install()` registers them once (`commands.add_commands` and the shared argument
definitions); `parse(text)` installs them and parses, raising ParseFailed with sievelib's
message. No dependency beyond sievelib: written to be offered upstream as is. The mail
server stays the authority on validity; this only lets scripts be read.

`duplicate` (RFC 7352) is taught only in its plain form (`if duplicate`): sievelib's parser
can not end a test whose arguments are all optional tags once one is given, so
`duplicate :seconds 60` still fails to parse (a script using it stays raw text).
"""

from __future__ import annotations

import threading

from sievelib import commands
from sievelib.parser import Parser

# Extensions that imply others (RFC 5235: spamtestplus extends spamtest).
_IMPLIED = {"spamtestplus": ["spamtest"], "virustest": [], "editheader": []}

_ASCII_NUMERIC = '"i;ascii-numeric"'


class IncludeCommand(commands.ControlCommand):
    """RFC 6609: include [:personal / :global] [:once] [:optional] <value: string>"""

    extension = "include"
    args_definition = [
        {"name": "location", "type": ["tag"], "values": [":personal", ":global"], "required": False},
        {"name": "once", "type": ["tag"], "values": [":once"], "required": False},
        {"name": "optional", "type": ["tag"], "values": [":optional"], "required": False},
        {"name": "script-name", "type": ["string"], "required": True},
    ]


class ReturnCommand(commands.ControlCommand):
    """RFC 6609: return"""

    extension = "include"
    args_definition = []


class GlobalCommand(commands.ControlCommand):
    """RFC 6609: global <value: string-list> (with variables)"""

    extension = "include"
    args_definition = [{"name": "value", "type": ["string", "stringlist"], "required": True}]


class SpamtestCommand(commands.TestCommand):
    """RFC 5235: spamtest [":percent"] [COMPARATOR] [MATCH-TYPE] <value: string>

    The argument order here is the order `tosieve` writes them, the form scripts usually
    take: `spamtest :percent :value "gt" :comparator "i;ascii-numeric" "37"`.
    """

    extension = "spamtest"
    args_definition = [
        {"name": "percent", "type": ["tag"], "values": [":percent"], "required": False, "extension": "spamtestplus"},
        commands.match_type,
        commands.comparator,
        {"name": "value", "type": ["string"], "required": True},
    ]


class VirustestCommand(commands.TestCommand):
    """RFC 5235: virustest [COMPARATOR] [MATCH-TYPE] <value: string>"""

    extension = "virustest"
    args_definition = [
        commands.match_type,
        commands.comparator,
        {"name": "value", "type": ["string"], "required": True},
    ]


class StringCommand(commands.TestCommand):
    """RFC 5229: string [MATCH-TYPE] [COMPARATOR] <source: string-list> <key-list: string-list>"""

    extension = "variables"
    args_definition = [
        commands.match_type,
        commands.comparator,
        {"name": "source", "type": ["string", "stringlist"], "required": True},
        {"name": "key-list", "type": ["string", "stringlist"], "required": True},
    ]


class MailboxexistsCommand(commands.TestCommand):
    """RFC 5490: mailboxexists <mailbox-names: string-list>"""

    extension = "mailbox"
    args_definition = [{"name": "mailbox-names", "type": ["string", "stringlist"], "required": True}]


class AddheaderCommand(commands.ActionCommand):
    """RFC 5293: addheader [:last] <field-name: string> <value: string>"""

    extension = "editheader"
    args_definition = [
        {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
        {"name": "field-name", "type": ["string"], "required": True},
        {"name": "value", "type": ["string"], "required": True},
    ]


class DeleteheaderCommand(commands.ActionCommand):
    """RFC 5293: deleteheader [:index n [:last]] [COMPARATOR] [MATCH-TYPE] <field-name> [<value-patterns>]"""

    extension = "editheader"
    non_deterministic_args = True
    args_definition = [
        {"name": "index", "type": ["tag"], "values": [":index"], "extra_arg": {"type": "number"}, "required": False},
        {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
        commands.comparator,
        commands.match_type,
        {"name": "field-name", "type": ["string"], "required": True},
        {"name": "value-patterns", "type": ["string", "stringlist"], "required": False},
    ]

    def reassign_arguments(self):
        pass


class DuplicateCommand(commands.TestCommand):
    """RFC 7352: duplicate [":handle" <handle: string>] [":header" <name: string> / ":uniqueid" <value: string>]
    [":seconds" <timeout: number>] [":last"] (only the plain form parses, see the module's docstring)"""

    extension = "duplicate"
    args_definition = [
        {"name": "handle", "type": ["tag"], "values": [":handle"], "extra_arg": {"type": "string"}, "required": False},
        {"name": "header", "type": ["tag"], "values": [":header", ":uniqueid"], "extra_arg": {"type": "string"},
         "required": False},
        {"name": "seconds", "type": ["tag"], "values": [":seconds"], "extra_arg": {"type": "number"}, "required": False},
        {"name": "last", "type": ["tag"], "values": [":last"], "required": False},
    ]


class RequireCommand(commands.RequireCommand):
    """`require`, also loading the extensions a required one implies."""

    def complete_cb(self):
        super().complete_cb()
        for ext in list(commands.parser_state.loaded_extensions):
            for implied in _IMPLIED.get(ext, []):
                if implied not in commands.parser_state.loaded_extensions:
                    commands.parser_state.loaded_extensions.append(implied)


_installed = False
_lock = threading.Lock()


def install() -> None:
    """Register the extensions with sievelib (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        commands.add_commands(
            [
                IncludeCommand, ReturnCommand, GlobalCommand, SpamtestCommand, VirustestCommand, StringCommand,
                MailboxexistsCommand, AddheaderCommand, DeleteheaderCommand, DuplicateCommand, RequireCommand,
            ]
        )
        # The comparator values live in one shared argument definition used by every test.
        values = commands.comparator["extra_arg"]["values"]
        if _ASCII_NUMERIC not in values:
            values.append(_ASCII_NUMERIC)
        # RFC 5233 subaddress: address :user / :detail.
        commands.address_part.setdefault("extension_values", {}).update({":user": "subaddress", ":detail": "subaddress"})
        _installed = True


class ParseFailed(ValueError):
    """sievelib could not read a script; `message` is its explanation (with the line)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse(text: str) -> list[commands.Command]:
    """Parse a script with the extensions installed; raise ParseFailed with sievelib's message."""
    install()
    parser = Parser()
    try:
        ok = parser.parse(text)
    except (IndexError, KeyError, AttributeError, TypeError, ValueError, RecursionError) as exc:
        # The parser reports its own errors; anything else is a sievelib bug on an odd
        # script, and a script sievelib can not read is still a valid one for Dovecot.
        raise ParseFailed(f"sievelib failed on this script ({type(exc).__name__})") from exc
    if not ok:
        raise ParseFailed(parser.error)
    return parser.result
