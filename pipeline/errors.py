"""The errors corpusprep raises on purpose, in one hierarchy.

A `UserError` is something the person running corpusprep can fix (a config value, an input file,
the state of an output folder): the CLI prints its message as one line and exits 2. `warn` is
the one line for what stops nothing. Anything
else is an internal error: the CLI prints the traceback (and, from a worker, the task it was
on), since only a traceback helps whoever fixes it.
"""
from __future__ import annotations


class UserError(Exception):
    """Fixable by the user; the message says which file, record or setting, and what to do."""


class ConfigError(UserError, ValueError):
    """A configuration value is wrong; raised before any data is read."""


class InputError(UserError, ValueError):
    """Input cannot be read as configured (missing files, wrong schema, repeated ids)."""


class RunError(UserError, RuntimeError):
    """A run cannot go on (e.g. resuming a different config into the same folder)."""


def warn(message: str) -> None:
    """One line to stderr for what a user should know but that stops nothing (a read that kept
    little, files left unread); the same lines are kept in the stats and the card."""
    import sys

    print(f"corpusprep: warning: {message}", file=sys.stderr)
