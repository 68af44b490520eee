"""ProtectionGroupService: create, update and delete protection groups.

This is the only place where a tag selection is resolved to source server
IDs (DESIGN.md contract 1): at create and at update. Executions use the
resolved IDs stored on the plan's waves and never look at tags again.

A server belongs to one group at most, under any concurrency: every write
that changes a group's servers goes through
:class:`~drs_orchestration.services.group_membership.GroupMembership`, which
claims each server for its group atomically (its module docstring has the
protocol and why it holds). Updates never lose a concurrent change: with an
``expected_version`` a stale one is refused, without it the caller's change
is re-applied to the freshly read group until it is stored.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import pydantic

from drs_orchestration.aws.clients import ClientFactory
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import (
    ConcurrentModificationError,
    ConflictError,
    LaunchConfigValidationError,
    ValidationError,
)
from drs_orchestration.models import (
    AccountContext,
    LaunchSettings,
    ProtectionGroup,
    SourceServerId,
    utc_now,
)
from drs_orchestration.services.group_membership import GroupMembership
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.storage import Storage, retry_conflicts

__all__ = ["ProtectionGroupService"]

logger = logging.getLogger(__name__)

SettingsInput = LaunchSettings | Mapping[str, Any]
_SERVER_IDS = pydantic.TypeAdapter(list[SourceServerId])


def _settings(value: SettingsInput | None, field: str) -> LaunchSettings:
    if value is None:
        return LaunchSettings()
    if isinstance(value, LaunchSettings):
        return value
    try:
        return LaunchSettings.model_validate(value)
    except pydantic.ValidationError as exc:
        raise LaunchConfigValidationError.from_pydantic(exc, prefix=field) from exc


def _overrides(value: Mapping[str, SettingsInput] | None) -> dict[str, LaunchSettings]:
    return {
        sid: _settings(settings, f"serverOverrides.{sid}")
        for sid, settings in (value or {}).items()
    }


class ProtectionGroupService:
    """Protection groups: which servers recover together and with which launch settings.

    Args:
        storage: Where groups are kept.
        clients: Where DRS clients come from (tag and ID resolution).
        launch_configs: Applies the groups' launch settings.
        retry: Retry policy for DRS reads.
        clock: Source of timestamps.

    Examples:
        >>> groups = ProtectionGroupService(storage, clients)
        >>> db = groups.create("database", "us-east-1", tags={"Tier": "db"},
        ...                    launch_settings={"copyPrivateIp": True})
        >>> db.source_server_ids, db.launch_config_status.status
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        launch_configs: LaunchConfigService | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._storage = storage
        self._clients = clients
        self._retry = retry or RetryPolicy()
        self._launch_configs = launch_configs or LaunchConfigService(
            storage, clients, retry=self._retry, clock=clock
        )
        self._clock = clock
        self._membership = GroupMembership(storage, clock=clock)

    # ---- reads ------------------------------------------------------------------------

    def get(self, group_id: str) -> ProtectionGroup:
        """Return a group.

        Raises:
            NotFoundError: if it does not exist.
        """
        return self._storage.protection_groups.get(group_id)

    def list(self) -> builtins.list[ProtectionGroup]:
        """Every protection group."""
        return self._storage.protection_groups.list()

    # ---- create / update / delete -----------------------------------------------------

    def create(
        self,
        name: str,
        region: str,
        *,
        server_ids: Iterable[str] | None = None,
        tags: Mapping[str, str] | None = None,
        launch_settings: SettingsInput | None = None,
        server_overrides: Mapping[str, SettingsInput] | None = None,
        account: AccountContext | None = None,
        description: str | None = None,
        apply: bool = True,
        timeout_s: float = 300,
    ) -> ProtectionGroup:
        """Create a group from explicit server IDs or a tag selection, then apply its settings.

        The group is saved before launch settings are applied, and stays saved
        whatever the application's outcome; its ``launch_config_status`` says
        how it went (``ready``, ``partial``, ``failed``, or ``pending`` after a
        timeout).

        Raises:
            ValidationError: bad input, both or neither of ``server_ids`` and
                ``tags``, or server IDs DRS does not know (listed).
            LaunchConfigValidationError: invalid effective settings (nothing saved).
            ConflictError: a server already belongs to another group (named),
                also when that group is being created at the same moment.
        """
        self._check_selection(server_ids, tags)
        identity: dict[str, Any] = {
            "name": name,
            "region": region,
            "account": account,
            "description": description,
            "server_selection_tags": dict(tags) if tags is not None else None,
        }
        draft = self._build(identity)
        settings = _settings(launch_settings, "launchSettings")
        overrides = _overrides(server_overrides)
        resolved = self._resolve(draft, server_ids, tags)
        group = self._build(
            {
                **identity,
                "source_server_ids": resolved,
                "launch_settings": settings,
                "server_overrides": overrides,
            }
        )
        self._launch_configs.desired_hashes(group)
        stored = retry_conflicts(lambda: self._membership.save(group, None))
        logger.info(
            "protection group created",
            extra={"groupId": stored.group_id, "servers": len(stored.source_server_ids)},
        )
        if apply:
            self._apply(stored.group_id, force=False, timeout_s=timeout_s)
        return self.get(stored.group_id)

    def update(
        self,
        group_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        server_ids: Iterable[str] | None = None,
        tags: Mapping[str, str] | None = None,
        launch_settings: SettingsInput | None = None,
        server_overrides: Mapping[str, SettingsInput] | None = None,
        force: bool = False,
        timeout_s: float = 300,
        expected_version: int | None = None,
    ) -> ProtectionGroup:
        """Update a group; re-apply launch settings only if servers or settings changed.

        Only the arguments given change; everything else keeps its stored
        value. A tag-selected group is resolved against DRS again on every
        update (that is how servers tagged after creation join it). Overrides
        of servers that leave the group are dropped. With ``force`` the
        settings are re-applied to every server even if nothing changed;
        otherwise an unchanged group keeps its launch-configuration status.

        Args:
            group_id: The group to change.
            name: A new name.
            description: A new description.
            server_ids: Explicit servers (replaces a tag selection).
            tags: A tag selection (replaces explicit servers), resolved now.
            launch_settings: New group-wide launch settings.
            server_overrides: New per-server overrides (replacing all of them).
            force: Re-apply launch settings to every server even if unchanged.
            timeout_s: How long applying launch settings may take.
            expected_version: The version of the group the change was based
                on (``group.version`` of the copy the caller read): a group
                changed since then is not overwritten. Without it, a concurrent
                write makes the update re-read the group and apply the same
                change to it again, so no one's change is lost.

        Raises:
            NotFoundError: the group does not exist.
            ValidationError / LaunchConfigValidationError: bad input (nothing saved).
            ConflictError: a server belongs to another group (named).
            ConcurrentModificationError: the group is not at ``expected_version``
                (nothing saved), or it kept changing on every attempt.
        """
        if server_ids is not None and tags is not None:
            self._check_selection(server_ids, tags)
        wanted = None if server_ids is None else list(server_ids)
        resolved: dict[tuple[Any, ...], builtins.list[str]] = {}

        def resolve(current: ProtectionGroup, tags: dict[str, str] | None) -> builtins.list[str]:
            # DRS is asked once per selection, not once per attempt.
            key = (
                ("ids", *wanted) if wanted is not None else ("tags", *sorted((tags or {}).items()))
            )
            if key not in resolved:
                resolved[key] = self._resolve(current, wanted, tags)
            return resolved[key]

        def attempt() -> tuple[ProtectionGroup, bool]:
            current = self.get(group_id)
            if expected_version is not None and current.version != expected_version:
                raise _Stale(
                    ConcurrentModificationError(
                        "protection group",
                        group_id,
                        expected_version=expected_version,
                        actual_version=current.version,
                    )
                )
            selection_tags = dict(tags) if tags is not None else None
            if wanted is None and selection_tags is None:
                selection_tags = current.server_selection_tags
            data = current.model_dump()
            data.update(
                server_selection_tags=selection_tags,
                name=name if name is not None else current.name,
                description=description if description is not None else current.description,
            )
            if launch_settings is not None:
                data["launch_settings"] = _settings(launch_settings, "launchSettings")
            if server_overrides is not None:
                data["server_overrides"] = _overrides(server_overrides)
            if wanted is not None or selection_tags is not None:
                servers = resolve(current, selection_tags)
            else:
                servers = list(current.source_server_ids)
            data["source_server_ids"] = servers
            overrides = data["server_overrides"]
            data["server_overrides"] = {
                sid: o for sid, o in overrides.items() if sid in set(servers)
            }
            data["updated_at"] = self._clock()
            updated = self._build(data)
            desired = self._launch_configs.desired_hashes(updated)
            changed = servers != current.source_server_ids or desired != (
                self._launch_configs.desired_hashes(current)
            )
            try:
                if servers == current.source_server_ids:
                    stored = self._storage.protection_groups.put(
                        updated, expected_version=current.version
                    )
                else:
                    stored = self._membership.save(updated, current)
            except ConcurrentModificationError as conflict:
                if expected_version is not None and conflict.key == group_id:
                    raise _Stale(conflict) from None
                raise
            return stored, changed

        try:
            stored, changed = retry_conflicts(attempt)
        except _Stale as stale:
            raise stale.error from None
        if changed or force:
            self._apply(group_id, force=force, timeout_s=timeout_s)
            return self.get(group_id)
        return stored

    def delete(self, group_id: str, *, expected_version: int | None = None) -> None:
        """Delete a group that no recovery plan references, releasing its servers.

        Args:
            group_id: The group to delete.
            expected_version: Delete only the group at this version (without
                it, whatever version is stored when the plans were checked).

        Raises:
            NotFoundError: the group does not exist.
            ConflictError: plans still use it (named).
            ConcurrentModificationError: the group is not at ``expected_version``.
        """

        def attempt() -> None:
            group = self.get(group_id)
            if expected_version is not None and group.version != expected_version:
                raise _Stale(
                    ConcurrentModificationError(
                        "protection group",
                        group_id,
                        expected_version=expected_version,
                        actual_version=group.version,
                    )
                )
            users = [
                f"{plan.name} ({plan.plan_id})"
                for plan in self._storage.recovery_plans.list()
                if any(group_id in wave.protection_group_ids for wave in plan.waves)
            ]
            if users:
                raise ConflictError(
                    f"protection group {group.name!r} ({group_id}) is used by plan(s): "
                    + ", ".join(users),
                    details={"groupId": group_id, "plans": users},
                )
            try:
                self._membership.delete(group)
            except ConcurrentModificationError as conflict:
                if expected_version is not None and conflict.key == group_id:
                    raise _Stale(conflict) from None
                raise

        try:
            retry_conflicts(attempt)
        except _Stale as stale:
            raise stale.error from None

    # ---- helpers ----------------------------------------------------------------------

    @staticmethod
    def _check_selection(server_ids: Iterable[str] | None, tags: Mapping[str, str] | None) -> None:
        if (server_ids is None) == (tags is None):
            raise ValidationError.for_field(
                "serverIds",
                None if server_ids is None else list(server_ids),
                "give exactly one of server_ids and tags",
            )

    @staticmethod
    def _build(data: Mapping[str, Any]) -> ProtectionGroup:
        try:
            return ProtectionGroup.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc

    def _resolve(
        self,
        group: ProtectionGroup,
        server_ids: Iterable[str] | None,
        tags: Mapping[str, str] | None,
    ) -> builtins.list[str]:
        drs = DrsGateway(self._clients, group.region, group.account, retry=self._retry)
        if server_ids is not None:
            try:
                wanted = _SERVER_IDS.validate_python(list(dict.fromkeys(server_ids)))
            except pydantic.ValidationError as exc:
                raise ValidationError.from_pydantic(exc, prefix="serverIds") from exc
            found = {
                s["sourceServerID"] for s in drs.describe_source_servers(source_server_ids=wanted)
            }
            missing = [sid for sid in wanted if sid not in found]
            if missing:
                raise ValidationError(
                    f"{len(missing)} source server(s) not found in DRS "
                    f"({group.region}): {', '.join(missing)}",
                    problems=[
                        {"field": "serverIds", "message": "not found in DRS", "value": missing}
                    ],
                )
            return wanted
        assert tags is not None
        return sorted(
            s["sourceServerID"]
            for s in drs.describe_source_servers()
            if all(s.get("tags", {}).get(k) == v for k, v in tags.items())
        )

    def _apply(self, group_id: str, *, force: bool, timeout_s: float) -> None:
        try:
            self._launch_configs.apply_to_group(group_id, force=force, timeout_s=timeout_s)
        except ConcurrentModificationError:
            # Someone else is applying this group right now; their run records the status.
            logger.warning("launch configuration apply lost a race", extra={"groupId": group_id})


class _Stale(Exception):  # noqa: N818 - internal, carries the error the caller gets
    """The group is not at the caller's expected version: retrying cannot help."""

    def __init__(self, error: ConcurrentModificationError) -> None:
        super().__init__(error.message)
        self.error = error
