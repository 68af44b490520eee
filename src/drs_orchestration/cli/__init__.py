"""The ``drs-orchestration`` command: the operators' way to groups, plans, drills and recoveries.

Built with click rather than typer or hand-written argparse: click gives a
real command tree (``groups create``, ``cache sync``) with help per level and
shell completion, is a plain typed library (mypy strict) already installed
with the docs tooling, and its ``CliRunner`` runs the command in-process, so
the tests drive the real entry point against the DRS simulator. typer would
add a layer of annotation magic over the same click objects and nothing an
operator would see.

Errors never end in a traceback: :func:`main` prints each as one line on
stderr, ``drs-orchestration COMMAND: what went wrong``, and exits with a
status that says what kind of failure it was:

====  =============================================================
0     done (a drill or recovery completed, a check passed, a failback
      waits for its next request)
1     the command ran and failed: an execution failed or was cancelled,
      a server's failback failed, a check found problems (preflight,
      drift, ``plans check``), a name or ID that is not stored, a
      confirmation declined
2     the command line or an input file is wrong (usage, validation)
3     AWS or the storage failed (credentials, access, unreachable, a
      database file that is not ours)
130   interrupted (Ctrl-C); a running execution keeps its state
====  =============================================================
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from drs_orchestration.cli.errors import (
    EXIT_BACKEND,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CliError,
    exit_status,
    one_line,
    option_words,
)
from drs_orchestration.errors import DrsOrchestrationError, StorageError, StorageUnavailableError

if TYPE_CHECKING:
    import click

    from drs_orchestration.cli.options import CliOptions

__all__ = [
    "EXIT_BACKEND",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "build_command",
    "main",
]

PROG = "drs-orchestration"


def build_command() -> click.Group:
    """The command tree (a click group); needs the ``cli`` extra.

    The docs site generates the command-line reference from it.
    """
    from drs_orchestration.cli.app import root

    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (also used as ``sys.exit`` code)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        import click
    except ImportError:
        print(
            f'{PROG}: the command line needs click: pip install "drs-orchestration[cli]"',
            file=sys.stderr,
        )
        return EXIT_USAGE
    from drs_orchestration.cli.options import CliOptions

    command = build_command()
    name = _command_name(command, args)
    options = CliOptions()
    try:
        status = command.main(args=args, prog_name=PROG, standalone_mode=False, obj=options)
    except BrokenPipeError:
        # The reader went away (``| head``): nothing more to say, and nothing to say it to.
        _discard_stdout()
        return EXIT_FAILED
    except SystemExit as exit_:
        # click exits by itself only on a closed pipe (status 1) and after shell completion.
        if exit_.code:
            _discard_stdout()
        return exit_.code if isinstance(exit_.code, int) else EXIT_FAILED
    except (KeyboardInterrupt, click.Abort):
        _error(f"{name}: interrupted")
        return EXIT_INTERRUPTED
    except click.exceptions.NoArgsIsHelpError as error:
        # A command group without its sub-command: its help is the answer (and a usage status).
        print(error.format_message(), file=sys.stderr, flush=True)
        return EXIT_USAGE
    except click.ClickException as error:
        _error(_usage_line(name, error))
        return error.exit_code
    except CliError as error:
        _error(f"{name}: {one_line(error.message)}")
        return error.status
    except DrsOrchestrationError as error:
        _error(f"{name}: {option_words(one_line(str(error)))}{_storage_hint(error, options)}")
        return exit_status(error)
    except OSError as error:
        # A file named on the command line (a report to write, a CSV to read).
        _error(f"{name}: {one_line(str(error))}")
        return EXIT_USAGE
    return status if isinstance(status, int) else 0


def _error(line: str) -> None:
    """Print one line on stderr, flushed at once (stderr may be a buffered stream)."""
    print(line, file=sys.stderr, flush=True)


def _command_name(command: click.Group, args: list[str]) -> str:
    """``drs-orchestration groups create``: the words of ``args`` that name a command."""
    import click

    words = [PROG]
    current: click.Command = command
    for arg in args:
        if not isinstance(current, click.Group) or arg.startswith("-"):
            break
        sub = current.commands.get(arg)
        if sub is None:
            break
        words.append(arg)
        current = sub
    return " ".join(words)


def _storage_hint(error: DrsOrchestrationError, options: CliOptions) -> str:
    """How to choose another database, after an error that says this file cannot be used."""
    if (
        isinstance(error, StorageError)
        and not isinstance(error, StorageUnavailableError)
        and options.spec is not None
        and options.spec.kind == "sqlite"
    ):
        return (
            "; choose another database with --storage sqlite:///PATH or --db PATH "
            "(or $DRS_ORCHESTRATION_STORAGE)"
        )
    return ""


def _usage_line(name: str, error: click.ClickException) -> str:
    import click

    message = one_line(error.format_message())
    if isinstance(error, click.UsageError):
        return f"{name}: {message} (see {name} --help)"
    return f"{name}: {message}"


def _discard_stdout() -> None:
    # Python flushes stdout at exit; on a closed pipe that prints a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # stdout is not a file (captured, replaced): nothing will be flushed to a pipe


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
