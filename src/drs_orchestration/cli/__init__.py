"""The ``drs-orchestration`` command.

Sub-commands live in their own modules and are registered in
:func:`build_parser`; each returns the process exit status. Errors of the
library never end in a traceback: :func:`main` prints each as one line on
stderr and exits with a status that says what kind of failure it was.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from drs_orchestration._version import __version__
from drs_orchestration.cli import demo, status, validate
from drs_orchestration.errors import (
    AwsApiError,
    DrsOrchestrationError,
    StorageError,
    StorageUnavailableError,
    ValidationError,
)

__all__ = ["EXIT_BACKEND", "EXIT_FAILED", "EXIT_USAGE", "build_parser", "main"]

EXIT_FAILED = 1
"""The command ran and failed (a drill did not complete, an execution is not there, ...)."""
EXIT_USAGE = 2
"""The command line or its input is wrong (usage, validation)."""
EXIT_BACKEND = 3
"""AWS or the storage failed (unreachable, refused, a database that is not ours, ...)."""


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="drs-orchestration",
        description="Disaster-recovery orchestration for AWS Elastic Disaster Recovery.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo.register(commands)
    status.register(commands)
    validate.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (also used as ``sys.exit`` code)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status: int = args.handler(args)
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say, and nothing to say it to.
        _discard_stdout()
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"drs-orchestration {args.command}: interrupted", file=sys.stderr)
        return 130
    except DrsOrchestrationError as error:
        print(_one_line(args, error), file=sys.stderr)
        return _exit_status(error)
    return status


def _exit_status(error: DrsOrchestrationError) -> int:
    """The exit status for a library error: usage 2, AWS or storage 3, anything else 1."""
    if isinstance(error, ValidationError):
        return EXIT_USAGE
    if isinstance(error, (StorageError, AwsApiError)):
        return EXIT_BACKEND
    return EXIT_FAILED


def _one_line(args: argparse.Namespace, error: DrsOrchestrationError) -> str:
    message = " ".join(str(error).split())
    if (
        isinstance(error, StorageError)
        and not isinstance(error, StorageUnavailableError)
        and hasattr(args, "db")
    ):
        message += "; choose another database file with --db PATH (or $DRS_ORCHESTRATION_DB)"
    return f"drs-orchestration {args.command}: {message}"


def _discard_stdout() -> None:
    # Python flushes stdout at exit; on a closed pipe that prints a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file (captured, replaced): nothing will be flushed to a pipe


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
