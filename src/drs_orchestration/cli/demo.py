"""``drs-orchestration demo``: a three-tier drill on the offline simulator, with live progress.

Seeds the DRS simulator (real-time mode, scaled) with a database, app and
web tier, creates protection groups (applying their launch configurations)
and a three-wave plan in SQLite, runs a drill, and prints per wave and
server the phase times, the recovery and EC2 instances, and the drill's RTO.
``drs-orchestration status EXECUTION_ID`` reads it back afterwards.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drs_orchestration.cli.extras import MissingExtraError, database_path, require
from drs_orchestration.events import Event, EventSink

if TYPE_CHECKING:
    from rich.console import Console

    from drs_orchestration.services.orchestrator import Orchestrator
    from drs_orchestration.testing import DrsSimulator

__all__ = ["TIERS", "register", "run"]

REGION = "us-east-1"
TIERS: tuple[tuple[str, int], ...] = (("database", 3), ("app", 4), ("web", 5))
"""Tiers of the demo application and their server counts, in recovery order."""
_LAGGING = "web-4"
_OVERRIDDEN = "database-1"
_CATCH_UP_S = 240.0


def register(commands: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="run a three-wave drill on the offline DRS simulator (no AWS account needed)",
        description=(
            "Seed a simulated three-tier application (12 servers), create protection groups "
            "and a three-wave plan in SQLite, run a drill with live progress and print the "
            "phase times, recovery instances and drill RTO. Needs the sim and cli extras."
        ),
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        metavar="PATH",
        help="SQLite file to keep groups, the plan and the execution in "
        "(default: $DRS_ORCHESTRATION_DB or ./drs-orchestration.db)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        metavar="N",
        help="simulated seconds per wall-clock second (default: 60, a drill in ~20 s)",
    )
    parser.set_defaults(handler=run)


class _Relay:
    """An event sink whose target is set once the execution exists."""

    def __init__(self) -> None:
        self.target: EventSink | None = None

    def __call__(self, event: Event) -> None:
        if self.target is not None:
            self.target(event)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit status 0 when the drill completed."""
    try:
        require("rich", "moto", extras="sim,cli")
    except MissingExtraError as exc:
        print(f"drs-orchestration demo: {exc}", file=sys.stderr)
        return 2
    speed: float = args.speed
    if not math.isfinite(speed) or speed <= 0:
        print(
            f"drs-orchestration demo: --speed must be positive and finite (got {speed})",
            file=sys.stderr,
        )
        return 2
    from drs_orchestration.cli.report import report_console

    console = report_console(log_path=False)
    path = database_path(args.db)
    return _demo(console, path, speed)


def _demo(console: Console, path: Path, speed: float) -> int:
    from moto import mock_aws
    from rich.live import Live

    from drs_orchestration.aws.retry import RetryPolicy
    from drs_orchestration.cli.progress import LiveProgress
    from drs_orchestration.cli.report import execution_summary
    from drs_orchestration.models import ExecutionStatus
    from drs_orchestration.services.orchestrator import Orchestrator
    from drs_orchestration.storage import SqliteStorage
    from drs_orchestration.testing import JobTimings, SimulatedClientFactory, mock_drs

    def wall_sleep(simulated_s: float) -> None:
        time.sleep(simulated_s / speed)

    console.print(f"[bold]storage[/bold]: SQLite at {path.resolve()}")
    timings = JobTimings(replication_catch_up=_CATCH_UP_S)
    relay = _Relay()
    with (
        mock_aws(),
        mock_drs(seed=None, realtime_scale=speed, timings=timings) as sim,
        SqliteStorage(path) as storage,
    ):
        orchestrator = Orchestrator(
            storage=storage,
            clients=SimulatedClientFactory(sim),
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
    console.print(
        f"\nread it back: [bold]drs-orchestration status {execution.execution_id}"
        + ("" if path == Path("drs-orchestration.db") else f" --db {path}")
        + "[/bold]"
    )
    return 0 if execution.status is ExecutionStatus.COMPLETED else 1


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
