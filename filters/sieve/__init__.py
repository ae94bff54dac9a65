"""The form editor's rule set as Sieve (RFC 5228), and back: a small library over text.

- model: the RuleSet and its parts as dataclasses, and the vocabulary (fields, operators,
  actions, their labels and which apply to which);
- write: `generate(ruleset)`, the script;
- read: `parse(text)`, the RuleSet again, or NotRepresentable for a script the editor did
  not write;
- sievelib_ext: the Sieve extensions sievelib does not know, so that scripts parse.

Pure functions: no database, no network, no Django. Callers use this package's names
(`sieve.generate`, `sieve.RuleSet`, …), not its modules.
"""

from .model import (
    ACTION_ARGS,
    ACTION_LABELS,
    ACTIONS,
    ADDRESS_ACTIONS,
    FIELD_LABELS,
    FLAG_ACTIONS,
    FOLDER_ACTIONS,
    OP_LABELS,
    OPS_FOR_FIELD,
    SIZE_OPS,
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
    same_script,
)
from .read import NotRepresentable, parse
from .write import generate

__all__ = [
    "ACTIONS", "ACTION_ARGS", "ACTION_LABELS", "ADDRESS_ACTIONS", "FIELD_LABELS", "FLAG_ACTIONS", "FOLDER_ACTIONS",
    "OPS_FOR_FIELD", "OP_LABELS", "SIZE_OPS", "SPAM_OPS", "TEXT_ACTIONS", "TEXT_FIELDS", "TEXT_OPS",
    "Action", "Condition", "NotRepresentable", "RuleSet", "SieveRule", "Vacation",
    "canonical_condition", "generate", "normalize_multiline", "parse", "same_script",
]
