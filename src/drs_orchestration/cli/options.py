"""Options every command shares: storage, AWS access, output format.

They are recorded on one :class:`CliOptions` object (the click context's
``obj``) rather than passed to each command function, so every command takes
them the same way and :func:`drs_orchestration.cli.main` can name the
storage in an error message after the command has failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import click

from drs_orchestration.cli.storage_url import StorageSpec

__all__ = [
    "CliOptions",
    "OrderedGroup",
    "OutputFormat",
    "aws_options",
    "output_option",
    "poll_interval_option",
    "storage_options",
]

F = TypeVar("F", bound=Callable[..., Any])
OutputFormat = Literal["table", "json"]


@dataclass
class CliOptions:
    """The shared options of one invocation.

    Attributes:
        storage: ``--storage`` as given.
        db: ``--db`` as given.
        profile: ``--profile``: the AWS profile of every AWS client.
        region: ``--region``: the default region (DynamoDB storage, files
            without a region, STS).
        clients: ``aws``, or ``simulated`` in tests (see :mod:`drs_orchestration.cli.runtime`).
        spec: The storage in use, once a command has opened it.
    """

    storage: str | None = None
    db: Path | None = None
    profile: str | None = None
    region: str | None = None
    clients: str = "aws"
    spec: StorageSpec | None = None


class OrderedGroup(click.Group):
    """A group that lists its commands in the order they were added, not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The sub-commands, in the order they were added."""
        return list(self.commands)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    options = ctx.find_object(CliOptions) or ctx.ensure_object(CliOptions)
    if value is not None and param.name is not None:
        setattr(options, param.name, value)
    return value


def storage_options(function: F) -> F:
    """``--storage URL`` and its shorthand ``--db PATH``."""
    function = click.option(
        "--db",
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="PATH",
        expose_value=False,
        callback=_remember,
        help="Shorthand for --storage sqlite://PATH.",
    )(function)
    return click.option(
        "--storage",
        metavar="URL",
        expose_value=False,
        callback=_remember,
        help="Where groups, plans and executions are kept: sqlite:///PATH, "
        "dynamodb://PREFIX?region=REGION or memory (default: $DRS_ORCHESTRATION_STORAGE, "
        "else the per-user SQLite file ~/.local/state/drs-orchestration/drs-orchestration.db).",
    )(function)


def aws_options(function: F) -> F:
    """``--profile``, ``--region`` and the hidden ``--clients`` of the tests."""
    function = click.option(
        "--clients",
        type=click.Choice(["aws", "simulated"]),
        hidden=True,
        expose_value=False,
        callback=_remember,
        help="Tests only: 'simulated' uses the DRS simulator active in this process.",
    )(function)
    function = click.option(
        "--region",
        metavar="REGION",
        expose_value=False,
        callback=_remember,
        help="Default AWS region (DynamoDB storage, files without a region).",
    )(function)
    return click.option(
        "--profile",
        metavar="NAME",
        expose_value=False,
        callback=_remember,
        help="AWS profile for every AWS call (default: the standard credential chain); "
        "cross-account roles named on groups are assumed from it.",
    )(function)


def _json_flag(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta["drs_orchestration.output"] = "json"
    return value


def _output(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    chosen = ctx.meta.get("drs_orchestration.output")
    if chosen is not None:
        return str(chosen)
    return value or "table"


def output_option(function: F) -> F:
    """``--output table|json`` (``--json`` is kept as a hidden shorthand).

    The decorated function receives ``output``.
    """
    function = click.option(
        "--output",
        "output",
        type=click.Choice(["table", "json"]),
        default=None,
        callback=_output,
        help="table for people (default), json for scripts: the stored records in their "
        "camelCase wire form.",
    )(function)
    return click.option(
        "--json",
        "json_flag",
        is_flag=True,
        is_eager=True,
        hidden=True,
        expose_value=False,
        callback=_json_flag,
        help="Same as --output json.",
    )(function)


def poll_interval_option(default: float, while_: str) -> Callable[[F], F]:
    """``--poll-interval SECONDS``, the wait between polls of DRS.

    Args:
        default: The default, in seconds.
        while_: What is waited on, for the help (``"a wave's jobs run"``).

    The decorated function receives ``poll_interval``.
    """
    return click.option(
        "--poll-interval",
        type=click.FloatRange(min=1, max=3600),
        default=default,
        show_default=True,
        metavar="SECONDS",
        help=f"How long to wait between polls of DRS while {while_}.",
    )
