"""The errors Cession reports to the people who use it, apart from its own bugs.

- ``InputError``: bad input, the caller's to fix: an option, a file, a day, an amount, a rule
  table or a store state that cannot be used. The engine's ``EngineInputError``, the rules'
  ``RuleTableError`` and ``StaleRulesError``, ingest's ``IngestError``, ``SourceError`` and
  ``ProfileError`` and the store's ``StoreError`` derive from it. Its message names what and why;
  nothing was changed. The command line exits with code 2 and one line (``api.exits``).
  ``NotFound``, ``Conflict`` and ``ItemsRefused`` are the HTTP API's kinds of bad input (404, 409,
  422; api/http/problems.py).
- ``ComputationFailed``: work that could not be done for a reason outside Cession's code (a
  computation whose workers died, after their retries); the previous outputs and stored state
  are kept. Exit code 1 with one line.

Every other exception is a bug in Cession: the command line prints its traceback and exits 1. So
a plain ``ValueError`` or ``KeyError`` raised by our own code is reported as the bug it is, never
as the user's mistake: code that refuses input raises an ``InputError``.

``InputError`` is a ``ValueError``, so code that catches ``ValueError`` around a parse (an amount,
a day) catches it too. This module imports nothing: everything may import it, cheaply.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: the message names what cannot be used and why (exit code 2)."""


class NotFound(InputError):
    """What was asked for is not in the store, or not for this caller to see (the HTTP API answers
    404 either way, so that ids cannot be probed)."""


class Conflict(InputError):
    """The request contradicts what the store holds: an Idempotency-Key used before with another
    body (HTTP 409)."""


class ItemsRefused(InputError):
    """A batch refused whole because some of its items are bad: ``problems`` lists each bad item's
    index, field and rule (HTTP 422)."""

    def __init__(self, message: str, problems: list[dict]):
        super().__init__(message)
        self.problems = problems


class ComputationFailed(RuntimeError):
    """Work that failed outside Cession's code (workers lost after retries); nothing was committed."""
