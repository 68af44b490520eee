"""Rich tables of an execution: per wave and server, phase times, instances, and the RTO."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from drs_orchestration.cli.errors import option_words
from drs_orchestration.models import Execution, ServerLaunchStatus, ServerOutcome
from drs_orchestration.reports._format import format_duration

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["PIPED_WIDTH", "execution_hostnames", "execution_summary", "report_console"]

PIPED_WIDTH = 132
"""Columns of output that goes to a file or pipe (no terminal to fit), unless ``COLUMNS`` is set."""

_STYLE = {
    ServerLaunchStatus.LAUNCHED: "green",
    ServerLaunchStatus.FAILED: "red",
    ServerLaunchStatus.TERMINATED: "red",
    ServerLaunchStatus.SKIPPED: "yellow",
}


def report_console(**kwargs: Any) -> Console:
    """A rich console; written to a file or pipe, wide enough for a row of IDs on one line.

    rich gives output without a terminal 80 columns, which splits source
    server and instance IDs over several lines in a saved drill report.
    """
    from rich.console import Console

    console = Console(**kwargs)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console


def _span(start: datetime | None, end: datetime | None) -> str:
    return format_duration(end - start) if start and end else "-"


def _detail(outcome: ServerOutcome) -> str:
    if outcome.skipped_reason:
        return option_words(outcome.skipped_reason)
    if outcome.error is not None:
        return option_words(outcome.error.message)
    return ""


def _instances(outcome: ServerOutcome) -> str:
    recovery, ec2 = outcome.recovery_instance_id, outcome.ec2_instance_id
    if recovery is None and ec2 is None:
        return "-"
    if recovery == ec2 or ec2 is None:
        return str(recovery)
    return f"{recovery or '-'}\nEC2 {ec2}"


def execution_hostnames(execution: Execution) -> dict[str, str]:
    """Host name by source server, as each wave's readiness check recorded it."""
    return {
        sid: outcome.readiness.hostname
        for sid, outcome in execution.outcomes().items()
        if outcome.readiness is not None and outcome.readiness.hostname
    }


def execution_summary(
    execution: Execution, *, hostnames: dict[str, str] | None = None
) -> RenderableType:
    """Per wave, every server's phase times, recovery/EC2 instance and readiness; then the RTO.

    Servers are shown by host name (``hostnames``, else what the execution
    recorded at each wave's readiness check), sorted by it.
    """
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    names = {**execution_hostnames(execution), **(hostnames or {})}
    parts: list[RenderableType] = [
        Text(
            f"{execution.plan_name}: {execution.execution_type.value.lower()} "
            f"{execution.execution_id}",
            style="bold",
        )
    ]
    for run in execution.waves:
        path = f", {run.config_path.value} path" if run.config_path else ""
        table = Table(
            title=f"wave {run.wave_name} ({run.status.value.lower()}{path})",
            title_justify="left",
            box=box.SIMPLE_HEAD,
        )
        table.add_column("server", overflow="fold")
        table.add_column("status")
        table.add_column("snapshot", justify="right")
        table.add_column("conversion", justify="right")
        table.add_column("launch", justify="right")
        table.add_column("ready", justify="right")
        table.add_column("recovery / EC2 instance", overflow="fold")
        notes: list[str] = []
        for sid in sorted(run.server_ids, key=lambda s: (names.get(s, ""), s)):
            outcome = run.servers[sid]
            phases = outcome.phases
            launched = outcome.status is ServerLaunchStatus.LAUNCHED
            ready = (
                format_duration(phases.launch_end - execution.started_at)
                if launched and phases.launch_end and execution.started_at
                else "-"
            )
            label = f"{names[sid]}\n{sid}" if sid in names else sid
            table.add_row(
                label,
                Text(outcome.status.value, style=_STYLE.get(outcome.status, "")),
                _span(phases.snapshot_start or phases.job_start, phases.snapshot_end),
                _span(phases.conversion_start, phases.conversion_end),
                _span(phases.launch_start, phases.launch_end),
                ready,
                _instances(outcome),
            )
            if detail := _detail(outcome):
                notes.append(f"  {names.get(sid, sid)}: {detail}")
        parts.append(table)
        if run.error is not None:
            notes.insert(0, f"  wave error: {run.error.message}")
        if notes:
            parts.append(Text("\n".join(notes), style="yellow"))
    rto = execution.recovery_time
    label = "drill RTO" if execution.is_drill else "RTO"
    lines = [
        f"status: {execution.status.value}",
        f"{label} (start to last server launched): {format_duration(rto)}",
    ]
    if execution.started_at and execution.ended_at:
        lines.append(
            f"total duration: {format_duration(execution.ended_at - execution.started_at)}"
        )
    if execution.error is not None:
        lines.append(f"error: {execution.error.message}")
    if execution.cancel_request is not None:
        request = execution.cancel_request
        lines.append(
            f"cancelled by {request.requested_by}: {request.reason or '(no reason given)'}"
        )
    parts.append(Text("\n".join(lines), style="bold"))
    parts.append(Text("ready: from the start of the execution to the server launched", style="dim"))
    return Group(*parts)
