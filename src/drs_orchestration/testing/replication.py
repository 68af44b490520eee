"""Data replication as a function of time: states, lag, progress and point-in-time snapshots.

Replication is derived lazily from a :class:`~drs_orchestration.testing.state.Replication`
record and the clock, so nothing has to tick: a server in ``INITIAL_SYNC``
shows its replicated bytes growing and its lag shrinking as simulated time
passes, and reaches ``CONTINUOUS`` when its catch-up time is over (unless
it is stuck).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from drs_orchestration.testing.service import stable_id
from drs_orchestration.testing.state import RecoverySnapshot, Replication, SourceServer

__all__ = [
    "PROGRESSING",
    "STOPPED_STATES",
    "ReplicationView",
    "point_in_time_snapshots",
    "replication_view",
]

PROGRESSING = frozenset({"INITIATING", "INITIAL_SYNC", "BACKLOG", "CREATING_SNAPSHOT", "RESCAN"})
"""States that move on to ``CONTINUOUS`` by themselves (unless stuck)."""

STOPPED_STATES = frozenset({"STOPPED", "PAUSED", "STALLED", "DISCONNECTED"})
"""States in which no data flows, so the lag grows with time."""

_INITIATING_SHARE = 0.1
"""Share of the catch-up time spent ``INITIATING`` before data starts to flow."""

_PIT_RETENTION = (
    (timedelta(hours=1), timedelta(minutes=10)),
    (timedelta(hours=24), timedelta(hours=1)),
    (timedelta(days=7), timedelta(days=1)),
)
"""DRS's point-in-time policy: every 10 min for an hour, hourly for a day, daily for a week."""


@dataclass(frozen=True)
class ReplicationView:
    """What replication looks like at one moment."""

    state: str
    lag_seconds: float | None
    progress: float
    eta: datetime | None
    first_byte_at: datetime | None
    last_seen: datetime


def current_state(replication: Replication, now: datetime) -> str:
    """The state now: a progressing state becomes ``CONTINUOUS`` once it has caught up."""
    if replication.state in PROGRESSING and not replication.stuck:
        done = replication.since + timedelta(seconds=replication.catch_up_seconds)
        if now >= done:
            return "CONTINUOUS"
        if replication.state == "INITIATING":
            started = replication.since + timedelta(
                seconds=replication.catch_up_seconds * _INITIATING_SHARE
            )
            if now >= started:
                return "INITIAL_SYNC"
    return replication.state


def replication_view(replication: Replication, now: datetime) -> ReplicationView:
    """Derive state, lag, progress and ETA of ``replication`` at ``now``."""
    state = current_state(replication, now)
    since = replication.since
    elapsed = max((now - since).total_seconds(), 0.0)
    catch_up = max(replication.catch_up_seconds, 1.0)
    if state == "CONTINUOUS":
        return ReplicationView(state, replication.lag_seconds, 1.0, None, since, now)
    if state in STOPPED_STATES:
        return ReplicationView(state, replication.lag_seconds + elapsed, 1.0, None, since, since)
    if replication.stuck:
        # Stuck mid-sync: progress and lag stop where they were when it got stuck.
        return ReplicationView(state, replication.lag_seconds + elapsed, 0.5, None, since, now)
    progress = min(elapsed / catch_up, 1.0)
    eta = since + timedelta(seconds=catch_up)
    lag = max(replication.lag_seconds, (eta - now).total_seconds())
    first_byte = since + timedelta(seconds=catch_up * _INITIATING_SHARE)
    return ReplicationView(
        state, lag, progress, eta, first_byte if now >= first_byte else None, now
    )


def point_in_time_snapshots(
    server: SourceServer, now: datetime, *, since: datetime | None = None
) -> list[RecoverySnapshot]:
    """The server's recovery snapshots at ``now``, oldest first.

    The regular schedule follows DRS's retention policy and only covers time
    after the server first reached continuous replication; IDs are derived
    from the server and the snapshot time, so they stay the same across calls.
    Explicitly seeded snapshots are added.
    """
    start = since or server.added_at
    marks: set[datetime] = set()
    for window, every in _PIT_RETENTION:
        step_seconds = int(every.total_seconds())
        earliest = now - window
        epoch_seconds = int(now.timestamp())
        mark_seconds = epoch_seconds - epoch_seconds % step_seconds
        mark = datetime.fromtimestamp(mark_seconds, tz=now.tzinfo)
        while mark > earliest and mark >= start:
            marks.add(mark)
            mark -= every
    snapshots = [
        RecoverySnapshot(
            snapshot_id=stable_id("pit-", server.server_id, mark.isoformat()),
            expected=mark,
            taken=mark + timedelta(seconds=2 + _offset_seconds(server.server_id, mark)),
        )
        for mark in marks
    ]
    snapshots.extend(server.snapshots)
    snapshots = [s for s in snapshots if s.taken <= now]
    snapshots.sort(key=lambda s: s.taken)
    return snapshots


def _offset_seconds(server_id: str, mark: datetime) -> int:
    """A stable 0-9 s offset between a snapshot's expected and actual time."""
    return int(stable_id("", server_id, mark.isoformat(), length=2, alphabet="0123456789")) % 10
