"""Data replication as a function of time: states, lag, snapshots, and what a launch can use.

Replication is derived lazily from a :class:`~drs_orchestration.testing.state.Replication`
record and the clock, so nothing has to tick: a server in ``INITIAL_SYNC``
shows its replicated bytes growing and its lag shrinking as simulated time
passes, and reaches ``CONTINUOUS`` when its catch-up time is over (unless
it is stuck).

What AWS documents, and what the simulator assumes where it does not:

- Point-in-time snapshots. Documented (DRS user guide, replication settings):
  the default PIT policy keeps a snapshot every 10 minutes for the last hour,
  hourly for the last day and daily for the last week. Assumed: snapshots are
  taken only while replication is ``CONTINUOUS`` (data flows up to date); when
  it stops flowing (``STALLED``, ``PAUSED``, lagging...) no new snapshot is
  taken and none is pruned, so a stalled server keeps the snapshots it had
  when it stalled and its latest one is from before the stall.
- Servers that lose their snapshots. Documented (model documentation of
  ``StopReplication``): stopping replication deletes the server's existing
  snapshots; ``DisconnectSourceServer`` deletes the replication resources.
  So a ``STOPPED`` or ``DISCONNECTED`` server has no recovery snapshot.
- What ``StartRecovery`` launches from. Documented (model documentation of
  ``StartRecoveryRequestSourceServer.recoverySnapshotID``): a named snapshot,
  or, without one, "the latest data by taking an on-demand snapshot".
  Assumed, since DRS documents no list of states that block a launch: a
  server is launchable, as a drill or a recovery alike, when it is not
  ``STOPPED`` or ``DISCONNECTED`` and either replicates ``CONTINUOUS`` (an
  on-demand snapshot is taken) or has a recovery snapshot (a server whose data
  no longer flows — ``STALLED``, ``PAUSED``, ``BACKLOG``, ``RESCAN``,
  ``CREATING_SNAPSHOT``, or a re-syncing one — launches from its latest
  snapshot, logging ``USING_PREVIOUS_SNAPSHOT``). A server with neither
  (``INITIATING``/``INITIAL_SYNC`` before its first snapshot) is refused with
  ``ConflictException``, the only state error ``StartRecovery`` models.
- Seeding. A server seeded in ``BACKLOG``, ``RESCAN``, ``CREATING_SNAPSHOT``,
  ``PAUSED`` or ``STALLED`` is taken to have replicated continuously from
  ``replicating_since`` until it was added (those states follow a completed
  initial sync); one seeded ``INITIATING``/``INITIAL_SYNC``/``STOPPED``/
  ``DISCONNECTED`` has no snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from drs_orchestration.testing.service import stable_id
from drs_orchestration.testing.state import RecoverySnapshot, Replication, SourceServer

__all__ = [
    "NO_SNAPSHOT_STATES",
    "PROGRESSING",
    "STOPPED_STATES",
    "ReplicationView",
    "change_replication",
    "continuous_periods",
    "continuous_since",
    "current_state",
    "latest_snapshot",
    "point_in_time_snapshots",
    "replication_view",
]

PROGRESSING = frozenset({"INITIATING", "INITIAL_SYNC", "BACKLOG", "CREATING_SNAPSHOT", "RESCAN"})
"""States that move on to ``CONTINUOUS`` by themselves (unless stuck)."""

STOPPED_STATES = frozenset({"STOPPED", "PAUSED", "STALLED", "DISCONNECTED"})
"""States in which no data flows, so the lag grows with time."""

NO_SNAPSHOT_STATES = frozenset({"STOPPED", "DISCONNECTED"})
"""States whose replication resources and snapshots are gone: nothing to launch from."""

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
        # The agent is not seen: last seen stays when the state began, the lag grows.
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


def continuous_since(replication: Replication) -> datetime | None:
    """When ``replication`` is (or will be) continuous: ``None`` if it never gets there."""
    if replication.state == "CONTINUOUS":
        return replication.since
    if replication.state in PROGRESSING and not replication.stuck:
        return replication.since + timedelta(seconds=replication.catch_up_seconds)
    return None


def continuous_periods(server: SourceServer, now: datetime) -> list[tuple[datetime, datetime]]:
    """The periods up to ``now`` in which the server replicated continuously, oldest first."""
    periods = list(server.continuous_history)
    start = continuous_since(server.replication)
    if start is not None and start <= now:
        periods.append((start, now))
    return periods


def change_replication(server: SourceServer, replication: Replication, now: datetime) -> None:
    """Replace the server's replication from ``now`` on, keeping the history snapshots need.

    The continuous period of the replication being replaced ends at ``now``. A
    server that goes ``STOPPED`` or ``DISCONNECTED`` loses every snapshot.
    """
    start = continuous_since(server.replication)
    if start is not None and start < now:
        server.continuous_history.append((start, now))
    if replication.state in NO_SNAPSHOT_STATES:
        server.continuous_history.clear()
        server.snapshots.clear()
    server.replication = replication


def point_in_time_snapshots(server: SourceServer, now: datetime) -> list[RecoverySnapshot]:
    """The server's recovery snapshots at ``now``, oldest first.

    The regular schedule follows DRS's retention policy, counted back from the
    last moment data flowed (``now`` while it still does), and covers only the
    periods of continuous replication; IDs are derived from the server and the
    snapshot time, so they stay the same across calls. Explicitly seeded
    snapshots are added. A ``STOPPED`` or ``DISCONNECTED`` server has none.
    """
    if current_state(server.replication, now) in NO_SNAPSHOT_STATES:
        return []
    periods = continuous_periods(server, now)
    snapshots: list[RecoverySnapshot] = []
    if periods:
        anchor = max(end for _, end in periods)
        for mark in _schedule(anchor):
            snapshot = RecoverySnapshot(
                snapshot_id=stable_id("pit-", server.server_id, mark.isoformat()),
                expected=mark,
                taken=mark + timedelta(seconds=2 + _offset_seconds(server.server_id, mark)),
            )
            if any(start <= mark and snapshot.taken <= end for start, end in periods):
                snapshots.append(snapshot)
    snapshots.extend(server.snapshots)
    snapshots = [s for s in snapshots if s.taken <= now]
    snapshots.sort(key=lambda s: s.taken)
    return snapshots


def latest_snapshot(server: SourceServer, now: datetime) -> RecoverySnapshot | None:
    """The server's most recent recovery snapshot at ``now`` (``None``: it has none)."""
    snapshots = point_in_time_snapshots(server, now)
    return snapshots[-1] if snapshots else None


def _schedule(anchor: datetime) -> set[datetime]:
    """The snapshot times the retention policy keeps, counted back from ``anchor``."""
    marks: set[datetime] = set()
    epoch_seconds = int(anchor.timestamp())
    for window, every in _PIT_RETENTION:
        step_seconds = int(every.total_seconds())
        earliest = anchor - window
        latest = epoch_seconds - epoch_seconds % step_seconds
        mark = datetime.fromtimestamp(latest, tz=anchor.tzinfo)
        while mark > earliest:
            marks.add(mark)
            mark -= every
    return marks


def _offset_seconds(server_id: str, mark: datetime) -> int:
    """A stable 0-9 s offset between a snapshot's expected and actual time."""
    return int(stable_id("", server_id, mark.isoformat(), length=2, alphabet="0123456789")) % 10
