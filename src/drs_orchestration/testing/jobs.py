"""Jobs as declared transitions on the simulated clock.

When a job is created, its whole schedule is drawn at once (durations from
:class:`JobTimings`, varied per server by the simulator's seeded RNG) and
pushed as :class:`Transition` records. Before every request and on
``advance``, the simulator applies every transition due up to "now", in
time order, each stamped with its own scheduled time — so job logs carry
realistic spacing however late they are observed.

A launch job, per server::

    JOB_START → SNAPSHOT_START → SNAPSHOT_END → CONVERSION_START → CONVERSION_END
              → LAUNCH_START → (LAUNCHED | LAUNCH_FAILED) → … → JOB_END

(``USING_PREVIOUS_SNAPSHOT`` replaces the snapshot steps when the launch
uses an existing recovery snapshot: a named one, or the latest one of a
server whose data no longer flows; see
:mod:`drs_orchestration.testing.operations.jobs`). Job status goes
PENDING → STARTED → COMPLETED, and a COMPLETED job may hold FAILED servers. A terminate job logs
``CLEANUP_START``/``CLEANUP_END`` per server.

A participating server's ``launchStatus`` goes PENDING → IN_PROGRESS → LAUNCHED or
FAILED and never leaves LAUNCHED or FAILED within its job. AWS documents the values
(``LaunchStatus`` in the DRS API reference), not their order: the order is our
assumption, the one the library's polls decided from an execution's header rely on
(:mod:`drs_orchestration.services.waves.watch`, which also allows LAUNCHED →
TERMINATED).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from drs_orchestration.testing.ec2 import Ec2LaunchError
from drs_orchestration.testing.events import LAUNCH_RESULT
from drs_orchestration.testing.launch import launch_recovery_instance
from drs_orchestration.testing.service import arn
from drs_orchestration.testing.state import (
    Job,
    JobLogItem,
    ParticipatingServer,
    RecoveryInstance,
    RegionState,
)

if TYPE_CHECKING:
    from drs_orchestration.testing.simulator import DrsSimulator

__all__ = ["JobEngine", "JobTimings", "Transition"]

logger = logging.getLogger(__name__)

Duration = float | tuple[float, float]
"""Seconds, fixed or drawn uniformly from a (low, high) range per server."""

Step = Literal[
    "JOB_START",
    "SNAPSHOT_START",
    "USING_PREVIOUS_SNAPSHOT",
    "SNAPSHOT_END",
    "CONVERSION_START",
    "CONVERSION_END",
    "LAUNCH_START",
    "LAUNCH_END",
    "FAILBACK_LAUNCH_START",
    "FAILBACK_LAUNCH_END",
    "CLEANUP_START",
    "CLEANUP_END",
    "JOB_END",
]


@dataclass
class JobTimings:
    """How long things take, in simulated seconds (ranges vary per server).

    Defaults follow what DRS drills take: a snapshot in about half a minute,
    conversion in two to four minutes, the launch in one to two.
    """

    job_start: Duration = 5.0
    snapshot: Duration = (25.0, 35.0)
    conversion: Duration = (120.0, 240.0)
    launch: Duration = (60.0, 120.0)
    job_end: Duration = 5.0
    server_stagger: float = 1.0
    terminate: Duration = (20.0, 40.0)
    failback_launch: Duration = (60.0, 120.0)
    replication_catch_up: float = 900.0
    """How long a server in a progressing replication state takes to reach CONTINUOUS."""
    reverse_replication: float = 600.0
    """How long reverse replication takes to reach CONTINUOUS (failback ready)."""

    def draw(self, duration: Duration, rng: random.Random) -> timedelta:
        """A concrete duration (a draw when ``duration`` is a range)."""
        seconds = rng.uniform(*duration) if isinstance(duration, tuple) else duration
        return timedelta(seconds=seconds)


@dataclass(order=True)
class Transition:
    """One scheduled step of one job (and maybe one of its servers)."""

    at: datetime
    seq: int
    step: Step = field(compare=False)
    account_id: str = field(compare=False)
    region: str = field(compare=False)
    job_id: str = field(compare=False)
    server_id: str | None = field(default=None, compare=False)


class JobEngine:
    """Schedules job transitions and applies them when they fall due."""

    def __init__(self, sim: DrsSimulator) -> None:
        self._sim = sim
        self._heap: list[Transition] = []
        self._seq = itertools.count()

    @property
    def pending(self) -> int:
        """How many transitions are still to come."""
        return len(self._heap)

    def next_due(self) -> datetime | None:
        """When the next transition falls due (``None``: nothing scheduled)."""
        return self._heap[0].at if self._heap else None

    def _push(self, at: datetime, step: Step, job: Job, server_id: str | None = None) -> None:
        heapq.heappush(
            self._heap,
            Transition(
                at, next(self._seq), step, job.account_id, job.region, job.job_id, server_id
            ),
        )

    def run_due(self, now: datetime) -> int:
        """Apply every transition due at or before ``now``; return how many ran."""
        ran = 0
        while self._heap and self._heap[0].at <= now:
            transition = heapq.heappop(self._heap)
            self._apply(transition)
            ran += 1
        return ran

    # -- planning ----------------------------------------------------------------------

    def plan_launch(self, job: Job) -> None:
        """Schedule a drill or recovery job."""
        timings = self._sim.timings

        def phases(entry: ParticipatingServer) -> list[tuple[Step, Duration]]:
            steps: list[tuple[Step, Duration]] = (
                [("USING_PREVIOUS_SNAPSHOT", 0.0)]
                if entry.snapshot_id
                else [("SNAPSHOT_START", 0.0), ("SNAPSHOT_END", timings.snapshot)]
            )
            if self._converts(job, entry.source_server_id):
                steps += [("CONVERSION_START", 1.0), ("CONVERSION_END", timings.conversion)]
            return [*steps, ("LAUNCH_START", 1.0), ("LAUNCH_END", timings.launch)]

        self._plan(job, phases)

    def _converts(self, job: Job, server_id: str) -> bool:
        # Recovery mode FAST skips conversion (per the model's RecoveryMode documentation).
        server = self._sim.region_state(job.account_id, job.region).servers.get(server_id)
        return server is None or server.launch_config.get("recoveryMode") != "FAST"

    def plan_terminate(self, job: Job) -> None:
        """Schedule a job terminating recovery instances."""
        duration = self._sim.timings.terminate
        self._plan(job, lambda _: [("CLEANUP_START", 0.0), ("CLEANUP_END", duration)])

    def plan_failback(self, job: Job) -> None:
        """Schedule a failback launch job."""
        duration = self._sim.timings.failback_launch
        self._plan(
            job, lambda _: [("FAILBACK_LAUNCH_START", 0.0), ("FAILBACK_LAUNCH_END", duration)]
        )

    def _plan(
        self, job: Job, phases: Callable[[ParticipatingServer], list[tuple[Step, Duration]]]
    ) -> None:
        """Push a job's transitions: JOB_START, each server's steps, JOB_END after the last.

        ``phases`` gives each server's steps with the time to wait *before* each one;
        servers start staggered by ``server_stagger``.
        """
        timings, rng = self._sim.timings, self._sim.rng
        start = job.created_at + timings.draw(timings.job_start, rng)
        self._push(start, "JOB_START", job)
        last = start
        for index, entry in enumerate(job.servers):
            at = start + timedelta(seconds=index * timings.server_stagger)
            for step, wait in phases(entry):
                at += timings.draw(wait, rng)
                self._push(at, step, job, entry.source_server_id)
            last = max(last, at)
        self._push(last + timings.draw(timings.job_end, rng), "JOB_END", job)

    # -- applying ----------------------------------------------------------------------

    def _apply(self, transition: Transition) -> None:
        state = self._sim.region_state(transition.account_id, transition.region)
        job = state.jobs.get(transition.job_id)
        if job is None:
            return  # deleted meanwhile
        at, step = transition.at, transition.step
        if step == "JOB_START":
            job.status = "STARTED"
            job.log.append(JobLogItem(at, "JOB_START"))
            return
        if step == "JOB_END":
            job.status = "COMPLETED"
            job.ended_at = at
            job.log.append(JobLogItem(at, "JOB_END"))
            return
        assert transition.server_id is not None
        entry = job.server(transition.server_id)
        data = {"sourceServerID": entry.source_server_id}
        if step in ("SNAPSHOT_START", "USING_PREVIOUS_SNAPSHOT"):
            entry.launch_status = "IN_PROGRESS"
            self._set_last_launch(state, entry, "IN_PROGRESS", job)
            job.log.append(JobLogItem(at, step, data))
        elif step == "SNAPSHOT_END":
            entry.point_in_time = at
            job.log.append(JobLogItem(at, step, data))
        elif step in ("CONVERSION_START", "CONVERSION_END"):
            if entry.conversion_server_id is None:
                entry.conversion_server_id = self._sim.ids.instance()
            job.log.append(
                JobLogItem(at, step, {**data, "conversionServerID": entry.conversion_server_id})
            )
        elif step == "LAUNCH_START":
            self._launch_start(state, job, entry, at)
        elif step == "LAUNCH_END":
            self._launch_end(state, job, entry, at)
        elif step in ("CLEANUP_START", "FAILBACK_LAUNCH_START"):
            entry.launch_status = "IN_PROGRESS"
            event = "CLEANUP_START" if step == "CLEANUP_START" else "LAUNCH_START"
            if entry.recovery_instance_id:
                data["targetInstanceID"] = entry.recovery_instance_id
            job.log.append(JobLogItem(at, event, data))
        elif step == "CLEANUP_END":
            self._cleanup_end(state, job, entry, at)
        elif step == "FAILBACK_LAUNCH_END":
            entry.launch_status = "LAUNCHED"
            instance = state.instances.get(entry.recovery_instance_id or "")
            if instance is not None and instance.failback is not None:
                instance.failback.completed = True

    def _set_last_launch(
        self, state: RegionState, entry: ParticipatingServer, status: str, job: Job
    ) -> None:
        server = state.servers.get(entry.source_server_id)
        if server is not None and server.last_launch and server.last_launch.job_id == job.job_id:
            server.last_launch.status = status

    def _launch_start(
        self, state: RegionState, job: Job, entry: ParticipatingServer, at: datetime
    ) -> None:
        server = state.servers.get(entry.source_server_id)
        data = {"sourceServerID": entry.source_server_id}
        if server is None:
            entry.failure = "The source server no longer exists"
            job.log.append(JobLogItem(at, "LAUNCH_START", data))
            return
        self._sim.retire_recovery_instance(state, server)
        entry.failure = self._sim.faults.take_launch_failure(server.server_id)
        if entry.failure is None:
            try:
                info, existing = launch_recovery_instance(self._sim.ec2, server, job.job_id)
            except Ec2LaunchError as exc:
                entry.failure = str(exc)
            else:
                instance = RecoveryInstance(
                    recovery_instance_id=info.instance_id,
                    arn=arn("recovery-instance", state.region, state.account_id, info.instance_id),
                    source_server_id=server.server_id,
                    job_id=job.job_id,
                    ec2_instance_id=info.instance_id,
                    ec2_home=server.template_home,
                    is_drill=job.is_drill,
                    launched_at=at,
                    point_in_time=entry.point_in_time or at,
                    private_ip=info.private_ip,
                    instance_type=info.instance_type,
                    availability_zone=info.availability_zone,
                    launched_into_existing=existing,
                    volume_ids=list(info.volume_ids),
                )
                state.instances[instance.recovery_instance_id] = instance
                server.recovery_instance_id = instance.recovery_instance_id
                entry.recovery_instance_id = instance.recovery_instance_id
                data["targetInstanceID"] = info.instance_id
        job.log.append(JobLogItem(at, "LAUNCH_START", data))

    def _launch_end(
        self, state: RegionState, job: Job, entry: ParticipatingServer, at: datetime
    ) -> None:
        instance = state.instances.get(entry.recovery_instance_id or "")
        if entry.failure is not None or instance is None:
            reason = entry.failure or "The recovery instance disappeared during launch"
            entry.launch_status = "FAILED"
            job.log.append(
                JobLogItem(
                    at,
                    "LAUNCH_FAILED",
                    {"sourceServerID": entry.source_server_id, "rawError": reason},
                )
            )
            logger.info("launch of %s failed: %s", entry.source_server_id, reason)
        else:
            instance.launched = True
            entry.launch_status = "LAUNCHED"
            self._failed_back(state, job, entry.source_server_id)
        self._set_last_launch(state, entry, entry.launch_status, job)
        kind = "DRILL" if job.is_drill else "RECOVERY"
        outcome = "SUCCEEDED" if entry.launch_status == "LAUNCHED" else "FAILED"
        self._sim.events.publish(
            LAUNCH_RESULT,
            account=state.account_id,
            region=state.region,
            at=at,
            resources=[
                arn("source-server", state.region, state.account_id, entry.source_server_id)
            ],
            detail={
                "state": f"{kind}_LAUNCH_{outcome}",
                "job-id": job.job_id,
                "source-server-id": entry.source_server_id,
            },
        )

    def _failed_back(self, state: RegionState, job: Job, source_server_id: str) -> None:
        """A reversed source server launched: its original recovery instance has failed back.

        A recovery completes the original instance's failback; a drill only
        records its launch type (see :mod:`drs_orchestration.testing.operations.instances`).
        """
        server = state.servers.get(source_server_id)
        if server is None or server.direction != "FAILBACK" or not server.reversed_arn:
            return
        parts = server.reversed_arn.split(":")
        if len(parts) < 6:
            return
        original_region, original_account = parts[3], parts[4]
        original_id = parts[5].rsplit("/", 1)[-1]
        home = self._sim.region_state(original_account, original_region)
        original = home.servers.get(original_id)
        instance = home.instances.get(original.recovery_instance_id or "") if original else None
        progress = instance.failback if instance is not None else None
        if progress is None or progress.reversed_server_id != source_server_id:
            return
        progress.launch_type = "DRILL" if job.is_drill else "RECOVERY"
        if not job.is_drill:
            progress.completed = True

    def _cleanup_end(
        self, state: RegionState, job: Job, entry: ParticipatingServer, at: datetime
    ) -> None:
        instance = state.instances.pop(entry.recovery_instance_id or "", None)
        data = {"sourceServerID": entry.source_server_id}
        if instance is not None:
            self._sim.ec2.terminate(
                state.account_id, state.region, instance.ec2_home, instance.ec2_instance_id
            )
            data["targetInstanceID"] = instance.ec2_instance_id
            server = state.servers.get(instance.source_server_id)
            if server is not None and server.recovery_instance_id == instance.recovery_instance_id:
                server.recovery_instance_id = None
        entry.launch_status = "TERMINATED"
        job.log.append(JobLogItem(at, "CLEANUP_END", data))
