"""Printing: JSON for scripts (the models' camelCase wire form), rich tables for people."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_USAGE, CliError
from drs_orchestration.cli.report import report_console
from drs_orchestration.reports._format import format_duration, format_time

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

__all__ = [
    "STATUS_STYLE",
    "confirm",
    "console",
    "duration",
    "echo_json",
    "make_table",
    "show",
    "styled",
    "when",
]

STATUS_STYLE = {
    # executions, waves, servers
    "COMPLETED": "green",
    "LAUNCHED": "green",
    "RUNNING": "cyan",
    "IN_PROGRESS": "cyan",
    "PENDING": "dim",
    "NOT_STARTED": "dim",
    "PAUSED": "yellow",
    "PARTIAL": "yellow",
    "SKIPPED": "yellow",
    "CANCELLED": "yellow",
    "FAILED": "red",
    "TERMINATED": "red",
    # launch configurations
    "ready": "green",
    "pending": "cyan",
    "partial": "yellow",
    "failed": "red",
    "not_configured": "dim",
    # drift
    "in sync": "green",
    "drifted": "yellow",
    "not applied": "yellow",
    "unreadable": "red",
    # matching
    "paired": "green",
    # readiness
    "not ready": "red",
    # failback
    "REVERSE_REPLICATING": "cyan",
    "READY": "green",
    "LAUNCHING": "cyan",
    # termination
    "WOULD_TERMINATE": "yellow",
    "ALREADY_GONE": "dim",
}


def console() -> Console:
    """A rich console on stdout (wide enough for IDs when piped)."""
    return report_console()


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON."""
    click.echo(json.dumps(data, indent=2, default=str))


def styled(value: str) -> Any:
    """``value`` as rich text in its status colour."""
    from rich.text import Text

    return Text(value, style=STATUS_STYLE.get(value, ""))


def make_table(title: str | None, columns: Sequence[str]) -> Table:
    """A table with these column headers."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def show(*renderables: RenderableType) -> None:
    """Print rich renderables to stdout."""
    out = console()
    for renderable in renderables:
        out.print(renderable)


def when(value: datetime | None) -> str:
    """A UTC time to the second, or ``-``."""
    return format_time(value)


def duration(seconds: float | None) -> str:
    """``4m07s``, or ``-``."""
    return format_duration(seconds)


def lines(rows: Iterable[str]) -> str:
    """Rows joined by newlines (``-`` when there are none)."""
    joined = "\n".join(rows)
    return joined or "-"


def confirm(question: str, *, what: str) -> None:
    """Ask ``question`` on stderr; go on only when the answer is yes.

    Args:
        question: What is about to happen, naming what it touches.
        what: What does not start without a yes, for the message
            (``"recovery of 'shop'"``).

    Raises:
        CliError: declined (exit 1), or no answer could be read (exit 2, naming ``--yes``).
    """
    try:
        confirmed = click.confirm(question, default=False, err=True)
    except click.Abort:
        raise CliError(
            f"{what} not started: no confirmation could be read; pass --yes to go ahead "
            "without asking",
            EXIT_USAGE,
        ) from None
    if not confirmed:
        raise CliError(f"{what} not started: not confirmed", EXIT_FAILED)
