"""``drs-orchestration failback``: bring a recovery's servers home, from any terminal.

The commands follow :class:`~drs_orchestration.services.failback.FailbackCoordinator`:
each request (``start``, ``launch``, ``reprotect``, ``cleanup``,
``acknowledge-ip``, ``stop``) is checked and recorded, and returns; ``run``
(or ``step``, or a ``--detach`` runner) does the work, one stored step at a
time, until every server waits for the next request or has ended. So an
operator's day reads::

    failback start EXECUTION          # checks each recovered server, records it
    failback run EXECUTION            # replicates back until caught up: READY
    failback launch EXECUTION         # asks, then records the launch back
    failback run EXECUTION            # launched back: COMPLETED
    failback reprotect EXECUTION; failback cleanup EXECUTION; failback run EXECUTION

The library's messages name its keyword arguments (``drill_ok=True``); the
commands say the option instead (``--drill-ok``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from drs_orchestration.cli.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    exit_status,
    option_words,
)
from drs_orchestration.cli.failback_view import (
    failback_failed,
    failback_table,
    next_command,
    problems_table,
)
from drs_orchestration.cli.follow import check_detachable, follow_failback, spawn_runner
from drs_orchestration.cli.options import (
    OrderedGroup,
    OutputFormat,
    aws_options,
    output_option,
    poll_interval_option,
    storage_options,
)
from drs_orchestration.cli.output import confirm, echo_json, make_table, show
from drs_orchestration.cli.progress import EventRelay, FailbackProgress
from drs_orchestration.cli.report import execution_hostnames, report_console
from drs_orchestration.cli.runtime import runtime
from drs_orchestration.errors import DrsOrchestrationError, NotFoundError, ValidationError
from drs_orchestration.models import (
    Execution,
    Failback,
    FailbackMode,
    FailbackPhase,
    FailbackState,
    FailbackStep,
)
from drs_orchestration.models.ids import is_source_server_id

if TYPE_CHECKING:
    from drs_orchestration.services import Orchestrator

__all__ = ["failback"]

_PROG = "drs-orchestration"

_OPTIONS = {
    "drill_ok": "--drill-ok",
    "drill_into_original": "--drill-into-original",
    "into_original": "--into-original",
    "include_launched_into": "--include-launched-into",
    "pairs": "--pair",
    "servers": "--server",
}
"""The coordinator's keyword arguments, as the commands' options."""

_ARGUMENT_WORDS = (
    ("give pairs= for them", "give --pair SERVER=INSTANCE for them"),
    (
        "give the coordinator install_agent= (a hook that installs it) to fail it back",
        "the command line has no installation hook: fail it back from code, with "
        "Orchestrator(..., install_agent=HOOK)",
    ),
)
"""Hints in the library's messages that name arguments other than flags, as the CLI says them."""


def _server_ids(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    bad = [v for v in values if not is_source_server_id(v)]
    if bad:
        raise click.BadParameter(
            f"{', '.join(map(repr, bad))}: not a DRS source server ID "
            "('s-' and 17 letters or digits)"
        )
    return values


_SERVERS = click.option(
    "--server",
    "servers",
    multiple=True,
    metavar="SOURCE_SERVER",
    callback=_server_ids,
    help="Only this source server of the execution (repeatable; default: every one that can).",
)
_YES = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")


@click.group(cls=OrderedGroup)
def failback() -> None:
    """Fail a recovery's servers back to where they came from.

    Replicate back, launch back, re-protect, clean up.

    \b
    Each request is checked and recorded, and returns; 'failback run' does the
    work until every server waits for the next request:
      failback start EXECUTION       check the recovered servers, record them
      failback run EXECUTION         replicate back until caught up (READY)
      failback launch EXECUTION      launch back (asks; --drill for a drill)
      failback run EXECUTION         launched back (COMPLETED)
      failback reprotect EXECUTION   replicate to the recovery region again
      failback cleanup EXECUTION     stop the temporary replication, terminate
                                     the old recovery instances (asks)
      failback run EXECUTION

    'failback status EXECUTION' says where each server is and what comes
    next. A server that did not originate in EC2 fails back through the
    Failback Client, whose installation hook only the library takes
    (Orchestrator(install_agent=...)).
    """  # noqa: D301 - a backspace (\b) line keeps click from rewrapping the block


# ---- reading ----------------------------------------------------------------------------


@failback.command("status")
@click.argument("execution_id", metavar="EXECUTION")
@output_option
@storage_options
@click.pass_context
def status(ctx: click.Context, execution_id: str, output: OutputFormat) -> int:
    """Show where each server of a failback is, and what to do next.

    Per server: its phase, how it goes back (in AWS or on premises), the
    replication back (state and lag), the instance it was launched back
    on, re-protection and clean-up, errors, and the next command. Never
    writes. Exits 1 when a server's failback (or a step after it) failed.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id)
    found = _get(rt.orchestrator(read_only=True), execution)
    return _finish(found, execution, output)


@failback.command("step")
@click.argument("execution_id", metavar="EXECUTION")
@output_option
@storage_options
@aws_options
@click.pass_context
def step(ctx: click.Context, execution_id: str, output: OutputFormat) -> int:
    """Do one unit of a failback's work.

    What a scheduler does between polls; says what the step did.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    orchestrator = rt.orchestrator()
    _get(orchestrator, execution)
    with _as_options():
        result = orchestrator.failback.step(execution_id)
    found = result.failback
    if output == "json":
        echo_json(
            {
                "progressed": result.progressed,
                "pending": result.pending,
                "failback": _wire(found),
            }
        )
        return EXIT_OK
    if not result.pending:
        did = "nothing left to do: every server waits for a request or has ended"
    elif result.progressed:
        did = "the step did work"
    else:
        did = "the step is waiting (on DRS or another process)"
    click.echo(f"failback of {execution_id}: {found.phase.value}; {did}")
    show(failback_table(found, execution))
    return EXIT_OK


@failback.command("run")
@click.argument("execution_id", metavar="EXECUTION")
@poll_interval_option(30.0, "servers replicate or launch back")
@click.option(
    "--detach",
    is_flag=True,
    help="Return at once; a background process runs it (its log beside the per-user "
    "database). Follow it with 'failback status'.",
)
@output_option
@storage_options
@aws_options
@click.pass_context
def run(
    ctx: click.Context, execution_id: str, poll_interval: float, detach: bool, output: OutputFormat
) -> int:
    """Step a failback until it waits for a request, with live progress.

    Replicating back until caught up, launching back, re-protecting and
    cleaning up: whatever has been asked. Returns when every server waits
    for the next request (READY servers for 'failback launch') or has ended.
    Interrupted, it keeps its state: run it again from any terminal.
    Exits 0 then, 1 when a server's failback (or a step after it) failed.
    """
    rt = runtime(ctx)
    if detach:
        check_detachable(rt)
    execution = rt.execution(execution_id, read_only=False)
    relay = EventRelay()
    orchestrator = rt.orchestrator(events=relay)
    found = _get(orchestrator, execution)
    if detach:
        pid = spawn_runner(
            rt,
            execution_id,
            poll_interval=poll_interval,
            command=("failback", "run"),
            log_name=f"{execution_id}-failback",
        )
        if output == "json":
            echo_json({"executionId": execution_id, "runnerPid": pid})
        where = (
            f"running in the background (pid {pid})"
            if pid is not None
            else "not running: nothing can reach the simulator from another process; "
            f"run it with '{_PROG} failback run {execution_id}'"
        )
        click.echo(
            f"failback of {execution_id} {where}; follow it with "
            f"'{_PROG} failback status {execution_id}'",
            err=True,
        )
        return EXIT_OK
    view = FailbackProgress(
        found, report_console(stderr=True, log_path=False), execution_hostnames(execution)
    )
    relay.target = view
    try:
        with _as_options():
            ended = follow_failback(rt, orchestrator, view, found, poll_interval=poll_interval)
    finally:
        relay.target = None
    return _finish(ended, execution, output)


@failback.command("replication")
@click.argument("execution_id", metavar="EXECUTION")
@click.argument("source_server_id", metavar="SOURCE_SERVER")
@output_option
@storage_options
@aws_options
@click.pass_context
def replication(
    ctx: click.Context, execution_id: str, source_server_id: str, output: OutputFormat
) -> int:
    """Show a server's failback replication settings, as DRS holds them."""
    rt = runtime(ctx)
    execution = rt.execution(execution_id)
    orchestrator = rt.orchestrator(read_only=True)
    _get(orchestrator, execution)
    settings = orchestrator.failback.failback_replication_configuration(
        execution_id, source_server_id
    )
    if output == "json":
        echo_json(settings)
        return EXIT_OK
    table = make_table(
        f"failback replication of {source_server_id} ({execution_id})", ["setting", "value"]
    )
    for key, value in settings.items():
        table.add_row(key, str(value))
    show(table)
    return EXIT_OK


# ---- requests ---------------------------------------------------------------------------


@failback.command("start")
@click.argument("execution_id", metavar="EXECUTION")
@_SERVERS
@click.option(
    "--drill-ok",
    is_flag=True,
    help="Fail back a drill's instances (refused by default: they are copies, and DRS does "
    "not reverse a drill instance's replication).",
)
@output_option
@storage_options
@aws_options
@click.pass_context
def start(
    ctx: click.Context,
    execution_id: str,
    servers: tuple[str, ...],
    drill_ok: bool,
    output: OutputFormat,
) -> int:
    """Check a recovery's servers and record their failback.

    Changes nothing in DRS.

    Per server, DRS must still hold its recovery instance, running and
    connected; the execution must have ended, and be a recovery, not a
    drill (unless --drill-ok). Each server's way back (in AWS or on
    premises), staging account and original instance are recorded. Starting
    again is safe: recorded servers keep their state, others are added,
    failed ones start over. Then 'failback run EXECUTION'.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    with _as_options():
        found = rt.orchestrator().failback.start_failback(
            execution_id,
            servers=list(servers) or None,
            drill_ok=drill_ok,
            started_by=rt.operator(),
        )
    return _request_done(found, execution, output)


@failback.command("launch")
@click.argument("execution_id", metavar="EXECUTION")
@_SERVERS
@click.option(
    "--drill",
    is_flag=True,
    help="Launch back as a drill: drill instances in the origin, nothing else changed "
    "(no confirmation asked).",
)
@click.option(
    "--into-original",
    is_flag=True,
    help="Launch each server back into the EC2 instance it originally replicated from "
    "(checked first: tag, OS, boot mode, state).",
)
@click.option(
    "--pair",
    "pairs",
    multiple=True,
    metavar="SOURCE_SERVER=INSTANCE",
    help="Launch this server back into this existing instance (repeatable).",
)
@click.option(
    "--add-tag",
    is_flag=True,
    help="Tag the instances launched into AWSDRS=AllowLaunchingIntoThisInstance where they "
    "lack it.",
)
@click.option(
    "--drill-into-original",
    is_flag=True,
    help="Let a drill launch into (and overwrite) existing instances (refused by default).",
)
@_YES
@output_option
@storage_options
@aws_options
@click.pass_context
def launch(
    ctx: click.Context,
    *,
    execution_id: str,
    servers: tuple[str, ...],
    drill: bool,
    into_original: bool,
    pairs: tuple[str, ...],
    add_tag: bool,
    drill_into_original: bool,
    yes: bool,
    output: OutputFormat,
) -> int:
    """Launch READY servers back in their origin (a REAL failback asks to confirm).

    In AWS: a recovery of the servers replicating back, in the failover's
    wave order (each wave launched by the wave executor, never twice),
    optionally into existing instances. A real launch back asks for
    confirmation naming the execution and how many servers it launches
    (--yes to skip); --drill does not ask. Then 'failback run EXECUTION'.
    Exits 1 when not confirmed or an instance to launch into fails a check.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    orchestrator = rt.orchestrator()
    found = _get(orchestrator, execution)
    chosen = _launchable(found, servers, drill=drill)
    if not drill and not yes and chosen:
        places = sorted(
            {s.reversed_region or "?" for s in chosen if s.mode is FailbackMode.IN_AWS}
        ) + (["on premises"] if any(s.mode is FailbackMode.ON_PREMISES for s in chosen) else [])
        into = " into their original instances" if into_original else ""
        confirm(
            f"Launch back {len(chosen)} servers of execution {execution_id} (plan "
            f"{execution.plan_name!r}){into} in {', '.join(places)} as a REAL FAILBACK, "
            "not a drill?",
            what=f"failback launch of {execution_id}",
        )
    with _as_options():
        stored = orchestrator.failback.launch_failback(
            execution_id,
            servers=list(servers) or None,
            drill=drill,
            into_original=into_original,
            pairs=_pairs(pairs),
            add_tag=add_tag,
            drill_into_original=drill_into_original,
        )
    return _request_done(stored, execution, output)


@failback.command("reprotect")
@click.argument("execution_id", metavar="EXECUTION")
@_SERVERS
@output_option
@storage_options
@aws_options
@click.pass_context
def reprotect(
    ctx: click.Context, execution_id: str, servers: tuple[str, ...], output: OutputFormat
) -> int:
    """Ask for the failed-back instances to replicate to the recovery region again.

    After a real launch back in AWS (a failback drill leaves the original
    replication as it was). Then 'failback run EXECUTION'.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    orchestrator = rt.orchestrator()
    _get(orchestrator, execution)
    with _as_options():
        stored = orchestrator.failback.reprotect(execution_id, servers=list(servers) or None)
    return _request_done(stored, execution, output)


@failback.command("cleanup")
@click.argument("execution_id", metavar="EXECUTION")
@_SERVERS
@click.option(
    "--stop-replication/--no-stop-replication",
    default=True,
    show_default=True,
    help="Stop the temporary source servers that replicated the data back "
    "(StopReplication; their snapshots are deleted).",
)
@click.option(
    "--terminate/--no-terminate",
    default=True,
    show_default=True,
    help="Terminate the old recovery instances in the recovery region.",
)
@click.option(
    "--include-launched-into",
    is_flag=True,
    help="Also terminate recovery instances that were existing (paired) instances DRS "
    "launched into (kept by default: they existed before the failover).",
)
@_YES
@output_option
@storage_options
@aws_options
@click.pass_context
def cleanup(
    ctx: click.Context,
    *,
    execution_id: str,
    servers: tuple[str, ...],
    stop_replication: bool,
    terminate: bool,
    include_launched_into: bool,
    yes: bool,
    output: OutputFormat,
) -> int:
    """Clear a failover away once its servers are back (asks to confirm).

    Stops the temporary replication that carried the data back and
    terminates the old recovery instances, after re-protection when both
    were asked. Asks for confirmation naming what goes (--yes to skip).
    Then 'failback run EXECUTION'. Exits 1 when not confirmed.
    """
    if not stop_replication and not terminate:
        raise CliError(
            "--no-stop-replication and --no-terminate leave nothing to clean up", EXIT_USAGE
        )
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    orchestrator = rt.orchestrator()
    found = _get(orchestrator, execution)
    if not yes:
        question = _cleanup_question(
            found,
            servers,
            stop_replication=stop_replication,
            terminate=terminate,
            include_launched_into=include_launched_into,
        )
        if question is not None:
            confirm(question, what=f"clean-up of {execution_id}")
    with _as_options():
        stored = orchestrator.failback.cleanup(
            execution_id,
            servers=list(servers) or None,
            stop_replication=stop_replication,
            terminate=terminate,
            include_launched_into=include_launched_into,
        )
    return _request_done(stored, execution, output)


@failback.command("acknowledge-ip")
@click.argument("execution_id", metavar="EXECUTION")
@click.argument("source_server_id", metavar="SOURCE_SERVER")
@click.option("--by", "by", required=True, metavar="WHO", help="Who accepts it (recorded).")
@click.option("--reason", default=None, help="Why it is accepted (recorded).")
@output_option
@storage_options
@aws_options
@click.pass_context
def acknowledge_ip(
    ctx: click.Context,
    *,
    execution_id: str,
    source_server_id: str,
    by: str,
    reason: str | None,
    output: OutputFormat,
) -> int:
    """Accept that a server's failover did not keep its paired instance or IP.

    A server launched into a paired instance whose instance or private IP
    was not kept (a PrivateIPMismatch) waits for this before it fails back.
    Then 'failback run EXECUTION'.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    orchestrator = rt.orchestrator()
    _get(orchestrator, execution)
    with _as_options():
        orchestrator.failback.acknowledge_ip_mismatch(
            execution_id, source_server_id, acknowledged_by=by, reason=reason
        )
    return _request_done(orchestrator.failback.get(execution_id), execution, output)


@failback.command("stop")
@click.argument("execution_id", metavar="EXECUTION")
@_SERVERS
@click.option("--reason", default="", help="Why, recorded on each server.")
@output_option
@storage_options
@aws_options
@click.pass_context
def stop(
    ctx: click.Context,
    execution_id: str,
    servers: tuple[str, ...],
    reason: str,
    output: OutputFormat,
) -> int:
    """Stop replicating back servers not launched back yet.

    DRS stops their failback (StopFailback); their records end FAILED
    (FailbackStopped). 'failback start EXECUTION' starts them again.
    """
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    orchestrator = rt.orchestrator()
    _get(orchestrator, execution)
    with _as_options():
        stored = orchestrator.failback.stop_failback(
            execution_id, servers=list(servers) or None, reason=reason
        )
    return _request_done(stored, execution, output)


@failback.command("configure-replication")
@click.argument("execution_id", metavar="EXECUTION")
@_SERVERS
@click.option("--name", default=None, help="The failback replication's name.")
@click.option(
    "--bandwidth-throttling",
    type=click.IntRange(min=0),
    default=None,
    metavar="MBPS",
    help="Bandwidth of the replication back, in Mbps (0: no limit).",
)
@click.option(
    "--use-private-ip/--no-use-private-ip",
    default=None,
    help="Replicate back over a private IP (VPN, Direct Connect) or not.",
)
@click.option(
    "--internet-protocol",
    type=click.Choice(["IPV4", "IPV6"]),
    default=None,
    help="The replication's internet protocol.",
)
@storage_options
@aws_options
@click.pass_context
def configure_replication(
    ctx: click.Context,
    *,
    execution_id: str,
    servers: tuple[str, ...],
    name: str | None,
    bandwidth_throttling: int | None,
    use_private_ip: bool | None,
    internet_protocol: str | None,
) -> int:
    """Change failback replication settings of servers not launched back yet.

    Only the settings given change (UpdateFailbackReplicationConfiguration).
    """
    if all(v is None for v in (name, bandwidth_throttling, use_private_ip, internet_protocol)):
        raise CliError(
            "give at least one setting: --name, --bandwidth-throttling, "
            "--use-private-ip/--no-use-private-ip or --internet-protocol",
            EXIT_USAGE,
        )
    rt = runtime(ctx)
    execution = rt.execution(execution_id, read_only=False)
    orchestrator = rt.orchestrator()
    found = _get(orchestrator, execution)
    with _as_options():
        orchestrator.failback.configure_failback_replication(
            execution_id,
            servers=list(servers) or None,
            name=name,
            bandwidth_throttling=bandwidth_throttling,
            use_private_ip=use_private_ip,
            internet_protocol=internet_protocol,
        )
    count = len(servers) or sum(not s.phase.is_terminal for s in found.servers)
    click.echo(f"failback replication settings of {count} servers of {execution_id} changed")
    return EXIT_OK


# ---- helpers ----------------------------------------------------------------------------


def _get(orchestrator: Orchestrator, execution: Execution) -> Failback:
    """The execution's failback as stored.

    Raises:
        CliError: the execution has no failback yet (exit 1), naming the command that starts it.
    """
    execution_id = execution.execution_id
    try:
        return orchestrator.failback.get(execution_id)
    except NotFoundError:
        raise CliError(
            f"execution {execution_id} has no failback: start it with "
            f"'{_PROG} failback start {execution_id}'",
            EXIT_FAILED,
        ) from None


@contextmanager
def _as_options() -> Iterator[None]:
    """Say the command's options where the library's errors name its keyword arguments."""
    try:
        yield
    except DrsOrchestrationError as exc:
        message = _option_words(exc)
        if message == exc.message:
            raise
        raise CliError(message, exit_status(exc)) from None


def _option_words(exc: DrsOrchestrationError) -> str:
    if isinstance(exc, ValidationError) and len(exc.problems) == 1:
        problem = exc.problems[0]
        option = _OPTIONS.get(str(problem.get("field")))
        if option is not None:
            # "drill_ok: ... (got False)" names a keyword argument and a value the
            # operator never typed: the problem, said with the option, is the message.
            value = problem.get("value")
            listed = f" ({', '.join(map(str, value))})" if isinstance(value, list) else ""
            message = _option_words_of(f"{problem['message']}{listed}")
            return message if option in message else f"{option}: {message}"
    return _option_words_of(exc.message)


def _option_words_of(message: str) -> str:
    for words, replacement in _ARGUMENT_WORDS:
        message = message.replace(words, replacement)
    return option_words(message)


def _pairs(values: tuple[str, ...]) -> dict[str, str] | None:
    pairs: dict[str, str] = {}
    for value in values:
        source, sep, target = value.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise CliError(f"--pair {value!r}: give SOURCE_SERVER=INSTANCE", EXIT_USAGE)
        pairs[source.strip()] = target.strip()
    return pairs or None


def _launchable(found: Failback, servers: Sequence[str], *, drill: bool) -> list[FailbackState]:
    """The servers a launch back would take: READY ones (a drilled one again, for real)."""

    def can(state: FailbackState) -> bool:
        if state.phase is FailbackPhase.READY:
            return True
        drilled = state.launch is not None and state.launch.drill
        return state.phase is FailbackPhase.COMPLETED and drilled and not drill

    wanted = set(servers)
    return [s for s in found.servers if can(s) and (not wanted or s.source_server_id in wanted)]


def _asked_again(step: FailbackStep | None) -> bool:
    """Whether a clean-up request would ask for this step (not asked yet, or failed)."""
    return step is None or step.error is not None


def _cleanup_question(
    found: Failback,
    servers: Sequence[str],
    *,
    stop_replication: bool,
    terminate: bool,
    include_launched_into: bool,
) -> str | None:
    """What a clean-up would stop and terminate, as a question (``None``: nothing)."""
    from drs_orchestration.services.failback.requests import aftercare_refusal

    wanted = set(servers)
    chosen = [
        s
        for s in found.servers
        if aftercare_refusal(s) is None and (not wanted or s.source_server_id in wanted)
    ]
    stops = [s for s in chosen if stop_replication and _asked_again(s.stop_replication)]
    ends = [
        s
        for s in chosen
        if terminate and _asked_again(s.terminate) and (s.identity is None or include_launched_into)
    ]
    kept = [
        s
        for s in chosen
        if terminate
        and _asked_again(s.terminate)
        and s.identity is not None
        and not include_launched_into
    ]
    if not stops and not ends:
        return None
    parts = []
    if stops:
        regions = sorted({s.reversed_region or "?" for s in stops})
        parts.append(
            f"stop the replication of {len(stops)} temporary source servers in {', '.join(regions)}"
        )
    if ends:
        regions = sorted({s.region for s in ends})
        parts.append(f"terminate {len(ends)} recovery instances in {', '.join(regions)}")
    keep = f" ({len(kept)} paired instances DRS launched into are kept)" if kept else ""
    return f"Clean up the failover of execution {found.execution_id}: {' and '.join(parts)}{keep}?"


def _wire(found: Failback) -> dict[str, Any]:
    """The failback's records in their wire form, with its phase and each server's next command."""
    return {
        **found.to_wire(),
        "phase": found.phase.value,
        "stagingConsistent": found.staging_consistent,
        "next": {
            s.source_server_id: (
                f"{_PROG} {n}" if (n := next_command(s, found.execution_id)) else None
            )
            for s in found.servers
        },
    }


def _request_done(found: Failback, execution: Execution, output: OutputFormat) -> int:
    """Print a failback after a request was recorded (the request succeeded: exit 0)."""
    _show(found, execution, output)
    return EXIT_OK


def _finish(found: Failback, execution: Execution, output: OutputFormat) -> int:
    """Print a failback; exit 1 when a server's failback (or a step after it) failed."""
    _show(found, execution, output)
    return EXIT_FAILED if any(failback_failed(s) for s in found.servers) else EXIT_OK


def _show(found: Failback, execution: Execution, output: OutputFormat) -> None:
    if output == "json":
        echo_json(_wire(found))
        return
    tables = [failback_table(found, execution)]
    problems = problems_table(found, execution)
    if problems is not None:
        tables.append(problems)
    show(*tables)
    _hints(found)


def _hints(found: Failback) -> None:
    """The next commands, on stderr, each with the servers it moves on."""
    waiting: dict[str, list[FailbackState]] = {}
    for state in found.servers:
        command = next_command(state, found.execution_id)
        if command is not None:
            waiting.setdefault(command, []).append(state)
    for command, states in waiting.items():
        phases = sorted({s.phase.value for s in states})
        click.echo(
            f"next: '{_PROG} {command}' ({len(states)} servers {', '.join(phases)})", err=True
        )
