"""RecoveryPlanService: plans whose waves reference protection groups.

When a plan is saved, each wave's ``server_ids``, ``region`` and ``account``
are copied from its groups. Executions use those copies and never resolve
anything again (DESIGN.md contract 1); saving the plan again (``update``
without changes) refreshes them after the groups changed.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pydantic

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import FailurePolicy, RecoveryPlan, Wave, utc_now
from drs_orchestration.storage.base import Storage

__all__ = ["RecoveryPlanService"]

WaveInput = Wave | Mapping[str, Any]


def _wave(value: WaveInput, index: int) -> Wave:
    if isinstance(value, Wave):
        return value
    try:
        return Wave.model_validate(value)
    except pydantic.ValidationError as exc:
        raise ValidationError.from_pydantic(exc, prefix=f"waves.{index}") from exc


class RecoveryPlanService:
    """Recovery plans: ordered waves of protection groups.

    Example:
        >>> plans = RecoveryPlanService(storage)
        >>> plan = plans.create("shop", [
        ...     {"name": "database", "protectionGroupIds": [db.group_id]},
        ...     {"name": "app", "protectionGroupIds": [app.group_id], "dependsOn": ["database"]},
        ... ])
    """

    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._storage = storage
        self._clock = clock

    def get(self, plan_id: str) -> RecoveryPlan:
        """Return a plan.

        Raises:
            NotFoundError: if it does not exist.
        """
        return self._storage.recovery_plans.get(plan_id)

    def list(self) -> builtins.list[RecoveryPlan]:
        """Every recovery plan."""
        return self._storage.recovery_plans.list()

    def create(
        self,
        name: str,
        waves: Sequence[WaveInput],
        *,
        description: str | None = None,
        failure_policy: FailurePolicy | str = FailurePolicy.STOP,
        allow_concurrent_waves: bool = False,
    ) -> RecoveryPlan:
        """Save a new plan, copying each wave's servers, region and account from its groups.

        Raises:
            ValidationError: naming the field of each problem (unknown group,
                groups of one wave in different regions or accounts, a server
                in two waves, unknown or cyclic dependencies, ...).
        """
        plan = self._resolve(
            {
                "name": name,
                "description": description,
                "failure_policy": failure_policy,
                "allow_concurrent_waves": allow_concurrent_waves,
            },
            waves,
        )
        return self._storage.recovery_plans.put(plan)

    def update(
        self,
        plan_id: str,
        *,
        name: str | None = None,
        waves: Sequence[WaveInput] | None = None,
        description: str | None = None,
        failure_policy: FailurePolicy | str | None = None,
        allow_concurrent_waves: bool | None = None,
    ) -> RecoveryPlan:
        """Change a plan and copy its waves' servers from the groups again.

        Raises:
            NotFoundError: the plan does not exist.
            ValidationError: as for :meth:`create`.
            ConcurrentModificationError: the plan changed meanwhile.
        """
        current = self.get(plan_id)
        fields = {
            "plan_id": current.plan_id,
            "name": name if name is not None else current.name,
            "description": description if description is not None else current.description,
            "failure_policy": failure_policy or current.failure_policy,
            "allow_concurrent_waves": (
                current.allow_concurrent_waves
                if allow_concurrent_waves is None
                else allow_concurrent_waves
            ),
            "version": current.version,
            "created_at": current.created_at,
            "updated_at": self._clock(),
        }
        if waves is None:
            waves = [
                w.model_dump(exclude={"server_ids", "region", "account"}) for w in current.waves
            ]
        return self._storage.recovery_plans.put(self._resolve(fields, waves))

    def delete(self, plan_id: str) -> None:
        """Delete a plan (its executions stay in storage).

        Raises:
            NotFoundError: the plan does not exist.
        """
        plan = self.get(plan_id)
        self._storage.recovery_plans.delete(plan_id, expected_version=plan.version)

    # ---- helpers ----------------------------------------------------------------------

    def _resolve(self, fields: Mapping[str, Any], waves: Sequence[WaveInput]) -> RecoveryPlan:
        parsed = [_wave(w, i) for i, w in enumerate(waves)]
        group_ids = {gid for w in parsed for gid in w.protection_group_ids}
        groups = self._storage.protection_groups.get_many(group_ids)
        problems: list[dict[str, Any]] = []
        resolved: list[dict[str, Any]] = []
        for i, wave in enumerate(parsed):
            data = wave.model_dump()
            if wave.server_ids:
                problems.append(
                    {
                        "field": f"waves.{i}.serverIds",
                        "message": "copied from the wave's protection groups; leave it empty",
                        "value": wave.server_ids,
                    }
                )
            missing = [
                (j, gid) for j, gid in enumerate(wave.protection_group_ids) if gid not in groups
            ]
            problems.extend(
                {
                    "field": f"waves.{i}.protectionGroupIds.{j}",
                    "message": "unknown protection group",
                    "value": gid,
                }
                for j, gid in missing
            )
            members = [groups[g] for g in wave.protection_group_ids if g in groups]
            if not wave.protection_group_ids:
                problems.append(
                    {
                        "field": f"waves.{i}.protectionGroupIds",
                        "message": "a wave needs at least one protection group",
                        "value": [],
                    }
                )
            if missing or not members:
                continue
            places = {(g.region, g.account.cache_key() if g.account else None) for g in members}
            if len(places) > 1:
                problems.append(
                    {
                        "field": f"waves.{i}.protectionGroupIds",
                        "message": "the groups of one wave must share a region and account "
                        "(split them into separate waves)",
                        "value": [f"{g.group_id}: {g.region}" for g in members],
                    }
                )
                continue
            data["server_ids"] = [sid for g in members for sid in g.source_server_ids]
            if not data["server_ids"]:
                problems.append(
                    {
                        "field": f"waves.{i}.protectionGroupIds",
                        "message": "the wave's protection groups have no servers",
                        "value": wave.protection_group_ids,
                    }
                )
            data["region"] = members[0].region
            data["account"] = members[0].account
            resolved.append(data)
        if problems:
            raise ValidationError(
                "invalid recovery plan: "
                + "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5]),
                problems=problems,
            )
        try:
            return RecoveryPlan.model_validate({**fields, "waves": resolved})
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc
