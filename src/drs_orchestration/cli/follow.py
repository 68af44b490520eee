"""Running an execution or a failback from the terminal: step it with a live view, or detach.

:func:`follow` drives an execution with the executor's public ``step``
(one persisted step at a time), refreshing the view from the execution
each step returns, and sleeping the poll interval only while the execution
waits on DRS. Interrupting it (Ctrl-C) leaves the execution as stored:
``resume`` continues it from any terminal, ``cancel`` stops it.
:func:`follow_failback` does the same for a failback, with the failback
coordinator's ``step``, until it waits for a request.

:func:`spawn_runner` is ``--detach``: a background ``drs-orchestration
resume EXECUTION`` (or ``failback run EXECUTION``) process with the same
storage and AWS options, its output in a log file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from drs_orchestration.cli.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from drs_orchestration.cli.options import OutputFormat
from drs_orchestration.cli.output import echo_json
from drs_orchestration.cli.progress import EventRelay, FailbackProgress, LiveProgress
from drs_orchestration.cli.report import execution_summary, report_console
from drs_orchestration.models import Execution, ExecutionStatus

if TYPE_CHECKING:
    from drs_orchestration.cli.runtime import Runtime
    from drs_orchestration.models import Failback
    from drs_orchestration.services import Orchestrator

__all__ = [
    "check_detachable",
    "execution_exit_status",
    "finish",
    "follow",
    "follow_failback",
    "log_path",
    "runner_command",
    "spawn_runner",
]


def follow(
    rt: Runtime,
    orchestrator: Orchestrator,
    relay: EventRelay,
    execution: Execution,
    *,
    poll_interval: float,
) -> Execution:
    """Step ``execution`` until it ends or pauses, with live bars and server statuses.

    Raises:
        CliError: interrupted (exit 130), naming the commands that continue or stop it.
    """
    from rich.live import Live

    console = report_console(stderr=True, log_path=False)
    view = LiveProgress(execution, console)
    relay.target = view
    sleep = rt.sleep
    execution_id = execution.execution_id
    try:
        # Transient: the summary printed afterwards replaces the live view.
        with Live(
            get_renderable=view.render, console=console, refresh_per_second=4, transient=True
        ):
            while True:
                result = orchestrator.waves.step(execution_id)
                view.update_from(result.execution)
                if result.finished:
                    return result.execution
                if not result.progressed:
                    sleep(poll_interval)
    except KeyboardInterrupt:
        raise CliError(
            f"interrupted; execution {execution_id} keeps its state: continue it with "
            f"'drs-orchestration resume {execution_id}', stop it with "
            f"'drs-orchestration cancel {execution_id}'",
            EXIT_INTERRUPTED,
        ) from None
    finally:
        relay.target = None


def follow_failback(
    rt: Runtime,
    orchestrator: Orchestrator,
    view: FailbackProgress,
    failback: Failback,
    *,
    poll_interval: float,
) -> Failback:
    """Step a failback until no work is left (every server waits for a request or has ended).

    ``view`` shows every server's phase while it runs; it should also be
    the target of the orchestrator's event relay, for the milestones.

    Raises:
        CliError: interrupted (exit 130), naming the commands that continue or stop it.
    """
    from rich.live import Live

    sleep = rt.sleep
    execution_id = failback.execution_id
    try:
        with Live(
            get_renderable=view.render, console=view.console, refresh_per_second=4, transient=True
        ):
            while True:
                result = orchestrator.failback.step(execution_id)
                view.update_from(result.failback)
                if not result.pending:
                    return result.failback
                if not result.progressed:
                    sleep(poll_interval)
    except KeyboardInterrupt:
        raise CliError(
            f"interrupted; the failback of {execution_id} keeps its state: continue it with "
            f"'drs-orchestration failback run {execution_id}', stop replicating back with "
            f"'drs-orchestration failback stop {execution_id}'",
            EXIT_INTERRUPTED,
        ) from None


def execution_exit_status(execution: Execution) -> int:
    """0 for a completed (or paused) execution, 1 for anything else."""
    if execution.status in (ExecutionStatus.COMPLETED, ExecutionStatus.PAUSED):
        return EXIT_OK
    return EXIT_FAILED


def finish(execution: Execution, output: OutputFormat) -> int:
    """Print the execution's summary (or its JSON) and a hint for what comes next."""
    if output == "json":
        echo_json(execution.to_wire())
    else:
        report_console().print(execution_summary(execution))
    execution_id = execution.execution_id
    if execution.status is ExecutionStatus.PAUSED:
        click.echo(
            f"paused before wave {execution.paused_before!r}: release it with "
            f"'drs-orchestration resume {execution_id}'",
            err=True,
        )
    elif execution.is_drill and execution.status.is_terminal:
        click.echo(
            f"evidence: 'drs-orchestration report {execution_id} --format html -o drill.html'; "
            f"clean up: 'drs-orchestration terminate {execution_id}'",
            err=True,
        )
    return execution_exit_status(execution)


def check_detachable(rt: Runtime) -> None:
    """Refuse ``--detach`` when another process could not read the storage.

    Raises:
        CliError: the storage is ``memory`` (exit 2).
    """
    if rt.spec.kind == "memory":
        raise CliError(
            "--detach needs storage another process can read: memory ends with this command",
            EXIT_USAGE,
        )


def runner_command(
    rt: Runtime,
    execution_id: str,
    *,
    poll_interval: float,
    command: Sequence[str] = ("resume",),
) -> list[str]:
    """The command line of a background runner for ``execution_id`` (same storage and AWS).

    Args:
        rt: The runtime of the command that detaches.
        execution_id: The execution to run (or whose failback to run).
        poll_interval: The runner's ``--poll-interval``.
        command: The runner's command words before the execution ID.

    Raises:
        CliError: the storage is ``memory``, which no other process can read (exit 2).
    """
    check_detachable(rt)
    spec = rt.spec
    storage = (
        f"sqlite://{spec.path.resolve()}" if spec.kind == "sqlite" and spec.path else spec.url()
    )
    line = [sys.executable, "-m", "drs_orchestration", *command, execution_id]
    line += ["--storage", storage, "--poll-interval", f"{poll_interval:g}"]
    if rt.options.profile:
        line += ["--profile", rt.options.profile]
    if rt.options.region:
        line += ["--region", rt.options.region]
    return line


def log_path(name: str) -> Path:
    """Where a background runner writes its output: ``NAME.log`` beside the per-user database."""
    from drs_orchestration.storage import default_sqlite_path

    return default_sqlite_path().parent / "logs" / f"{name}.log"


def spawn_runner(
    rt: Runtime,
    execution_id: str,
    *,
    poll_interval: float,
    command: Sequence[str] = ("resume",),
    log_name: str | None = None,
) -> int | None:
    """Start a background process that runs ``execution_id``; return its PID.

    Args:
        rt: The runtime of the command that detaches.
        execution_id: The execution to run (or whose failback to run).
        poll_interval: The runner's ``--poll-interval``.
        command: The runner's command words before the execution ID.
        log_name: The log file's name without ``.log`` (default: the execution ID).

    Under ``--clients simulated`` (tests) there is no other process that could
    reach the simulator: nothing is started and ``None`` is returned.
    """
    line = runner_command(rt, execution_id, poll_interval=poll_interval, command=command)
    if rt.simulated:
        return None
    path = log_path(log_name or execution_id)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.open("ab") as log:
        process = subprocess.Popen(
            line,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "COLUMNS": os.environ.get("COLUMNS", "132")},
        )
    return process.pid
