"""Live progress in the terminal: an execution's waves and servers, a failback's servers.

An execution shows per-wave bars and every server's launch status; a
failback, every server's phase on its way back. Two sources keep each view
current: the library's events (milestones, job progress, as they happen)
and the record as stored after each step (:meth:`LiveProgress.update_from`,
:meth:`FailbackProgress.update_from`), which also makes the view right for
an execution or failback that was started elsewhere and is only being
followed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drs_orchestration.events import (
    Event,
    EventSink,
    ExecutionFinished,
    ExecutionPaused,
    ExecutionStarted,
    FailbackProgressed,
    JobProgress,
    JobStarted,
    ServerFailed,
    ServerLaunched,
    WaveFinished,
    WaveStarted,
)
from drs_orchestration.models import (
    Execution,
    Failback,
    FailbackPhase,
    FailbackState,
    ServerLaunchStatus,
    WaveStatus,
)
from drs_orchestration.reports._format import format_duration

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, TaskID

__all__ = ["MAX_SERVER_ROWS", "EventRelay", "FailbackProgress", "LiveProgress"]

MAX_SERVER_ROWS = 30
"""Server rows shown at most: beyond that, the servers of the waves in flight."""

_STATUS_STYLE = {
    "LAUNCHED": "green",
    "FAILED": "red",
    "TERMINATED": "red",
    "SKIPPED": "yellow",
    "IN_PROGRESS": "cyan",
    "PENDING": "dim",
    "NOT_STARTED": "dim",
    # failback phases
    "REVERSE_REPLICATING": "cyan",
    "READY": "green",
    "LAUNCHING": "cyan",
    "COMPLETED": "green",
}
_DONE = frozenset({"LAUNCHED", "FAILED", "SKIPPED", "TERMINATED"})


class EventRelay:
    """An event sink whose target is set once the execution (and its view) exists."""

    def __init__(self) -> None:
        self.target: EventSink | None = None

    def __call__(self, event: Event) -> None:
        """Pass ``event`` on to the target, if there is one yet."""
        if self.target is not None:
            self.target(event)


class LiveProgress:
    """An event sink that keeps per-wave bars and per-server statuses, and logs milestones.

    Use it as the ``events`` of an :class:`~drs_orchestration.Orchestrator`
    (through an :class:`EventRelay`) and show :meth:`render` in a
    ``rich.live.Live``.

    Args:
        execution: The execution about to run (its waves and servers).
        console: Where milestones are printed.
        hostnames: Names to show next to server IDs (more are taken from the
            execution as its waves record them).
    """

    def __init__(
        self, execution: Execution, console: Console, hostnames: dict[str, str] | None = None
    ) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._console = console
        self._names = dict(hostnames or {})
        self._kind = "drill" if execution.is_drill else "recovery"
        self._progress: Progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}
        self._order: dict[str, int] = {}
        self._active: set[str] = set()
        self._servers: dict[str, tuple[str, str]] = {}
        for index, run in enumerate(execution.waves):
            self._order[run.wave_name] = index
            self._tasks[run.wave_name] = self._progress.add_task(
                run.wave_name, total=len(run.server_ids), state="waiting"
            )
            for sid in run.server_ids:
                self._servers[sid] = (run.wave_name, "NOT_STARTED")
        self.update_from(execution)

    def update_from(self, execution: Execution) -> None:
        """Take every server's status, host name and wave state from the stored execution."""
        for run in execution.waves:
            for sid, outcome in run.servers.items():
                if outcome.readiness is not None and outcome.readiness.hostname:
                    self._names.setdefault(sid, outcome.readiness.hostname)
                if outcome.status is not ServerLaunchStatus.NOT_STARTED:
                    self._servers[sid] = (run.wave_name, outcome.status.value)
            if run.status is WaveStatus.PENDING:
                continue
            if run.status.is_terminal:
                self._active.discard(run.wave_name)
            else:
                self._active.add(run.wave_name)
            state = run.status.value.lower()
            if run.config_path is not None and not run.status.is_terminal:
                state += f" ({run.config_path.value} path)"
            self._refresh_wave(run.wave_name, state=state)

    def __call__(self, event: Event) -> None:
        """Take one event."""
        if isinstance(event, ExecutionStarted):
            self._log(
                f"{self._kind} of {event.plan_name!r} started: {event.waves} waves, "
                f"{event.servers} servers"
            )
        elif isinstance(event, WaveStarted):
            self._active.add(event.wave_name)
            path = event.config_path or "no groups"
            self._update(event.wave_name, state=f"launching ({path} path)")
            self._log(f"wave {event.wave_name}: launch configurations on the {path} path")
        elif isinstance(event, JobStarted):
            self._log(
                f"wave {event.wave_name}: job {event.job_id} started "
                f"({event.servers} servers, chunk {event.chunk_index})"
            )
        elif isinstance(event, JobProgress):
            for sid, status in event.server_statuses.items():
                if sid in self._servers:
                    self._servers[sid] = (event.wave_name, status)
            self._refresh_wave(event.wave_name)
        elif isinstance(event, ServerLaunched):
            self._servers[event.source_server_id] = (event.wave_name, "LAUNCHED")
            self._refresh_wave(event.wave_name)
        elif isinstance(event, ServerFailed):
            status = "SKIPPED" if event.skipped else "FAILED"
            self._servers[event.source_server_id] = (event.wave_name, status)
            self._refresh_wave(event.wave_name)
            self._log(
                f"wave {event.wave_name}: {self._name(event.source_server_id)} "
                f"{status.lower()}: {event.reason}"
            )
        elif isinstance(event, WaveFinished):
            self._active.discard(event.wave_name)
            self._refresh_wave(event.wave_name, state=event.status.lower())
            self._log(
                f"wave {event.wave_name} {event.status.lower()}: {event.launched} launched, "
                f"{event.failed} failed, {event.skipped} skipped"
            )
        elif isinstance(event, ExecutionPaused):
            self._log(f"paused before wave {event.wave_name}")
        elif isinstance(event, ExecutionFinished):
            self._log(f"execution {event.status.lower()}")

    def server_rows(self) -> list[tuple[str, str, str]]:
        """``(wave, server, status)`` rows to show: every server, or those of active waves.

        Sorted by wave order, then host name; at most :data:`MAX_SERVER_ROWS`.
        """
        servers = sorted(
            self._servers.items(),
            key=lambda item: (
                self._order.get(item[1][0], 0),
                self._names.get(item[0], ""),
                item[0],
            ),
        )
        if len(servers) > MAX_SERVER_ROWS:
            # The waves in flight first; before any starts, the first servers in order.
            servers = [item for item in servers if item[1][0] in self._active] or servers
        return [
            (wave, self._name(sid), status) for sid, (wave, status) in servers[:MAX_SERVER_ROWS]
        ]

    def render(self) -> RenderableType:
        """The bars and a table of the servers' launch statuses."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("wave")
        table.add_column("server")
        table.add_column("status")
        rows = self.server_rows()
        for wave, name, status in rows:
            table.add_row(wave, name, Text(status, style=_STATUS_STYLE.get(status, "")))
        hidden = len(self._servers) - len(rows)
        parts: list[RenderableType] = [self._progress, table]
        if hidden > 0:
            parts.append(Text(f"... and {hidden} more servers (drs-orchestration status)", "dim"))
        return Group(*parts)

    def _name(self, sid: str) -> str:
        name = self._names.get(sid)
        return f"{name} ({sid})" if name else sid

    def _refresh_wave(self, wave: str, state: str | None = None) -> None:
        done = sum(1 for w, status in self._servers.values() if w == wave and status in _DONE)
        self._update(wave, completed=done, **({"state": state} if state else {}))

    def _update(self, wave: str, **fields: object) -> None:
        task = self._tasks.get(wave)
        if task is not None:
            self._progress.update(task, **fields)  # type: ignore[arg-type]

    def _log(self, message: str) -> None:
        self._console.log(message)


class FailbackProgress:
    """An event sink that keeps every server's failback phase and logs its milestones.

    Use it as the ``events`` of an :class:`~drs_orchestration.Orchestrator`
    (through an :class:`EventRelay`) and show :meth:`render` in a
    ``rich.live.Live``; :meth:`update_from` takes the failback as each step
    stored it.

    Args:
        failback: The failback about to be stepped.
        console: Where milestones are printed.
        hostnames: Names to show next to source server IDs.
    """

    def __init__(
        self, failback: Failback, console: Console, hostnames: dict[str, str] | None = None
    ) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console
        self._names = dict(hostnames or {})
        self._states: dict[str, FailbackState] = {}
        self._progress: Progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            console=console,
        )
        self._task = self._progress.add_task(
            "failback", total=len(failback.servers), state="waiting"
        )
        self.update_from(failback)

    def update_from(self, failback: Failback) -> None:
        """Take every server's record as stored."""
        from drs_orchestration.services.failback.requests import pending

        for state in failback.servers:
            self._states[state.source_server_id] = state
        settled = sum(not pending(s) for s in self._states.values())
        self._progress.update(
            self._task,
            total=len(self._states),
            completed=settled,
            state=failback.phase.value.lower().replace("_", " "),
        )

    def __call__(self, event: Event) -> None:
        """Take one event: the failback's milestones, and the jobs of a launch back."""
        if isinstance(event, FailbackProgressed):
            detail = f": {event.message}" if event.message else ""
            self._log(
                f"{self._name(event.source_server_id)} {event.action.replace('_', ' ')}{detail}"
            )
        elif isinstance(event, JobStarted):
            self._log(f"launch back: job {event.job_id} started ({event.servers} servers)")
        elif isinstance(event, WaveFinished):
            self._log(
                f"launch back of wave {event.wave_name} {event.status.lower()}: "
                f"{event.launched} launched, {event.failed} failed"
            )

    def render(self) -> RenderableType:
        """The bar (servers waiting for a request or ended) and each server's phase."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("wave", "server", "phase", "replication back"):
            table.add_column(column)
        states = sorted(
            self._states.values(),
            key=lambda s: (
                s.wave_name,
                self._names.get(s.source_server_id, ""),
                s.source_server_id,
            ),
        )
        for state in states[:MAX_SERVER_ROWS]:
            phase = state.phase.value
            table.add_row(
                state.wave_name,
                self._name(state.source_server_id),
                Text(phase, style=_STATUS_STYLE.get(phase, "")),
                _replication(state),
            )
        parts: list[RenderableType] = [self._progress, table]
        if len(states) > MAX_SERVER_ROWS:
            hidden = len(states) - MAX_SERVER_ROWS
            parts.append(
                Text(f"... and {hidden} more servers (drs-orchestration failback status)", "dim")
            )
        return Group(*parts)

    def _name(self, sid: str) -> str:
        name = self._names.get(sid)
        return f"{name} ({sid})" if name else sid

    def _log(self, message: str) -> None:
        self.console.log(message)


def _replication(state: FailbackState) -> str:
    """``CONTINUOUS, lag 5s``: the replication back as last read (``-`` before it started)."""
    if state.phase is FailbackPhase.NOT_STARTED or state.replication_state is None:
        return "-"
    lag = f", lag {format_duration(state.lag_seconds)}" if state.lag_seconds is not None else ""
    return f"{state.replication_state}{lag}"
