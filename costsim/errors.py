"""Error types shared by every layer. Imports nothing from costsim.

`InputError` means the user gave something we cannot use (unknown id, malformed file, value out
of range). The CLI turns it into one plain paragraph on stderr and exit code 2, never a traceback.
An infeasible-but-valid request is NOT an error: it is a result with `feasible=False` and a reason.
"""

from __future__ import annotations


class InputError(Exception):
    """Bad user input. `message` is a full, plain-language paragraph naming the field and the fix."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        self.message = message
        self.field = field
        self.source = source
        super().__init__(message)


class UnknownIdError(InputError):
    """An id that is not in a catalog."""
