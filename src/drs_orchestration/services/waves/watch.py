"""Polls decided from the execution's header: a job that shows nothing new costs no wave read.

While a wave does nothing but wait on its running jobs, the header keeps
what the wave recorded of each (:class:`~drs_orchestration.models.JobWatch`:
status, end, how many servers in each launch status, how many recovery
instances). A step compares ``DescribeJobs`` with that: when nothing worth a
write shows, the step ends without reading the wave's record or outcomes
(most polls of a running job, about 20 per 100-server wave at a 30 s
interval). Otherwise the step reads the wave and goes on with the views it
already has.

A poll is worth a write when a job's status or end changes, or a server
reaches a final launch status (:data:`~drs_orchestration.services.waves.context.FINAL_LAUNCH`)
it is not recorded in and either every server of the job has ended or the
job's progress was last written at least the executor's progress write
interval ago (:func:`progress_due`). From counts alone that is decided on
this assumption, which DRS's documentation of ``launchStatus`` does not
state: a server's launch status never leaves ``FAILED`` or ``TERMINATED``,
and leaves ``LAUNCHED`` only for ``TERMINATED`` (an instance terminated
during the job). Then no server can reach a final status it is not recorded
in while every final status keeps its count. A step that reads the wave
decides server by server, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.errors import DrsOrchestrationError
from drs_orchestration.events import Event, JobProgress
from drs_orchestration.models import AccountContext, JobWatch, ServerLaunchStatus, WaveRun
from drs_orchestration.services.waves.context import FINAL_LAUNCH
from drs_orchestration.services.waves.monitor import JobView, ServerView, describe_jobs

__all__ = [
    "WatchedPoll",
    "job_progress",
    "launch_counts",
    "poll_watched",
    "progress_differs",
    "progress_due",
    "worth_writing",
]


def launch_counts(
    servers: Iterable[ServerView],
) -> tuple[dict[ServerLaunchStatus, int], int]:
    """How many of ``servers`` are in each launch status, and how many have a recovery instance."""
    statuses: dict[ServerLaunchStatus, int] = {}
    instances = 0
    for server in servers:
        statuses[server.launch_status] = statuses.get(server.launch_status, 0) + 1
        instances += server.recovery_instance_id is not None
    return statuses, instances


def progress_differs(
    watch: JobWatch, statuses: Mapping[ServerLaunchStatus, int], instances: int
) -> bool:
    """Whether DRS's counts of a job's servers differ from what the wave recorded."""
    recorded = {status: n for status, n in watch.launch_statuses.items() if n}
    return dict(statuses) != recorded or instances != watch.recovery_instances


def progress_due(recorded_at: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Whether servers newly at a final launch status are written now, while their job runs.

    The first time at once, then once ``interval`` has passed since the last
    such write. A clock that stepped back defers the write until the job's
    last server ends, which is always written.
    """
    return recorded_at is None or now - recorded_at >= interval


def worth_writing(
    watch: JobWatch, view: JobView, now: datetime, progress_write_interval: timedelta
) -> bool:
    """Whether DRS's view of a job holds what a step writes, judged from counts alone.

    The job's status or end changed, its servers are not those recorded, or
    a final launch status's count changed (see the module's assumption) and
    either every server has ended or the progress write is due
    (:func:`progress_due`).
    """
    if view.status is not watch.status or (
        view.ended_at is not None and view.ended_at != watch.ended_at
    ):
        return True
    statuses, _ = launch_counts(view.servers.values())
    total = sum(statuses.values())
    if total != sum(watch.launch_statuses.values()):
        return True  # not the servers the wave recorded for the job: read the wave
    if not any(statuses.get(s, 0) != watch.launch_statuses.get(s, 0) for s in FINAL_LAUNCH):
        return False
    ended = sum(statuses.get(s, 0) for s in FINAL_LAUNCH)
    return ended == total or progress_due(watch.progress_recorded_at, now, progress_write_interval)


def job_progress(execution_id: str, wave_name: str, view: JobView, at: datetime) -> JobProgress:
    """The event reporting what DRS shows of a job."""
    return JobProgress(
        execution_id=execution_id,
        wave_name=wave_name,
        job_id=view.job_id,
        status=view.status.value,
        launch_status_counts=view.launch_status_counts(),
        server_statuses={s: v.launch_status.value for s, v in view.servers.items()},
        at=at,
    )


@dataclass
class WatchedPoll:
    """What DRS showed of the watched jobs of the waves a step works on.

    Attributes:
        quiet: Nothing is worth a write: the step ends here.
        views: Each watched job as ``DescribeJobs`` showed it (the step reads
            the wave and uses these when not ``quiet``).
        errors: The error ``DescribeJobs`` failed with, by the job IDs it was
            asked for: the step records it rather than asking again.
        events: Progress to report when ``quiet``.
    """

    quiet: bool
    views: dict[str, JobView] = field(default_factory=dict)
    errors: dict[str, DrsOrchestrationError] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


def poll_watched(
    execution_id: str,
    runs: Sequence[WaveRun],
    now: datetime,
    gateway: Callable[[str, AccountContext | None], DrsGateway],
    *,
    progress_write_interval: timedelta = timedelta(0),
) -> WatchedPoll | None:
    """Poll the watched jobs of ``runs`` from their header summaries.

    Returns ``None`` when a step must read the waves anyway: a wave whose
    jobs are not watched (it has more to do than wait), or past its
    deadline. Not quiet: a job worth a write, a job DRS did not return, or
    ``DescribeJobs`` failing (the step records the error as it records any).
    """
    found = WatchedPoll(quiet=True)
    for run in runs:
        summary = run.summary
        if not summary.watched_jobs or summary.deadline is None or now >= summary.deadline:
            return None
    for run in runs:
        job_ids = [w.job_id for w in run.summary.watched_jobs]
        try:
            views = describe_jobs(gateway(run.region, run.account), job_ids)
        except DrsOrchestrationError as error:
            found.quiet = False
            found.errors.update(dict.fromkeys(job_ids, error))
            continue
        for watch in run.summary.watched_jobs:
            view = views.get(watch.job_id)
            if view is None:
                found.quiet = False  # the step reports it
                continue
            found.views[watch.job_id] = view
            if worth_writing(watch, view, now, progress_write_interval):
                found.quiet = False
            elif progress_differs(watch, *launch_counts(view.servers.values())):
                found.events.append(job_progress(execution_id, run.wave_name, view, now))
    return found
