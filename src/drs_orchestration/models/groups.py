"""Protection groups and the status of their pre-applied launch configurations."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from drs_orchestration.errors import InvalidStateTransitionError
from drs_orchestration.models.account import AccountContext
from drs_orchestration.models.base import DrsModel, Timestamp, VersionedModel, utc_now
from drs_orchestration.models.ids import (
    ProtectionGroupId,
    Region,
    SourceServerId,
    new_protection_group_id,
)
from drs_orchestration.models.launch import LaunchSettings, TagKey, TagValue

__all__ = [
    "ConfigStatus",
    "LaunchConfigStatus",
    "ProtectionGroup",
    "ServerConfigStatus",
]


class ConfigStatus(StrEnum):
    """Launch-configuration status of a group; a server uses pending, ready and failed."""

    NOT_CONFIGURED = "not_configured"
    PENDING = "pending"
    READY = "ready"
    PARTIAL = "partial"
    FAILED = "failed"


_TRANSITIONS: dict[ConfigStatus, frozenset[ConfigStatus]] = {
    ConfigStatus.NOT_CONFIGURED: frozenset({ConfigStatus.PENDING}),
    # pending → pending: a re-apply after a timeout or a crashed applier.
    ConfigStatus.PENDING: frozenset(
        {ConfigStatus.PENDING, ConfigStatus.READY, ConfigStatus.PARTIAL, ConfigStatus.FAILED}
    ),
    ConfigStatus.READY: frozenset({ConfigStatus.PENDING}),
    ConfigStatus.PARTIAL: frozenset({ConfigStatus.PENDING}),
    ConfigStatus.FAILED: frozenset({ConfigStatus.PENDING}),
}

_SERVER_STATES = frozenset({ConfigStatus.PENDING, ConfigStatus.READY, ConfigStatus.FAILED})

ErrorMessage = Annotated[str, StringConstraints(min_length=1)]


class ServerConfigStatus(DrsModel):
    """What was applied to one source server, and how it went.

    ``config_hash`` is the hash of the effective settings that were last
    applied successfully; a server whose desired hash differs has drifted.
    """

    status: ConfigStatus = ConfigStatus.PENDING
    last_applied: Timestamp | None = None
    config_hash: str | None = None
    errors: list[ErrorMessage] = Field(default_factory=list)
    launch_template_version: int | None = None

    @field_validator("status")
    @classmethod
    def _server_state(cls, value: ConfigStatus) -> ConfigStatus:
        if value not in _SERVER_STATES:
            raise ValueError("a server's status is pending, ready or failed")
        return value

    @model_validator(mode="after")
    def _errors_explain_failure(self) -> Self:
        if self.status is ConfigStatus.FAILED and not self.errors:
            raise ValueError("a failed server must carry at least one error")
        if self.status is ConfigStatus.READY and self.config_hash is None:
            raise ValueError("a ready server must carry the config_hash that was applied")
        return self


class LaunchConfigStatus(DrsModel):
    """Launch-configuration status of a protection group (DESIGN.md contract 3).

    Transitions: ``not_configured → pending → ready | partial | failed`` and
    any of those back to ``pending`` on re-apply. Use :meth:`transition_to`;
    it refuses anything else.
    """

    status: ConfigStatus = ConfigStatus.NOT_CONFIGURED
    last_applied: Timestamp | None = None
    applied_by: str | None = None
    apply_id: str | None = None
    """Identifies the apply run that wrote this status (a run only completes its own)."""
    server_configs: dict[SourceServerId, ServerConfigStatus] = Field(default_factory=dict)
    errors: list[ErrorMessage] = Field(default_factory=list)

    @model_validator(mode="after")
    def _schema(self) -> Self:
        if self.status is not ConfigStatus.NOT_CONFIGURED and self.last_applied is None:
            raise ValueError(f"last_applied is required when status is {self.status.value!r}")
        return self

    def can_transition_to(self, target: ConfigStatus) -> bool:
        """Return whether the lifecycle allows going from the current status to ``target``."""
        return target in _TRANSITIONS[self.status]

    def transition_to(
        self,
        target: ConfigStatus,
        *,
        server_configs: dict[str, ServerConfigStatus] | None = None,
        errors: list[str] | None = None,
        applied_by: str | None = None,
        apply_id: str | None = None,
        at: Timestamp,
    ) -> LaunchConfigStatus:
        """Return a new status object in state ``target`` (the original is unchanged).

        ``at`` (recorded as ``last_applied``) comes from the caller's clock.

        Raises:
            InvalidStateTransitionError: if the lifecycle does not allow the change.
        """
        if not self.can_transition_to(target):
            raise InvalidStateTransitionError(
                "launch configuration status",
                self.status.value,
                target.value,
                allowed=sorted(s.value for s in _TRANSITIONS[self.status]),
            )
        return LaunchConfigStatus(
            status=target,
            last_applied=at,
            applied_by=applied_by if applied_by is not None else self.applied_by,
            apply_id=apply_id if apply_id is not None else self.apply_id,
            server_configs=dict(self.server_configs if server_configs is None else server_configs),
            errors=list(errors or []),
        )

    def is_ready(self) -> bool:
        """Whether every server's configuration was applied."""
        return self.status is ConfigStatus.READY

    def failed_servers(self) -> list[str]:
        """Source server IDs whose configuration failed to apply."""
        return sorted(
            sid for sid, cfg in self.server_configs.items() if cfg.status is ConfigStatus.FAILED
        )

    def pending_servers(self) -> list[str]:
        """Source server IDs not yet applied (e.g. not reached before a timeout)."""
        return sorted(
            sid for sid, cfg in self.server_configs.items() if cfg.status is ConfigStatus.PENDING
        )

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import launch_config_status_html

        return launch_config_status_html(self)


class ProtectionGroup(VersionedModel):
    """A set of DRS source servers recovered together, with their desired launch settings.

    Servers are chosen by explicit IDs or by tags (``server_selection_tags``);
    tags are resolved against DRS only when the group is created or updated,
    and the result is kept in ``source_server_ids`` (DESIGN.md contract 1).
    """

    group_id: ProtectionGroupId = Field(default_factory=new_protection_group_id)
    name: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
    description: Annotated[str, StringConstraints(max_length=1024)] | None = None
    region: Region
    account: AccountContext | None = None
    server_selection_tags: dict[TagKey, TagValue] | None = None
    source_server_ids: list[SourceServerId] = Field(default_factory=list)
    launch_settings: LaunchSettings = Field(default_factory=LaunchSettings)
    server_overrides: dict[SourceServerId, LaunchSettings] = Field(default_factory=dict)
    launch_config_status: LaunchConfigStatus = Field(default_factory=LaunchConfigStatus)
    created_at: Timestamp = Field(default_factory=utc_now)
    updated_at: Timestamp = Field(default_factory=utc_now)

    @field_validator("source_server_ids")
    @classmethod
    def _unique_servers(cls, value: list[str]) -> list[str]:
        dupes = sorted(sid for sid, n in Counter(value).items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate source server IDs: {dupes}")
        return value

    @field_validator("server_selection_tags")
    @classmethod
    def _tags_not_empty(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and not value:
            raise ValueError("server_selection_tags must hold at least one tag (or be omitted)")
        return value

    @model_validator(mode="after")
    def _overrides_in_group(self) -> Self:
        unknown = sorted(set(self.server_overrides) - set(self.source_server_ids))
        if unknown:
            raise ValueError(f"server_overrides name servers not in the group: {unknown}")
        return self

    @property
    def selects_by_tags(self) -> bool:
        """Whether the group's servers come from tag selection."""
        return self.server_selection_tags is not None

    def effective_settings(self, source_server_id: str) -> LaunchSettings:
        """The group default merged with this server's override."""
        return self.launch_settings.merged_with(self.server_overrides.get(source_server_id))

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import protection_group_html

        return protection_group_html(self)
