"""``executions list`` and ``status``: executions as stored, from any terminal."""

from __future__ import annotations

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_OK, CliError
from drs_orchestration.cli.options import OrderedGroup, OutputFormat, output_option, storage_options
from drs_orchestration.cli.output import duration, echo_json, make_table, show, styled, when
from drs_orchestration.cli.report import execution_summary
from drs_orchestration.cli.runtime import runtime
from drs_orchestration.models import Execution, ServerLaunchStatus

__all__ = ["executions", "status"]


@click.group(cls=OrderedGroup)
def executions() -> None:
    """List drills and recoveries as stored."""


@executions.command("list")
@click.option("--plan", default=None, help="Only this plan's executions (ID or name).")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many, newest first.",
)
@output_option
@storage_options
@click.pass_context
def list_executions(ctx: click.Context, plan: str | None, limit: int, output: OutputFormat) -> int:
    """List executions, newest first (of every stored plan, or of --plan)."""
    rt = runtime(ctx)
    found = rt.executions(rt.plan(plan) if plan is not None else None)[:limit]
    if output == "json":
        echo_json([e.to_wire() for e in found])
        return EXIT_OK
    table = make_table(
        None,
        ["execution", "plan", "type", "status", "started", "servers", "launched", "failed", "RTO"],
    )
    for e in found:
        outcomes = e.outcomes().values()
        failed = sum(
            o.status in (ServerLaunchStatus.FAILED, ServerLaunchStatus.TERMINATED) for o in outcomes
        )
        launched = sum(o.status is ServerLaunchStatus.LAUNCHED for o in outcomes)
        table.add_row(
            e.execution_id,
            e.plan_name,
            e.execution_type.value.lower(),
            styled(e.status.value),
            when(e.started_at or e.created_at),
            str(len(outcomes)),
            str(launched),
            str(failed),
            duration(e.recovery_time.total_seconds() if e.recovery_time else None),
        )
    show(table)
    return EXIT_OK


@click.command()
@click.argument("execution_id", metavar="[EXECUTION]", required=False)
@output_option
@storage_options
@click.pass_context
def status(ctx: click.Context, execution_id: str | None, output: OutputFormat) -> int:
    """Show an execution (default: the latest) as stored.

    Per wave and server.

    Servers by host name, in each wave's order: phase times (snapshot,
    conversion, launch), recovery and EC2 instances, errors, and the RTO.
    Never writes: a SQLite file is opened read-only.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id) if execution_id else _latest(rt.executions())
    if output == "json":
        echo_json(execution.to_wire())
        return EXIT_OK
    show(execution_summary(execution))
    return EXIT_OK


def _latest(found: list[Execution]) -> Execution:
    if not found:
        raise CliError("no executions stored yet: start one with 'drill PLAN'", EXIT_FAILED)
    return found[0]
