"""Running plans: preflight, drill and recover; then step, resume, pause and cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from drs_orchestration.cli.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    option_words,
)
from drs_orchestration.cli.follow import check_detachable, finish, follow, spawn_runner
from drs_orchestration.cli.options import (
    OutputFormat,
    aws_options,
    output_option,
    poll_interval_option,
    storage_options,
)
from drs_orchestration.cli.output import (
    confirm,
    duration,
    echo_json,
    make_table,
    show,
    styled,
    when,
)
from drs_orchestration.cli.progress import EventRelay
from drs_orchestration.cli.runtime import Runtime, runtime
from drs_orchestration.models import (
    Execution,
    ExecutionStatus,
    RecoveryPlan,
    ServerLaunchStatus,
    WaveStatus,
)

if TYPE_CHECKING:
    from drs_orchestration.models import PlanReadiness

__all__ = ["cancel", "drill", "pause", "preflight", "recover", "resume", "step"]

_COUNTED = (ServerLaunchStatus.LAUNCHED, ServerLaunchStatus.FAILED, ServerLaunchStatus.SKIPPED)
_POLL = poll_interval_option(15.0, "a wave's jobs run")
_DETACH = click.option(
    "--detach",
    is_flag=True,
    help="Start it, print the execution ID and return; a background process runs it "
    "(its log beside the per-user database). Follow it with 'status'.",
)
_SKIP = click.option(
    "--skip-not-ready",
    is_flag=True,
    help="Record servers that are not ready as skipped instead of refusing their wave.",
)


# ---- preflight ------------------------------------------------------------------------------


@click.command()
@click.argument("plan")
@click.option(
    "--recovery",
    is_flag=True,
    help="Check as a real recovery would (any server with a recovery point that is not "
    "stopped or disconnected) instead of as a drill (healthy replication).",
)
@output_option
@storage_options
@aws_options
@click.pass_context
def preflight(ctx: click.Context, plan: str, recovery: bool, output: OutputFormat) -> int:
    """Check a plan's servers as a drill or recovery would.

    Starts nothing.

    Per wave and server: replication state, lag, latest recovery point, and
    whether it would launch, with the reason. Exits 1 when a server would not.
    """
    rt = runtime(ctx)
    found = rt.plan(plan)
    report = rt.orchestrator(read_only=True).waves.preflight(found.plan_id, drill=not recovery)
    if output == "json":
        echo_json(report.to_wire())
    else:
        show(*_readiness_tables(report))
        not_ready = report.not_ready
        kind = "a recovery" if recovery else "a drill"
        click.echo(
            f"{kind} of {found.name!r} would launch "
            f"{sum(len(w.ready) for w in report.waves)} of "
            f"{sum(len(w.servers) for w in report.waves)} servers"
            + (f"; {len(not_ready)} not ready" if not_ready else "")
        )
    return EXIT_OK if report.all_ready else EXIT_FAILED


def _readiness_tables(report: PlanReadiness) -> list[Any]:
    tables = []
    for wave in report.waves:
        table = make_table(
            f"wave {wave.wave_name} ({wave.region}"
            + (f", account {wave.account_id}" if wave.account_id else "")
            + f"): {len(wave.ready)} of {len(wave.servers)} ready",
            ["server", "state", "lag", "latest recovery point", "verdict", "reason"],
        )
        for server in sorted(wave.servers, key=lambda s: (s.hostname or "", s.source_server_id)):
            label = (
                f"{server.hostname}\n{server.source_server_id}"
                if server.hostname
                else server.source_server_id
            )
            table.add_row(
                label,
                server.state,
                duration(server.lag_s),
                when(server.latest_recovery_point),
                styled("ready" if server.ready else "not ready"),
                option_words(server.reason),
            )
        tables.append(table)
    return tables


# ---- drill and recover ----------------------------------------------------------------------


@click.command()
@click.argument("plan")
@_SKIP
@click.option(
    "--replace-recovery-instances",
    is_flag=True,
    help="Let the drill replace recovery instances a real recovery launched "
    "(refused by default: they may be what production runs on).",
)
@click.option(
    "--drill-into-paired-instances",
    is_flag=True,
    help="Let the drill launch into the existing instances the launch settings name "
    "(refused by default: it overwrites a standby instance).",
)
@_POLL
@_DETACH
@output_option
@storage_options
@aws_options
@click.pass_context
def drill(
    ctx: click.Context,
    *,
    plan: str,
    skip_not_ready: bool,
    replace_recovery_instances: bool,
    drill_into_paired_instances: bool,
    poll_interval: float,
    detach: bool,
    output: OutputFormat,
) -> int:
    """Run a drill of a plan, wave by wave, with live progress.

    Drill launches are isolated from production.

    Exits 0 when every wave completed (or the drill paused before a wave),
    1 when the drill failed or was cancelled.
    """
    rt = runtime(ctx)
    if detach:
        check_detachable(rt)
    found = rt.plan(plan, read_only=False)
    return _run(
        rt,
        found,
        drill=True,
        options={
            "skip_not_ready": skip_not_ready,
            "replace_recovery_instances": replace_recovery_instances,
            "drill_into_paired_instances": drill_into_paired_instances,
        },
        poll_interval=poll_interval,
        detach=detach,
        output=output,
    )


@click.command()
@click.argument("plan")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_SKIP
@_POLL
@_DETACH
@output_option
@storage_options
@aws_options
@click.pass_context
def recover(
    ctx: click.Context,
    *,
    plan: str,
    yes: bool,
    skip_not_ready: bool,
    poll_interval: float,
    detach: bool,
    output: OutputFormat,
) -> int:
    """Run a REAL recovery of a plan (asks to confirm).

    Production launches, wave by wave, with live progress.

    Asks for confirmation naming the plan and how many servers it launches
    (--yes to skip). Servers launch from their latest recovery point, as
    DRS does in a disaster; check them first with 'preflight PLAN --recovery'.
    Exits 0 when every wave completed, 1 when the recovery failed, was
    cancelled or not confirmed.
    """
    rt = runtime(ctx)
    if detach:
        check_detachable(rt)
    found = rt.plan(plan, read_only=False)
    if not yes:
        _confirm(rt, found)
    return _run(
        rt,
        found,
        drill=False,
        options={"skip_not_ready": skip_not_ready},
        poll_interval=poll_interval,
        detach=detach,
        output=output,
    )


def _confirm(rt: Runtime, plan: RecoveryPlan) -> None:
    check = rt.orchestrator().plans.check(plan.plan_id)
    if not check.ok:
        problems = "; ".join(f"{f.field}: {f.message}" for f in check.errors)
        raise CliError(f"plan {plan.name!r} cannot run: {problems}", EXIT_USAGE)
    servers = sum(len(w.server_ids) for w in check.waves)
    regions = sorted({w.region for w in check.waves})
    question = (
        f"Recover plan {plan.name!r} ({plan.plan_id}): launch {servers} servers in "
        f"{len(check.waves)} waves in {', '.join(regions)} as a REAL RECOVERY, not a drill?"
    )
    confirm(question, what=f"recovery of {plan.name!r}")


def _run(
    rt: Runtime,
    plan: RecoveryPlan,
    *,
    drill: bool,
    options: dict[str, Any],
    poll_interval: float,
    detach: bool,
    output: OutputFormat,
) -> int:
    relay = EventRelay()
    orchestrator = rt.orchestrator(events=relay)
    execution = orchestrator.waves.start(
        plan.plan_id, drill=drill, started_by=rt.operator(), **options
    )
    kind = "drill" if drill else "recovery"
    if detach:
        pid = spawn_runner(rt, execution.execution_id, poll_interval=poll_interval)
        if output == "json":
            echo_json({"executionId": execution.execution_id, "runnerPid": pid})
        else:
            click.echo(execution.execution_id)
        where = (
            f"running in the background (pid {pid})"
            if pid is not None
            else "not running: nothing can reach the simulator from another process; "
            f"run it with 'drs-orchestration resume {execution.execution_id}'"
        )
        click.echo(
            f"{kind} {execution.execution_id} of {plan.name!r} started, {where}; follow it with "
            f"'drs-orchestration status {execution.execution_id}'",
            err=True,
        )
        return EXIT_OK
    click.echo(
        f"{kind} {execution.execution_id} of {plan.name!r} "
        f"({sum(len(w.server_ids) for w in execution.waves)} servers, "
        f"{len(execution.waves)} waves)",
        err=True,
    )
    ended = follow(rt, orchestrator, relay, execution, poll_interval=poll_interval)
    return finish(ended, output)


# ---- step, resume, pause, cancel ------------------------------------------------------------


@click.command()
@click.argument("execution_id", metavar="EXECUTION")
@output_option
@storage_options
@aws_options
@click.pass_context
def step(ctx: click.Context, execution_id: str, output: OutputFormat) -> int:
    """Advance an execution by one unit of work.

    What a scheduler does between polls; says what the step did.
    """
    rt = runtime(ctx)
    rt.execution(execution_id, read_only=False)
    result = rt.orchestrator().waves.step(execution_id)
    execution = result.execution
    if output == "json":
        echo_json(
            {
                "progressed": result.progressed,
                "finished": result.finished,
                "execution": execution.to_wire(),
            }
        )
        return EXIT_OK
    waiting = "did work" if result.progressed else "waiting (on DRS, a quota or another process)"
    click.echo(f"{execution_id}: {execution.status.value}; the step {waiting}")
    show(_waves_table(execution))
    return EXIT_OK


@click.command()
@click.argument("execution_id", metavar="EXECUTION")
@_POLL
@_DETACH
@output_option
@storage_options
@aws_options
@click.pass_context
def resume(
    ctx: click.Context, execution_id: str, poll_interval: float, detach: bool, output: OutputFormat
) -> int:
    """Release a pause and run an execution to its end.

    With live progress.

    Also continues one started with --detach, interrupted, or whose process
    crashed: every step is stored, and no chunk is ever launched twice.
    Exits like 'drill'.
    """
    rt = runtime(ctx)
    current = rt.execution(execution_id, read_only=False)
    if current.status.is_terminal:
        raise CliError(
            f"execution {execution_id} has ended ({current.status.value}): nothing to resume",
            EXIT_FAILED,
        )
    relay = EventRelay()
    orchestrator = rt.orchestrator(events=relay)
    execution = orchestrator.waves.resume(execution_id)
    if detach:
        pid = spawn_runner(rt, execution.execution_id, poll_interval=poll_interval)
        click.echo(
            f"{execution_id} resumed"
            + (f", running in the background (pid {pid})" if pid is not None else ""),
            err=True,
        )
        return EXIT_OK
    ended = follow(rt, orchestrator, relay, execution, poll_interval=poll_interval)
    return finish(ended, output)


@click.command()
@click.argument("execution_id", metavar="EXECUTION")
@click.option(
    "--before",
    metavar="WAVE",
    default=None,
    help="Pause before this wave (default: the next wave that has not started).",
)
@output_option
@storage_options
@click.pass_context
def pause(ctx: click.Context, execution_id: str, before: str | None, output: OutputFormat) -> int:
    """Pause a running execution before its next wave (or --before WAVE).

    The plan is not changed.

    A wave in flight is never interrupted: its DRS jobs run on, and the
    execution stops as PAUSED before the next wave that has not started (or
    before WAVE). 'drs-orchestration resume EXECUTION' releases it. Exits 1
    when that wave has already started or the execution has ended; 'cancel'
    stops an execution after the wave in flight. To make every execution of
    a plan pause before a wave, use 'plans pause-before PLAN WAVE'.
    """
    rt = runtime(ctx)
    current = _paused_execution(rt, execution_id)
    if current.status.is_terminal:
        raise CliError(
            f"execution {execution_id} has ended ({current.status.value}): nothing to pause",
            EXIT_FAILED,
        )
    names = [w.wave_name for w in current.waves]
    if before is not None and before not in names:
        raise CliError(
            f"execution {execution_id} has no wave {before!r} (waves: {', '.join(names)})",
            EXIT_USAGE,
        )
    execution = rt.orchestrator().waves.pause(execution_id, before=before)
    if output == "json":
        echo_json(execution.to_wire())
        return EXIT_OK
    if execution.status is ExecutionStatus.PAUSED:
        click.echo(f"{execution_id} is paused before wave {execution.paused_before!r}")
    else:
        wave = next(
            (
                w.wave_name
                for w in execution.waves
                if w.status is WaveStatus.PENDING and w.pause_before and not w.pause_released
            ),
            before,
        )
        click.echo(
            f"pause of {execution_id} requested ({execution.status.value} now); it stops "
            f"before wave {wave!r} as PAUSED"
        )
    click.echo(f"release it with 'drs-orchestration resume {execution_id}'", err=True)
    return EXIT_OK


def _paused_execution(rt: Runtime, execution_id: str) -> Execution:
    """The execution to pause; a plan named instead gets the command that pauses plans."""
    try:
        return rt.execution(execution_id, read_only=False)
    except CliError as exc:
        if not execution_id.startswith("ex-"):
            exc.message += (
                "; to make a plan's executions pause before a wave: "
                "'drs-orchestration plans pause-before PLAN WAVE'"
            )
        raise


@click.command()
@click.argument("execution_id", metavar="EXECUTION")
@click.option("--reason", default=None, help="Why, recorded on the execution.")
@storage_options
@click.pass_context
def cancel(ctx: click.Context, execution_id: str, reason: str | None) -> int:
    """Ask an execution to stop after the wave in flight.

    No later wave starts, and it ends CANCELLED.

    A wave that has already asked DRS for its jobs finishes (its launched
    instances are recorded). The process running the execution ends it at
    its next step; if none runs it, 'drs-orchestration step EXECUTION' does.
    """
    rt = runtime(ctx)
    rt.execution(execution_id, read_only=False)
    execution = rt.orchestrator().waves.cancel(execution_id, rt.operator(), reason)
    click.echo(
        f"cancel of {execution_id} requested ({execution.status.value} now); it ends "
        "CANCELLED at its next step"
    )
    return EXIT_OK


def _waves_table(execution: Execution) -> Any:
    table = make_table(None, ["wave", "status", "servers", "launched", "failed", "skipped"])
    for run in execution.waves:
        counts = run.counts()
        table.add_row(
            run.wave_name,
            styled(run.status.value),
            str(len(run.server_ids)),
            *(str(counts[s]) for s in _COUNTED),
        )
    return table
