"""The ``drs-orchestration`` command.

Sub-commands live in their own modules and are registered in
:func:`build_parser`; each returns the process exit status.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from drs_orchestration._version import __version__
from drs_orchestration.cli import demo, status, validate

__all__ = ["build_parser", "main"]


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
        return 2
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
