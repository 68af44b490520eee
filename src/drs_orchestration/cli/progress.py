"""Live progress of an execution in the terminal, driven by the library's events."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drs_orchestration.events import (
    Event,
    ExecutionFinished,
    ExecutionPaused,
    ExecutionStarted,
    JobProgress,
    JobStarted,
    ServerFailed,
    ServerLaunched,
    WaveFinished,
    WaveStarted,
)
from drs_orchestration.models import Execution

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, TaskID

__all__ = ["LiveProgress"]

_STATUS_STYLE = {
    "LAUNCHED": "green",
    "FAILED": "red",
    "SKIPPED": "yellow",
    "IN_PROGRESS": "cyan",
    "PENDING": "dim",
    "NOT_STARTED": "dim",
}


class LiveProgress:
    """An event sink that keeps per-wave bars and per-server statuses, and logs milestones.

    Use it as the ``events`` of an :class:`~drs_orchestration.Orchestrator`
    and show :meth:`render` in a ``rich.live.Live``.

    Args:
        execution: The execution about to run (its waves and servers).
        console: Where milestones are printed.
        hostnames: Names to show next to server IDs.
    """

    def __init__(
        self, execution: Execution, console: Console, hostnames: dict[str, str] | None = None
    ) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._console = console
        self._names = hostnames or {}
        self._progress: Progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}
        self._servers: dict[str, tuple[str, str]] = {}
        for run in execution.waves:
            self._tasks[run.wave_name] = self._progress.add_task(
                run.wave_name, total=len(run.server_ids), state="waiting"
            )
            for sid in sorted(run.server_ids, key=lambda s: (self._names.get(s, ""), s)):
                self._servers[sid] = (run.wave_name, "NOT_STARTED")

    def __call__(self, event: Event) -> None:
        """Take one event."""
        if isinstance(event, ExecutionStarted):
            self._log(
                f"drill of {event.plan_name!r} started: {event.waves} waves, "
                f"{event.servers} servers"
            )
        elif isinstance(event, WaveStarted):
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
            self._refresh_wave(event.wave_name, state=event.status.lower())
            self._log(
                f"wave {event.wave_name} {event.status.lower()}: {event.launched} launched, "
                f"{event.failed} failed, {event.skipped} skipped"
            )
        elif isinstance(event, ExecutionPaused):
            self._log(f"paused before wave {event.wave_name}")
        elif isinstance(event, ExecutionFinished):
            self._log(f"execution {event.status.lower()}")

    def render(self) -> RenderableType:
        """The bars and a table of every server's launch status."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("wave")
        table.add_column("server")
        table.add_column("status")
        for sid, (wave, status) in self._servers.items():
            table.add_row(wave, self._name(sid), Text(status, style=_STATUS_STYLE.get(status, "")))
        return Group(self._progress, table)

    def _name(self, sid: str) -> str:
        name = self._names.get(sid)
        return f"{name} ({sid})" if name else sid

    def _refresh_wave(self, wave: str, state: str | None = None) -> None:
        done = sum(
            1
            for w, status in self._servers.values()
            if w == wave and status in ("LAUNCHED", "FAILED", "SKIPPED")
        )
        self._update(wave, completed=done, **({"state": state} if state else {}))

    def _update(self, wave: str, **fields: object) -> None:
        task = self._tasks.get(wave)
        if task is not None:
            self._progress.update(task, **fields)  # type: ignore[arg-type]

    def _log(self, message: str) -> None:
        self._console.log(message)
