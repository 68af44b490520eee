"""Source-to-target instance pairs and failback state."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from drs_orchestration.models.base import Timestamp, VersionedModel, utc_now
from drs_orchestration.models.executions import ErrorRecord
from drs_orchestration.models.ids import (
    AccountId,
    Ec2InstanceId,
    ExecutionId,
    JobId,
    ProtectionGroupId,
    RecoveryInstanceId,
    Region,
    SourceServerId,
)

__all__ = ["FailbackPhase", "FailbackState", "InstancePair", "MatchMethod"]


class MatchMethod(StrEnum):
    """How a source server was paired with its target instance (rules in order of precedence)."""

    EXPLICIT = "explicit"
    """Named in ``MatchRules.explicit_pairs``."""
    ORIGINAL_INSTANCE = "original_instance"
    """The instance a failing-back server originally replicated from."""
    NAME_TAG = "name_tag"
    """Equal names (source ``Name`` tag or host name, target ``Name`` tag) once normalised."""


class InstancePair(VersionedModel):
    """A source server and the existing EC2 instance DRS should launch into.

    Keyed by ``source_server_id``. ``region`` and ``account_id`` are where DRS
    launches the server, which is where the target instance is (``None``: the
    client factory's own account). ``validated`` is true when no check of the
    pair failed; ``validation_errors`` holds the failed checks and
    ``warnings`` the others worth a look.
    """

    source_server_id: SourceServerId
    target_instance_id: Ec2InstanceId
    region: Region
    account_id: AccountId | None = None
    group_id: ProtectionGroupId | None = None
    match_method: MatchMethod = MatchMethod.NAME_TAG
    source_name: str | None = None
    target_name: str | None = None
    source_private_ip: str | None = None
    target_private_ip: str | None = None
    validated: bool = False
    validation_errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    updated_at: Timestamp = Field(default_factory=utc_now)


class FailbackPhase(StrEnum):
    """Where a recovered server is on its way back to the source environment."""

    NOT_STARTED = "not_started"
    REVERSE_REPLICATING = "reverse_replicating"
    READY_FOR_FAILBACK = "ready_for_failback"
    FAILBACK_IN_PROGRESS = "failback_in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


class FailbackState(VersionedModel):
    """The failback of one recovery instance, and what must be preserved on the way back."""

    recovery_instance_id: RecoveryInstanceId
    source_server_id: SourceServerId
    region: Region
    account_id: AccountId | None = None
    execution_id: ExecutionId | None = None
    phase: FailbackPhase = FailbackPhase.NOT_STARTED
    replication_staging_account_id: AccountId | None = None
    reversed_source_server_id: SourceServerId | None = None
    failback_job_id: JobId | None = None
    lag_seconds: Annotated[float, Field(ge=0)] | None = None
    original_instance_private_ip: str | None = None
    recovery_instance_private_ip: str | None = None
    private_ip_validated: bool | None = None
    error: ErrorRecord | None = None
    created_at: Timestamp = Field(default_factory=utc_now)
    updated_at: Timestamp = Field(default_factory=utc_now)
