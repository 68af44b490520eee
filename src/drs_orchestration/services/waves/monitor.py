"""Following a wave's jobs: job and server status, phase times, recovery instances.

``DescribeJobs`` gives each job's status and every participating server's
``launchStatus``; ``DescribeJobLogItems`` gives per-server phase times (what
an RTO report is made of) and failure reasons; ``DescribeRecoveryInstances``
gives the EC2 instance behind each recovery instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import DrsGateway, parse_drs_timestamp
from drs_orchestration.models import JobStatus, PhaseTimes, ServerLaunchStatus

if TYPE_CHECKING:
    from mypy_boto3_drs.type_defs import JobLogTypeDef, JobTypeDef

__all__ = [
    "JobLog",
    "JobView",
    "RecoveryInstanceView",
    "ServerView",
    "describe_jobs",
    "read_job_log",
    "recovery_instances",
]

_JOB_STATUS = {
    "PENDING": JobStatus.PENDING,
    "STARTED": JobStatus.STARTED,
    "COMPLETED": JobStatus.COMPLETED,
}
_LAUNCH_STATUS = {
    "PENDING": ServerLaunchStatus.PENDING,
    "IN_PROGRESS": ServerLaunchStatus.IN_PROGRESS,
    "LAUNCHED": ServerLaunchStatus.LAUNCHED,
    "FAILED": ServerLaunchStatus.FAILED,
    "TERMINATED": ServerLaunchStatus.TERMINATED,
}
# Log events that set a phase time of the server they name.
_SERVER_PHASES = {
    "SNAPSHOT_START": "snapshot_start",
    "SNAPSHOT_END": "snapshot_end",
    "USING_PREVIOUS_SNAPSHOT": "snapshot_end",
    "CONVERSION_START": "conversion_start",
    "CONVERSION_END": "conversion_end",
    "LAUNCH_START": "launch_start",
    "LAUNCH_END": "launch_end",
    "LAUNCH_FAILED": "launch_failed",
}
# Log events that apply to every server of the job.
_JOB_PHASES = {"JOB_START": "job_start", "JOB_END": "job_end"}
_FAILURES = frozenset(
    {
        "LAUNCH_FAILED",
        "SNAPSHOT_FAIL",
        "CONVERSION_FAIL",
        "USING_PREVIOUS_SNAPSHOT_FAILED",
        "NETWORK_RECOVERY_FAIL",
        "UPDATE_LAUNCH_TEMPLATE_FAILED",
        "DEPLOY_NETWORK_CONFIGURATION_FAILED",
        "UPDATE_NETWORK_CONFIGURATION_FAILED",
    }
)


@dataclass(frozen=True)
class ServerView:
    """One participating server as ``DescribeJobs`` shows it."""

    launch_status: ServerLaunchStatus
    recovery_instance_id: str | None = None


@dataclass(frozen=True)
class JobView:
    """One job as ``DescribeJobs`` shows it."""

    job_id: str
    status: JobStatus
    created_at: datetime | None
    ended_at: datetime | None
    servers: dict[str, ServerView] = field(default_factory=dict)

    @classmethod
    def from_job(cls, job: JobTypeDef | Mapping[str, Any]) -> JobView:
        """Read a DRS job description (unknown statuses count as still in progress)."""
        servers = {
            p["sourceServerID"]: ServerView(
                launch_status=_LAUNCH_STATUS.get(
                    str(p.get("launchStatus")), ServerLaunchStatus.PENDING
                ),
                recovery_instance_id=p.get("recoveryInstanceID"),
            )
            for p in job.get("participatingServers", [])
            if p.get("sourceServerID")
        }
        created = job.get("creationDateTime")
        ended = job.get("endDateTime")
        return cls(
            job_id=job["jobID"],
            status=_JOB_STATUS.get(str(job.get("status")), JobStatus.STARTED),
            created_at=parse_drs_timestamp(created) if created else None,
            ended_at=parse_drs_timestamp(ended) if ended else None,
            servers=servers,
        )

    def launch_status_counts(self) -> dict[str, int]:
        """How many servers are in each launch status."""
        counts: dict[str, int] = {}
        for server in self.servers.values():
            counts[server.launch_status.value] = counts.get(server.launch_status.value, 0) + 1
        return counts


def describe_jobs(drs: DrsGateway, job_ids: Sequence[str]) -> dict[str, JobView]:
    """The current view of each job (jobs DRS did not return are absent)."""
    if not job_ids:
        return {}
    return {job["jobID"]: JobView.from_job(job) for job in drs.describe_jobs(job_ids=job_ids)}


@dataclass
class JobLog:
    """Phase times and failure reasons per server, read from a job's log."""

    phases: dict[str, PhaseTimes] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def _failure_reason(event: str, data: Mapping[str, Any]) -> str:
    raw = data.get("rawError")
    return f"{event}: {raw}" if raw else event


def read_job_log(
    items: Iterable[JobLogTypeDef | Mapping[str, Any]], server_ids: Iterable[str]
) -> JobLog:
    """Turn ``DescribeJobLogItems`` items into per-server phase times and failure reasons.

    Job-wide events (``JOB_START``, ``JOB_END``) apply to every server; for
    a repeated event the first occurrence counts (the earliest start), except
    ``*_END`` events where the last does.
    """
    servers = list(server_ids)
    times: dict[str, dict[str, datetime]] = {sid: {} for sid in servers}
    failures: dict[str, str] = {}
    ordered = sorted(items, key=lambda item: str(item.get("logDateTime", "")))
    for item in ordered:
        event = str(item.get("event", ""))
        when_text = item.get("logDateTime")
        if not when_text:
            continue
        when = parse_drs_timestamp(str(when_text))
        data: Mapping[str, Any] = item.get("eventData") or {}
        sid = data.get("sourceServerID")
        if event in _JOB_PHASES:
            for own in times.values():
                _set(own, _JOB_PHASES[event], when)
            continue
        if sid not in times:
            continue
        if event in _SERVER_PHASES:
            _set(times[sid], _SERVER_PHASES[event], when)
        if event in _FAILURES:
            failures[sid] = _failure_reason(event, data)
    return JobLog(
        phases={sid: PhaseTimes(**values) for sid, values in times.items()},
        failures=failures,
    )


def _set(values: dict[str, datetime], name: str, when: datetime) -> None:
    if name.endswith("_end") or name not in values:
        values[name] = when


@dataclass(frozen=True)
class RecoveryInstanceView:
    """What the executor records of a recovery instance.

    Attributes:
        ec2_instance_id: The EC2 instance behind it.
        point_in_time: The recovery point it was launched from
            (``pointInTimeSnapshotDateTime``), when DRS reports one.
    """

    ec2_instance_id: str | None
    point_in_time: datetime | None


def recovery_instances(
    drs: DrsGateway, recovery_instance_ids: Sequence[str]
) -> dict[str, RecoveryInstanceView]:
    """The EC2 instance and recovery point of each recovery instance DRS still knows."""
    if not recovery_instance_ids:
        return {}
    found: dict[str, RecoveryInstanceView] = {}
    for ri in drs.describe_recovery_instances(recovery_instance_ids=recovery_instance_ids):
        if not ri.get("recoveryInstanceID"):
            continue
        pit = ri.get("pointInTimeSnapshotDateTime")
        found[ri["recoveryInstanceID"]] = RecoveryInstanceView(
            ec2_instance_id=ri.get("ec2InstanceID") or None,
            point_in_time=parse_drs_timestamp(pit) if pit else None,
        )
    return found
