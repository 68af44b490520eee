"""Exit statuses of the command line and the one-line form of every error."""

from __future__ import annotations

import re

from drs_orchestration.errors import (
    AwsApiError,
    CrossAccountError,
    DrsOrchestrationError,
    StorageError,
    ValidationError,
)

__all__ = [
    "EXIT_BACKEND",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "exit_status",
    "one_line",
    "option_words",
]

EXIT_OK = 0
"""Done: an execution completed, a check passed."""
EXIT_FAILED = 1
"""The command ran and failed (an execution failed, a check found problems, nothing stored)."""
EXIT_USAGE = 2
"""The command line or its input is wrong (usage, validation)."""
EXIT_BACKEND = 3
"""AWS or the storage failed (unreachable, refused, a database that is not ours, ...)."""
EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C."""


class CliError(Exception):
    """A failure the command line reports as one line on stderr, with an exit status.

    Args:
        message: What went wrong and, where it helps, what to do.
        status: The exit status (default :data:`EXIT_FAILED`).
    """

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def exit_status(error: DrsOrchestrationError) -> int:
    """The exit status for a library error: usage 2, AWS or storage 3, anything else 1."""
    if isinstance(error, ValidationError):
        return EXIT_USAGE
    if isinstance(error, StorageError | AwsApiError | CrossAccountError):
        return EXIT_BACKEND
    return EXIT_FAILED


def one_line(message: str) -> str:
    """``message`` with every run of whitespace (newlines too) as one space."""
    return " ".join(message.split())


_KEYWORD_FLAG = re.compile(r"\b([a-z][a-z0-9]*(?:_[a-z0-9]+)*)=True\b")


def option_words(message: str) -> str:
    """``message`` with the library's ``name=True`` hints said as the option ``--name``.

    The library's messages name its keyword arguments (``pass
    include_recovery=True``); each command takes the same setting as the
    flag of that name (``--include-recovery``).
    """
    return _KEYWORD_FLAG.sub(lambda m: "--" + m.group(1).replace("_", "-"), message)
