"""``drs-orchestration demo``: a three-tier drill on the offline simulator, with live progress.

Seeds the DRS simulator (real-time mode, scaled) with a database, app and
web tier, creates protection groups (applying their launch configurations)
and a three-wave plan in SQLite, runs a drill, and prints per wave and
server the phase times, the recovery and EC2 instances, and the drill's RTO.
``drs-orchestration status EXECUTION_ID`` reads it back afterwards.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import click

from drs_orchestration.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from drs_orchestration.cli.extras import MissingExtraError, require
from drs_orchestration.cli.options import storage_options
from drs_orchestration.cli.progress import EventRelay
from drs_orchestration.cli.runtime import Runtime, runtime

if TYPE_CHECKING:
    from rich.console import Console

    from drs_orchestration.services.orchestrator import Orchestrator
    from drs_orchestration.storage import Storage
    from drs_orchestration.testing import DrsSimulator

__all__ = ["TIERS", "demo"]

REGION = "us-east-1"
TIERS: tuple[tuple[str, int], ...] = (("database", 3), ("app", 4), ("web", 5))
"""Tiers of the demo application and their server counts, in recovery order."""
_LAGGING = "web-4"
_OVERRIDDEN = "database-1"
_CATCH_UP_S = 240.0


@click.command()
@click.option(
    "--speed",
    type=float,
    default=60.0,
    show_default=True,
    metavar="N",
    help="Simulated seconds per wall-clock second (60: a drill in ~20 s).",
)
@storage_options
@click.pass_context
def demo(ctx: click.Context, speed: float) -> int:
    """Run a three-wave drill on the offline DRS simulator.

    No AWS account needed.

    Seeds a simulated three-tier application (12 servers), creates protection
    groups and a three-wave plan in the storage (SQLite or memory), runs a
    drill with live progress and prints the phase times, recovery instances
    and drill RTO; 'drs-orchestration status' reads it back. Needs the sim
    and cli extras.
    """
    try:
        require("rich", "moto", extras="sim,cli")
    except MissingExtraError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if not math.isfinite(speed) or speed <= 0:
        raise CliError(f"--speed must be positive and finite (got {speed})", EXIT_USAGE)
    rt = runtime(ctx)
    if rt.spec.kind == "dynamodb":
        raise CliError(
            "the demo keeps its records in SQLite or memory: its AWS is simulated, "
            "so DynamoDB tables would be simulated too",
            EXIT_USAGE,
        )
    from drs_orchestration.cli.report import report_console

    return _demo(report_console(log_path=False), rt, speed)


def _demo(console: Console, rt: Runtime, speed: float) -> int:
    from moto import mock_aws
    from rich.live import Live

    from drs_orchestration.aws.retry import RetryPolicy
    from drs_orchestration.cli.progress import LiveProgress
    from drs_orchestration.cli.report import execution_summary
    from drs_orchestration.models import ExecutionStatus
    from drs_orchestration.services.orchestrator import Orchestrator
    from drs_orchestration.testing import JobTimings, SimulatedClientFactory, mock_drs

    def wall_sleep(simulated_s: float) -> None:
        time.sleep(simulated_s / speed)

    spec = rt.spec
    where = f"SQLite at {spec.path.resolve()}" if spec.path else "memory (gone when it ends)"
    console.print(f"[bold]storage[/bold]: {where}")
    timings = JobTimings(replication_catch_up=_CATCH_UP_S)
    relay = EventRelay()
    with mock_aws(), mock_drs(seed=None, realtime_scale=speed, timings=timings) as sim:
        storage: Storage = rt.storage()
        orchestrator = Orchestrator(
            storage,
            SimulatedClientFactory(sim),
            events=relay,
            clock=sim.now,
            retry=RetryPolicy(sleep=wall_sleep),
            sleep=wall_sleep,
        )
        hostnames = _seed(sim, console)
        plan_id = _plan(orchestrator, hostnames, console)
        execution = orchestrator.waves.start(
            plan_id, drill=True, skip_not_ready=True, started_by="drs-orchestration demo"
        )
        progress = LiveProgress(execution, console, hostnames)
        relay.target = progress
        console.print(
            f"\n[bold]drill[/bold] {execution.execution_id} "
            f"(simulated time runs {speed:g}x faster than the clock on the wall)"
        )
        # Transient: the summary below replaces the live view once the drill ends.
        with Live(
            get_renderable=progress.render, console=console, refresh_per_second=8, transient=True
        ):
            execution = orchestrator.waves.run(execution.execution_id, poll_interval=15)
        console.print()
        console.print(execution_summary(execution, hostnames=hostnames))
    if spec.kind == "sqlite":
        console.print(
            f"\nread it back: [bold]drs-orchestration status {execution.execution_id}"
            + (f" --storage {spec.url()}" if spec.given else "")
            + "[/bold]"
        )
    return EXIT_OK if execution.status is ExecutionStatus.COMPLETED else EXIT_FAILED


def _seed(sim: DrsSimulator, console: Console) -> dict[str, str]:
    from rich.table import Table

    table = Table(title="simulated source servers", title_justify="left")
    for column in ("tier", "hostname", "source server", "replication"):
        table.add_column(column)
    hostnames: dict[str, str] = {}
    for tier, count in TIERS:
        for i in range(1, count + 1):
            hostname = f"{tier}-{i}"
            lagging = hostname == _LAGGING
            sid = sim.add_source_server(
                region=REGION,
                hostname=hostname,
                tags={"App": "shop", "Tier": tier},
                replication_state="BACKLOG" if lagging else "CONTINUOUS",
                ram_bytes=(16 if tier == "database" else 4) * 1024**3,
            )
            hostnames[sid] = hostname
            state = (
                f"BACKLOG (lagging, catches up in {_CATCH_UP_S / 60:g} simulated min)"
                if lagging
                else "CONTINUOUS"
            )
            table.add_row(tier, hostname, sid, state)
    console.print(table)
    return hostnames


def _plan(orchestrator: Orchestrator, hostnames: dict[str, str], console: Console) -> str:
    from rich.table import Table

    by_name = {name: sid for sid, name in hostnames.items()}
    table = Table(
        title="protection groups (launch configurations applied now)", title_justify="left"
    )
    for column in ("group", "servers", "launch configuration", "overrides"):
        table.add_column(column)
    waves: list[dict[str, Any]] = []
    previous: list[str] = []
    for tier, _ in TIERS:
        overrides: dict[str, Any] = {}
        if tier == "database":
            overrides[by_name[_OVERRIDDEN]] = {
                "targetInstanceTypeRightSizingMethod": "NONE",
                "instanceType": "r6i.xlarge",
            }
        group = orchestrator.groups.create(
            tier,
            REGION,
            tags={"App": "shop", "Tier": tier},
            launch_settings={
                "copyPrivateIp": True,
                "copyTags": True,
                "targetInstanceTypeRightSizingMethod": "BASIC",
            },
            server_overrides=overrides,
        )
        status = group.launch_config_status
        table.add_row(
            tier,
            str(len(group.source_server_ids)),
            status.status.value,
            ", ".join(f"{hostnames[s]}: r6i.xlarge" for s in overrides) or "-",
        )
        waves.append({"name": tier, "protectionGroupIds": [group.group_id], "dependsOn": previous})
        previous = [tier]
    console.print(table)
    plan = orchestrator.plans.create("shop (three tiers)", waves, failure_policy="continue")
    console.print(
        f"[bold]plan[/bold] {plan.plan_id}: " + " -> ".join(w.name for w in plan.ordered_waves())
    )
    return plan.plan_id
