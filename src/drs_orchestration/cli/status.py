"""``drs-orchestration status EXECUTION_ID``: an execution as stored, per wave and server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from drs_orchestration.cli.extras import MissingExtraError, database_path, require
from drs_orchestration.errors import NotFoundError

__all__ = ["register", "run"]


def register(commands: Any) -> None:
    """Add the ``status`` sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "status",
        help="show an execution read back from the SQLite storage",
        description=(
            "Print an execution's waves and servers (phase times, recovery and EC2 "
            "instances, errors) and its RTO, as stored in the SQLite file."
        ),
    )
    parser.add_argument("execution_id", metavar="EXECUTION_ID")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        metavar="PATH",
        help="SQLite file (default: $DRS_ORCHESTRATION_DB or ./drs-orchestration.db)",
    )
    parser.add_argument("--json", action="store_true", help="print the stored execution as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the execution; exit 1 if it (or the database) does not exist.

    Storage errors (a file that is not a drs-orchestration database, ...) are
    reported by :func:`drs_orchestration.cli.main` as one line, exit status 3.
    """
    from drs_orchestration.storage import SqliteStorage

    path = database_path(args.db)
    if not path.exists():
        print(f"drs-orchestration status: no database at {path}", file=sys.stderr)
        return 1
    if not args.json:
        try:
            require("rich", extras="cli")
        except MissingExtraError as exc:
            print(f"drs-orchestration status: {exc} (or use --json)", file=sys.stderr)
            return 2
    # Read-only: status never creates, converts or writes the file it is pointed at.
    with SqliteStorage(path, read_only=True) as storage:
        try:
            execution = storage.executions.get(args.execution_id)
        except NotFoundError:
            print(
                f"drs-orchestration status: no execution {args.execution_id!r} in {path}",
                file=sys.stderr,
            )
            return 1
    if args.json:
        print(json.dumps(execution.to_wire(), indent=2))
        return 0
    from drs_orchestration.cli.report import execution_summary, report_console

    report_console().print(execution_summary(execution))
    return 0
