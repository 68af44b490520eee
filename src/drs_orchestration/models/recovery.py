"""Cached recovery instances and the status of the sync that keeps them fresh."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from drs_orchestration.models.base import DrsModel, Timestamp, VersionedModel, utc_now
from drs_orchestration.models.executions import ErrorRecord
from drs_orchestration.models.ids import (
    AccountId,
    Ec2InstanceId,
    ExecutionId,
    JobId,
    RecoveryInstanceId,
    Region,
    SourceServerId,
)

__all__ = ["RecoveryInstanceRecord", "SyncStatus", "SyncTargetResult"]


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
    error: ErrorRecord | None = None


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
