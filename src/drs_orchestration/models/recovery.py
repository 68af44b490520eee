"""Cached recovery instances and the status of the sync that keeps them fresh."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from drs_orchestration.models.base import DrsModel, Timestamp, VersionedModel, utc_now
from drs_orchestration.models.executions import ErrorRecord, ExecutionType
from drs_orchestration.models.ids import (
    AccountId,
    Ec2InstanceId,
    ExecutionId,
    JobId,
    RecoveryInstanceId,
    Region,
    SourceServerId,
)

__all__ = [
    "CacheLookup",
    "InstanceTermination",
    "RecoveryInstanceRecord",
    "SyncStatus",
    "SyncTargetResult",
    "TerminationReport",
    "TerminationStatus",
]


class RecoveryInstanceRecord(DrsModel):
    """What is recovered for one source server: the DRS recovery instance and its EC2 details.

    Keyed by ``source_server_id`` (DRS keeps at most one recovery instance per
    source server); ``source_execution_id`` is indexed so an execution's
    instances are found without a scan.
    """

    source_server_id: SourceServerId
    recovery_instance_id: RecoveryInstanceId
    ec2_instance_id: Ec2InstanceId | None = None
    region: Region
    account_id: AccountId | None = None
    is_drill: bool | None = None
    job_id: JobId | None = None
    source_execution_id: ExecutionId | None = None
    ec2_instance_state: str | None = None
    instance_type: str | None = None
    private_ip: str | None = None
    public_ip: str | None = None
    subnet_id: str | None = None
    vpc_id: str | None = None
    availability_zone: str | None = None
    launch_time: Timestamp | None = None
    name_tag: str | None = None
    source_hostname: str | None = None
    replication_staging_account_id: AccountId | None = None
    origin_environment: str | None = None
    origin_availability_zone: str | None = None
    source_region: Region | None = None
    source_account_id: AccountId | None = None
    source_instance_id: Ec2InstanceId | None = None
    source_vpc_id: str | None = None
    failback_state: str | None = None
    last_synced: Timestamp = Field(default_factory=utc_now)


class SyncTargetResult(DrsModel):
    """The outcome of syncing one (account, region)."""

    region: Region
    account_id: AccountId | None = None
    instances: Annotated[int, Field(ge=0)] = 0
    written: Annotated[int, Field(ge=0)] = 0
    deleted: Annotated[int, Field(ge=0)] = 0
    duration_s: Annotated[float, Field(ge=0)] | None = None
    error: ErrorRecord | None = None

    @property
    def succeeded(self) -> bool:
        """Whether this account and region synced without error."""
        return self.error is None


class SyncStatus(VersionedModel):
    """The last cache sync: when, how long, what it found per account and region, what failed."""

    started_at: Timestamp
    finished_at: Timestamp | None = None
    duration_s: Annotated[float, Field(ge=0)] | None = None
    targets: list[SyncTargetResult] = Field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether every account and region synced without error."""
        return all(t.error is None for t in self.targets)

    @property
    def instances(self) -> int:
        """Recovery instances found across all targets."""
        return sum(t.instances for t in self.targets)


class CacheLookup(DrsModel):
    """The answer of a cache read: the records found, and the source servers with none.

    Attributes:
        records: Cached record by source server ID.
        misses: Requested source servers without a cached record, in request order.
    """

    records: dict[SourceServerId, RecoveryInstanceRecord] = Field(default_factory=dict)
    misses: list[SourceServerId] = Field(default_factory=list)

    def __contains__(self, source_server_id: object) -> bool:
        return source_server_id in self.records

    def get(self, source_server_id: str) -> RecoveryInstanceRecord | None:
        """The record of one source server, or ``None`` on a miss."""
        return self.records.get(source_server_id)

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import cache_lookup_html

        return cache_lookup_html(self)


class TerminationStatus(StrEnum):
    """What happened to one recovery instance of a terminated execution."""

    WOULD_TERMINATE = "WOULD_TERMINATE"
    """Dry run: the instance would be terminated."""
    TERMINATED = "TERMINATED"
    """A TERMINATE job ended with the instance terminated."""
    ALREADY_GONE = "ALREADY_GONE"
    """DRS no longer knows the instance (terminated earlier, or replaced by a later launch)."""
    SKIPPED = "SKIPPED"
    """Deliberately left alone (not launched by this execution, a real recovery, or an
    instance that existed before the execution and was launched into)."""
    FAILED = "FAILED"
    """Termination was attempted or intended and did not succeed; the cache record is kept."""


class InstanceTermination(DrsModel):
    """The outcome of terminating one recovery instance.

    Attributes:
        recovery_instance_id: The DRS recovery instance.
        source_server_id: Its source server.
        region: Where it runs.
        account_id: The account it runs in (``None``: the client factory's own).
        launch_job_id: The execution's job that launched it.
        terminate_job_id: The TERMINATE job that ended it, when one was started.
        status: What happened.
        reason: Why an instance was skipped, already gone or failed.
        error: The error behind a failure.
    """

    recovery_instance_id: RecoveryInstanceId
    source_server_id: SourceServerId | None = None
    region: Region
    account_id: AccountId | None = None
    launch_job_id: JobId | None = None
    terminate_job_id: JobId | None = None
    status: TerminationStatus
    reason: str | None = None
    error: ErrorRecord | None = None


class TerminationReport(DrsModel):
    """What ``RecoveryInstanceCache.terminate_execution`` did, per recovery instance.

    Attributes:
        execution_id: The execution whose instances were terminated.
        execution_type: DRILL or RECOVERY.
        dry_run: Whether this only listed what would be terminated.
        started_at: When the call started.
        finished_at: When it returned.
        instances: One outcome per recovery instance the execution launched.
        terminate_job_ids: The TERMINATE jobs started.
        errors: Problems not tied to one instance.
    """

    execution_id: ExecutionId
    execution_type: ExecutionType
    dry_run: bool = False
    started_at: Timestamp = Field(default_factory=utc_now)
    finished_at: Timestamp | None = None
    instances: list[InstanceTermination] = Field(default_factory=list)
    terminate_job_ids: list[JobId] = Field(default_factory=list)
    errors: list[ErrorRecord] = Field(default_factory=list)

    def with_status(self, status: TerminationStatus) -> list[InstanceTermination]:
        """The instances that ended with ``status``."""
        return [i for i in self.instances if i.status is status]

    @property
    def terminated(self) -> list[str]:
        """IDs of the recovery instances terminated by this call."""
        return [i.recovery_instance_id for i in self.with_status(TerminationStatus.TERMINATED)]

    @property
    def failed(self) -> list[str]:
        """IDs of the recovery instances that could not be terminated."""
        return [i.recovery_instance_id for i in self.with_status(TerminationStatus.FAILED)]

    @property
    def succeeded(self) -> bool:
        """Whether no instance failed."""
        return not self.failed
