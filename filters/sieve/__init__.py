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

from . import model
from .model import *  # noqa: F403  (the model and the vocabulary: model.__all__)
from .read import NotRepresentable, parse
from .write import generate

__all__ = [*model.__all__, "NotRepresentable", "generate", "parse"]
