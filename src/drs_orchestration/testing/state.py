"""The simulator's state: plain objects, one :class:`RegionState` per (account, region).

Everything here is mutated only under the simulator's lock. Wire shapes are
built from these objects in :mod:`drs_orchestration.testing.render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "AwsOrigin",
    "Disk",
    "Ec2Home",
    "FailbackProgress",
    "Job",
    "JobLogItem",
    "LastLaunch",
    "Nic",
    "ParticipatingServer",
    "RecoveryInstance",
    "RecoverySnapshot",
    "RegionState",
    "Replication",
    "SourceServer",
]

Ec2Home = Literal["moto", "detached"]
"""Where a launch template or instance lives: in moto's EC2, or only inside the simulator."""

ACTIVE_JOB_STATUSES = frozenset({"PENDING", "STARTED"})
"""Job statuses that count as "in progress" (for quotas and conflicts)."""


@dataclass
class Nic:
    """A source server's network interface."""

    mac: str
    ips: list[str]
    is_primary: bool = True


@dataclass
class Disk:
    """A source server's disk."""

    device_name: str
    size_bytes: int


@dataclass
class AwsOrigin:
    """Where an EC2-originated source server runs (``sourceCloudProperties``)."""

    account_id: str
    region: str
    availability_zone: str
    instance_id: str | None = None
    instance_type: str | None = None


@dataclass
class Replication:
    """A server's data replication: a state, since when, and whether it may progress.

    States in :data:`~drs_orchestration.testing.replication.PROGRESSING` move on to
    ``CONTINUOUS`` after a while unless ``stuck``; the others stay until changed.
    """

    state: str
    since: datetime
    lag_seconds: float = 5.0
    stuck: bool = False
    error: str | None = None
    catch_up_seconds: float = 900.0


@dataclass
class RecoverySnapshot:
    """A point-in-time snapshot: seeded explicitly, or derived from the PIT schedule."""

    snapshot_id: str
    expected: datetime
    taken: datetime


@dataclass
class LastLaunch:
    """A source server's last launch (``lifeCycle.lastLaunch``)."""

    job_id: str
    launch_type: Literal["RECOVERY", "DRILL"]
    initiated_at: datetime
    status: str = "PENDING"


@dataclass
class SourceServer:
    """One replicating source server and its launch configuration."""

    server_id: str
    arn: str
    account_id: str
    region: str
    hostname: str
    tags: dict[str, str]
    os: Literal["LINUX", "WINDOWS"]
    os_full_string: str
    cpus: int
    cpu_model: str
    ram_bytes: int
    disks: list[Disk]
    nics: list[Nic]
    replication: Replication
    added_at: datetime
    launch_config: dict[str, Any]
    template_id: str
    template_home: Ec2Home
    staging_account_id: str | None = None
    origin: AwsOrigin | None = None
    fqdn: str | None = None
    hardware_id: str | None = None
    vmware_uuid: str | None = None
    agent_version: str = "4.6.4"
    staging_az: str | None = None
    recovery_instance_id: str | None = None
    last_launch: LastLaunch | None = None
    snapshots: list[RecoverySnapshot] = field(default_factory=list)
    direction: Literal["FAILOVER", "FAILBACK"] = "FAILOVER"
    reversed_arn: str | None = None
    continuous_history: list[tuple[datetime, datetime]] = field(default_factory=list)
    """Past periods of continuous replication (start, end), during which DRS took snapshots.

    The current replication's period is derived from :attr:`replication`; see
    :func:`~drs_orchestration.testing.replication.continuous_periods`.
    """

    @property
    def primary_ip(self) -> str | None:
        """The first IP of the primary network interface."""
        for nic in self.nics:
            if nic.is_primary and nic.ips:
                return nic.ips[0]
        return self.nics[0].ips[0] if self.nics and self.nics[0].ips else None


@dataclass
class JobLogItem:
    """One ``DescribeJobLogItems`` entry."""

    at: datetime
    event: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParticipatingServer:
    """A server in a job, and how its launch (or termination) is going."""

    source_server_id: str
    launch_status: str = "PENDING"
    recovery_instance_id: str | None = None
    snapshot_id: str | None = None
    point_in_time: datetime | None = None
    conversion_server_id: str | None = None
    failure: str | None = None


@dataclass
class Job:
    """A DRS job: LAUNCH (drill, recovery, failback) or TERMINATE."""

    job_id: str
    arn: str
    account_id: str
    region: str
    job_type: Literal["LAUNCH", "TERMINATE"]
    initiated_by: str
    created_at: datetime
    servers: list[ParticipatingServer]
    tags: dict[str, str]
    is_drill: bool = False
    status: str = "PENDING"
    ended_at: datetime | None = None
    log: list[JobLogItem] = field(default_factory=list)

    @property
    def in_progress(self) -> bool:
        """Whether the job still counts against the in-progress quotas."""
        return self.status in ACTIVE_JOB_STATUSES

    def server(self, source_server_id: str) -> ParticipatingServer:
        """The participating server entry of ``source_server_id``."""
        for entry in self.servers:
            if entry.source_server_id == source_server_id:
                return entry
        raise KeyError(source_server_id)


@dataclass
class FailbackProgress:
    """A recovery instance's failback replication.

    Reverse replication towards its origin, or the Failback Client's
    replication to an on-premises machine. In-AWS failback names the source
    server replicating the instance back (``reversed_*``); the Failback Client
    path has no such server, and keeps the replication to the machine in
    ``client_replication``.
    """

    started_at: datetime
    reversed_server_id: str | None = None
    reversed_account_id: str | None = None
    reversed_region: str | None = None
    client_id: str | None = None
    client_replication: Replication | None = None
    completed: bool = False
    job_id: str | None = None
    launch_type: Literal["RECOVERY", "DRILL"] | None = None


@dataclass
class RecoveryInstance:
    """A launched recovery instance and the EC2 instance behind it."""

    recovery_instance_id: str
    arn: str
    source_server_id: str
    job_id: str
    ec2_instance_id: str
    ec2_home: Ec2Home
    is_drill: bool
    launched_at: datetime
    point_in_time: datetime
    private_ip: str | None
    instance_type: str
    availability_zone: str | None
    launched: bool = False
    disconnected: bool = False
    launched_into_existing: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    volume_ids: list[str] = field(default_factory=list)
    failback: FailbackProgress | None = None
    failback_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class RegionState:
    """Everything DRS keeps for one account in one region."""

    account_id: str
    region: str
    initialized: bool = True
    servers: dict[str, SourceServer] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    instances: dict[str, RecoveryInstance] = field(default_factory=dict)
    launch_configuration_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Launch configuration templates by ID, in DRS's names (see
    :mod:`~drs_orchestration.testing.operations.templates`)."""

    def active_jobs(self) -> list[Job]:
        """Jobs still in progress."""
        return [job for job in self.jobs.values() if job.in_progress]

    def busy_servers(self) -> dict[str, str]:
        """Source server ID → ID of the in-progress job it takes part in."""
        return {
            entry.source_server_id: job.job_id
            for job in self.active_jobs()
            for entry in job.servers
        }
