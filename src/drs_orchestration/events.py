"""Typed progress events.

Services accept an *event sink*: any callable taking an :class:`Event`.
The CLI turns events into progress bars; a Lambda can turn them into
structured logs or metrics. A sink that raises never breaks an operation:
:func:`emit` logs the failure and carries on.

Every event's ``at`` is read from the emitting service's injected clock
(the simulator's clock in tests), so events and stored records agree on
time; it must be timezone-aware.

Threads: a sink may be called from a worker thread of the service that
emits (the recovery-instance cache reports a failed account and region
from the worker that synced it), so a sink that keeps state must be
thread-safe — ``list.append`` is. ``LaunchConfigService.apply_to_group``
emits only from the caller's thread. No service calls the sink after the
method that emitted has returned.

Examples:
    >>> seen: list[Event] = []
    >>> orchestrator = Orchestrator(events=seen.append)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from drs_orchestration.models.base import check_aware

__all__ = [
    "CacheSyncFailed",
    "CacheSynced",
    "ConfigApplied",
    "DriftDetected",
    "Event",
    "EventSink",
    "ExecutionFinished",
    "ExecutionPaused",
    "ExecutionStarted",
    "FailbackProgressed",
    "InstancesMatched",
    "InstancesPaired",
    "InstancesTerminated",
    "InstancesUnpaired",
    "JobAdopted",
    "JobProgress",
    "JobStarted",
    "ServerConfigApplied",
    "ServerFailed",
    "ServerLaunched",
    "WaveFinished",
    "WaveStarted",
    "emit",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event; ``kind`` names the event type, ``at`` is when it happened.

    ``at`` has no default: it comes from the emitting service's clock, never
    from the host's wall time behind that clock's back.

    Raises:
        ValidationError: if ``at`` is not a timezone-aware datetime.
    """

    kind: ClassVar[str] = "event"
    at: datetime

    def __post_init__(self) -> None:
        check_aware(self.at, "at")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form with the event ``kind`` (datetimes as ISO strings)."""
        data = {
            k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()
        }
        return {"kind": self.kind, **data}


EventSink = Callable[[Event], None]
"""Anything that accepts an event: ``list.append``, a logger adapter, a metrics publisher."""


def emit(sink: EventSink | None, event: Event) -> None:
    """Send ``event`` to ``sink`` if there is one; a failing sink is logged, never raised."""
    if sink is None:
        return
    try:
        sink(event)
    except Exception:
        logger.exception("event sink failed", extra={"eventKind": event.kind})


@dataclass(frozen=True, kw_only=True)
class ServerConfigApplied(Event):
    """One server's launch configuration was applied (or failed to apply)."""

    kind: ClassVar[str] = "server_config_applied"
    group_id: str
    source_server_id: str
    status: str
    config_hash: str | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ConfigApplied(Event):
    """A group's launch configurations were applied; ``status`` is the overall result."""

    kind: ClassVar[str] = "config_applied"
    group_id: str
    status: str
    applied: int
    failed: int
    pending: int
    duration_s: float


@dataclass(frozen=True, kw_only=True)
class DriftDetected(Event):
    """Servers whose launch configuration differs from what the group wants."""

    kind: ClassVar[str] = "drift_detected"
    group_id: str
    source_server_ids: tuple[str, ...]
    remote: bool = False


@dataclass(frozen=True, kw_only=True)
class ExecutionStarted(Event):
    """An execution of a recovery plan started."""

    kind: ClassVar[str] = "execution_started"
    execution_id: str
    plan_id: str
    plan_name: str
    execution_type: str
    waves: int
    servers: int


@dataclass(frozen=True, kw_only=True)
class WaveStarted(Event):
    """A wave started; ``config_path`` says whether configurations were already in place."""

    kind: ClassVar[str] = "wave_started"
    execution_id: str
    wave_name: str
    servers: int
    config_path: str | None = None


@dataclass(frozen=True, kw_only=True)
class JobStarted(Event):
    """A DRS recovery job started for one chunk of a wave."""

    kind: ClassVar[str] = "job_started"
    execution_id: str
    wave_name: str
    chunk_index: int
    job_id: str
    servers: int


@dataclass(frozen=True, kw_only=True)
class JobAdopted(Event):
    """A DRS job carrying an execution's tags that its chunk had not recorded.

    It happens when a ``StartRecovery`` outlived its claim or its answer was
    lost; the job is recorded (followed and terminable) and this says so.
    ``duplicate`` is true when the chunk already had a job: DRS launched its
    servers twice.
    """

    kind: ClassVar[str] = "job_adopted"
    execution_id: str
    wave_name: str
    chunk_index: int
    job_id: str
    servers: int
    duplicate: bool


@dataclass(frozen=True, kw_only=True)
class JobProgress(Event):
    """A poll of a DRS job: its status and how many servers are in each launch status."""

    kind: ClassVar[str] = "job_progress"
    execution_id: str
    wave_name: str
    job_id: str
    status: str
    launch_status_counts: dict[str, int]
    server_statuses: dict[str, str] = field(default_factory=dict)
    """Each participating server's ``launchStatus``."""


@dataclass(frozen=True, kw_only=True)
class ServerLaunched(Event):
    """A source server's recovery instance launched."""

    kind: ClassVar[str] = "server_launched"
    execution_id: str
    wave_name: str
    source_server_id: str
    recovery_instance_id: str | None
    ec2_instance_id: str | None
    duration_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class ServerFailed(Event):
    """A source server failed to launch (or was skipped as not ready: ``skipped``)."""

    kind: ClassVar[str] = "server_failed"
    execution_id: str
    wave_name: str
    source_server_id: str
    reason: str
    skipped: bool = False


@dataclass(frozen=True, kw_only=True)
class WaveFinished(Event):
    """A wave ended; ``status`` is COMPLETED, PARTIAL, FAILED, CANCELLED or SKIPPED."""

    kind: ClassVar[str] = "wave_finished"
    execution_id: str
    wave_name: str
    status: str
    launched: int
    failed: int
    duration_s: float | None
    skipped: int = 0
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionFinished(Event):
    """An execution reached a terminal status."""

    kind: ClassVar[str] = "execution_finished"
    execution_id: str
    status: str
    duration_s: float | None
    recovery_time_s: float | None = None
    """From the start to the last server launched (the drill's RTO)."""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionPaused(Event):
    """An execution paused before a wave (``pause_before``); ``resume`` continues it."""

    kind: ClassVar[str] = "execution_paused"
    execution_id: str
    wave_name: str


@dataclass(frozen=True, kw_only=True)
class CacheSynced(Event):
    """A recovery-instance cache sync finished (``errors`` names the failed targets).

    ``scope`` is ``"all"`` for a full sync and ``"servers"`` for the narrow
    sync of some source servers after a wave.
    """

    kind: ClassVar[str] = "cache_synced"
    instances: int
    targets: int
    errors: tuple[str, ...] = ()
    duration_s: float = 0.0
    scope: str = "all"


@dataclass(frozen=True, kw_only=True)
class CacheSyncFailed(Event):
    """Syncing one account and region into the cache failed; its cached records were kept."""

    kind: ClassVar[str] = "cache_sync_failed"
    region: str
    account_id: str | None
    error_code: str
    message: str
    source_server_ids: tuple[str, ...] = ()
    scope: str = "all"


@dataclass(frozen=True, kw_only=True)
class InstancesTerminated(Event):
    """An execution's recovery instances were terminated (or, on a dry run, listed)."""

    kind: ClassVar[str] = "instances_terminated"
    execution_id: str
    dry_run: bool
    terminated: int
    failed: int
    skipped: int
    already_gone: int
    would_terminate: int = 0


@dataclass(frozen=True, kw_only=True)
class InstancesMatched(Event):
    """Source servers were matched with existing instances (nothing written yet).

    ``ambiguous`` counts the source servers left in ambiguous groups.
    """

    kind: ClassVar[str] = "instances_matched"
    group_id: str | None
    region: str
    account_id: str | None
    pairs: int
    failed_pairs: int
    ambiguous: int
    unmatched_sources: int
    unmatched_targets: int


@dataclass(frozen=True, kw_only=True)
class InstancesPaired(Event):
    """Instance pairs were stored and written to a group's launch settings."""

    kind: ClassVar[str] = "instances_paired"
    group_id: str
    paired: int
    skipped: int
    tagged: int = 0


@dataclass(frozen=True, kw_only=True)
class InstancesUnpaired(Event):
    """Servers of a group stopped launching into existing instances; their pairs were deleted."""

    kind: ClassVar[str] = "instances_unpaired"
    group_id: str
    source_server_ids: tuple[str, ...]
    pairs_deleted: int


@dataclass(frozen=True, kw_only=True)
class FailbackProgressed(Event):
    """One server's failback moved on: a phase reached, or a step done or failed.

    ``action`` names what happened (``reverse_started``, ``ready``,
    ``launch_started``, ``failed_back``, ``reprotected``, ``replication_stopped``,
    ``terminated``, ``failed``...).
    """

    kind: ClassVar[str] = "failback_progressed"
    execution_id: str
    source_server_id: str
    recovery_instance_id: str
    phase: str
    action: str
    message: str | None = None
