"""RecoveryPlanService: plans whose waves reference protection groups.

A plan follows its groups: each wave names groups, and an execution
resolves the groups' stored ``source_server_ids`` when it starts
(:func:`resolve_waves`), so a server removed from a group after the plan was
saved is not launched and one added (with its launch configuration applied)
is. Tags are never resolved here (DESIGN.md contract 1): groups resolve tags
when they are saved. A wave can be *frozen* instead: it launches the server
list copied when the plan was saved (or given explicitly with a region).

:meth:`RecoveryPlanService.check` reports what would stop or surprise the
next execution (missing groups, empty or stale waves, a server in two
waves) without touching AWS.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pydantic

from drs_orchestration.errors import (
    ConcurrentModificationError,
    DrsOrchestrationError,
    ValidationError,
)
from drs_orchestration.models import (
    ConfigStatus,
    FailurePolicy,
    ProtectionGroup,
    RecoveryPlan,
    Wave,
    utc_now,
)
from drs_orchestration.models.base import aware_clock
from drs_orchestration.models.plans import ResolvedWave, check_wave_inputs
from drs_orchestration.models.readiness import ReadinessPolicy
from drs_orchestration.storage.base import Storage

__all__ = [
    "PlanCheck",
    "PlanFinding",
    "RecoveryPlanService",
    "ResolvedWave",
    "resolve_waves",
]

WaveInput = Wave | Mapping[str, Any]

_UPDATE_ATTEMPTS = 10


def _wave(value: WaveInput, index: int) -> Wave:
    if isinstance(value, Wave):
        return value
    if not isinstance(value, Mapping):
        raise ValidationError.for_field(
            f"waves.{index}", value, "a wave is a mapping (or a Wave) with a name and groups"
        )
    try:
        return Wave.model_validate(value)
    except pydantic.ValidationError as exc:
        raise ValidationError.from_pydantic(exc, prefix=f"waves.{index}") from exc


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class PlanFinding:
    """One thing :meth:`RecoveryPlanService.check` found.

    Attributes:
        severity: ``error`` stops an execution from starting; ``warning`` does not.
        field: Where in the plan (``waves.2.protectionGroupIds.0``).
        message: What is wrong and what to do.
        value: The offending value.
    """

    severity: Severity
    field: str
    message: str
    value: Any = None


@dataclass(frozen=True)
class PlanCheck:
    """The result of checking a plan against its groups as stored now.

    Attributes:
        plan_id: The plan checked.
        findings: Errors and warnings, in wave order.
        waves: Each wave that resolved, with its servers.
    """

    plan_id: str
    findings: list[PlanFinding]
    waves: list[ResolvedWave]

    @property
    def ok(self) -> bool:
        """Whether an execution could start (warnings allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[PlanFinding]:
        """The findings that stop an execution."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[PlanFinding]:
        """The findings that do not."""
        return [f for f in self.findings if f.severity == "warning"]


def _place(group: ProtectionGroup) -> tuple[str, Any]:
    return (group.region, group.account.cache_key() if group.account else None)


def _launch_into(group: ProtectionGroup, source_server_id: str) -> str | None:
    """The existing instance a server's effective settings launch it into, if any."""
    try:
        properties = group.effective_settings(source_server_id).launch_into_instance_properties
    except DrsOrchestrationError:
        return None  # settings that no longer validate are reported when the wave applies them
    return properties.launch_into_ec2_instance_id if properties is not None else None


def _resolve(
    plan: RecoveryPlan, groups: Mapping[str, ProtectionGroup]
) -> tuple[list[ResolvedWave], list[PlanFinding]]:
    """Resolve every wave against ``groups``; report every problem found."""
    findings: list[PlanFinding] = []
    resolved: list[ResolvedWave] = []
    owner: dict[str, str] = {}
    for i, wave in enumerate(plan.waves):
        missing = [(j, gid) for j, gid in enumerate(wave.protection_group_ids) if gid not in groups]
        findings.extend(
            PlanFinding(
                "error",
                f"waves.{i}.protectionGroupIds.{j}",
                f"wave {wave.name!r}: protection group {gid} no longer exists; remove it from "
                "the plan or restore the group",
                gid,
            )
            for j, gid in missing
        )
        members = [groups[g] for g in wave.protection_group_ids if g in groups]
        if len({_place(g) for g in members}) > 1:
            findings.append(
                PlanFinding(
                    "error",
                    f"waves.{i}.protectionGroupIds",
                    f"wave {wave.name!r}: its groups are in different regions or accounts; "
                    "split them into separate waves",
                    [f"{g.group_id}: {g.region}" for g in members],
                )
            )
            continue
        if wave.frozen:
            servers = list(wave.server_ids)
            current = list(dict.fromkeys(s for g in members for s in g.source_server_ids))
            if members and not missing and sorted(current) != sorted(servers):
                findings.append(
                    PlanFinding(
                        "warning",
                        f"waves.{i}.serverIds",
                        f"wave {wave.name!r} is frozen and its groups changed since the plan "
                        "was saved: it launches its saved list; save the plan again to refresh "
                        "it",
                        {
                            "added": sorted(set(current) - set(servers)),
                            "removed": sorted(set(servers) - set(current)),
                        },
                    )
                )
        else:
            servers = list(dict.fromkeys(s for g in members for s in g.source_server_ids))
        region = members[0].region if members else wave.region
        account = members[0].account if members else wave.account
        if region is None:
            findings.append(
                PlanFinding(
                    "error",
                    f"waves.{i}.region",
                    f"wave {wave.name!r} has no region: give its groups or a region",
                    None,
                )
            )
            continue
        if not servers and not missing:
            findings.append(
                PlanFinding(
                    "error",
                    f"waves.{i}.protectionGroupIds",
                    f"wave {wave.name!r} has no servers: its groups are empty",
                    list(wave.protection_group_ids),
                )
            )
        for sid in servers:
            if sid in owner:
                findings.append(
                    PlanFinding(
                        "error",
                        f"waves.{i}",
                        f"server {sid} is in wave {owner[sid]!r} and in wave {wave.name!r}",
                        sid,
                    )
                )
            owner.setdefault(sid, wave.name)
        for group in members:
            if group.launch_config_status.status is not ConfigStatus.READY:
                findings.append(
                    PlanFinding(
                        "warning",
                        f"waves.{i}.protectionGroupIds",
                        f"wave {wave.name!r}: group {group.name!r} ({group.group_id}) has launch "
                        f"configuration status {group.launch_config_status.status.value!r}; the "
                        "wave applies it before launching (the fallback path)",
                        group.group_id,
                    )
                )
        chosen = set(servers)
        resolved.append(
            ResolvedWave(
                wave=wave,
                server_ids=servers,
                region=region,
                account=account,
                group_versions={g.group_id: g.version for g in members},
                launch_into={
                    sid: target
                    for g in members
                    for sid in g.source_server_ids
                    if sid in chosen and (target := _launch_into(g, sid)) is not None
                },
            )
        )
    return resolved, findings


def resolve_waves(storage: Storage, plan: RecoveryPlan) -> list[ResolvedWave]:
    """The servers each wave of ``plan`` launches if an execution starts now.

    Reads the plan's groups in one batch and takes their stored
    ``source_server_ids`` (frozen waves keep their saved list).

    Raises:
        ValidationError: naming every wave that cannot run (a missing group,
            groups in different places, no servers, a server in two waves).
    """
    groups = storage.protection_groups.get_many(
        gid for wave in plan.waves for gid in wave.protection_group_ids
    )
    resolved, findings = _resolve(plan, groups)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ValidationError(
            f"plan {plan.name!r} ({plan.plan_id}) cannot run: "
            + "; ".join(f.message for f in errors[:5])
            + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""),
            problems=[{"field": f.field, "message": f.message, "value": f.value} for f in errors],
        )
    return resolved


class RecoveryPlanService:
    """Recovery plans: ordered waves of protection groups.

    Examples:
        >>> plans = RecoveryPlanService(storage)
        >>> plan = plans.create("shop", [
        ...     {"name": "database", "protectionGroupIds": [db.group_id]},
        ...     {"name": "app", "protectionGroupIds": [app.group_id], "dependsOn": ["database"]},
        ... ])
        >>> plans.check(plan.plan_id).ok
        True
    """

    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._storage = storage
        self._clock = aware_clock(clock)

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
        readiness: ReadinessPolicy | Mapping[str, Any] | None = None,
    ) -> RecoveryPlan:
        """Save a new plan whose waves follow their protection groups.

        Args:
            name: The plan's name.
            waves: Each wave: ``name``, ``protectionGroupIds``, and optionally
                ``dependsOn``, ``order``, ``pauseBefore``, ``pointInTime``,
                ``timeoutS``; ``frozen: true`` to keep the groups' current
                servers as a fixed list (or ``serverIds`` and ``region``
                without groups).
            description: Free text.
            failure_policy: ``stop`` or ``continue`` when a wave has failed servers.
            allow_concurrent_waves: Run waves whose dependencies are met at once.
            readiness: Which servers drills and recoveries launch
                (default: drills CONTINUOUS only, recoveries every server with a
                recovery point).

        Raises:
            ValidationError: naming the field of each problem (unknown group,
                groups of one wave in different regions or accounts, a group or
                server in two waves, unknown or cyclic dependencies, ...).
        """
        now = self._clock()
        plan = self._build(
            {
                "name": name,
                "description": description,
                "failure_policy": failure_policy,
                "allow_concurrent_waves": allow_concurrent_waves,
                "readiness": readiness if readiness is not None else ReadinessPolicy(),
                "created_at": now,
                "updated_at": now,
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
        readiness: ReadinessPolicy | Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> RecoveryPlan:
        """Change a plan; what is not given stays as stored.

        Without ``expected_version`` a concurrent write is not lost: the
        change is applied again to the plan as stored then. With it, the
        update applies only to that version.

        Raises:
            NotFoundError: the plan does not exist.
            ValidationError: as for :meth:`create`.
            ConcurrentModificationError: the stored version is not ``expected_version``.
        """
        for _ in range(_UPDATE_ATTEMPTS):
            current = self.get(plan_id)
            if expected_version is not None and current.version != expected_version:
                raise ConcurrentModificationError(
                    "recovery plan",
                    plan_id,
                    expected_version=expected_version,
                    actual_version=current.version,
                )
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
                "readiness": readiness if readiness is not None else current.readiness,
                "version": current.version,
                "created_at": current.created_at,
                "updated_at": self._clock(),
            }
            specs: Sequence[WaveInput] = (
                waves
                if waves is not None
                else [
                    w.model_dump(exclude=set() if w.frozen else {"server_ids"})
                    for w in current.waves
                ]
            )
            try:
                return self._storage.recovery_plans.put(self._build(fields, specs))
            except ConcurrentModificationError:
                if expected_version is not None:
                    raise
        raise ConcurrentModificationError(
            "recovery plan", plan_id, expected_version=None, actual_version=None
        )

    def delete(self, plan_id: str) -> None:
        """Delete a plan (its executions stay in storage).

        Raises:
            NotFoundError: the plan does not exist.
        """
        plan = self.get(plan_id)
        self._storage.recovery_plans.delete(plan_id, expected_version=plan.version)

    def check(self, plan_id: str) -> PlanCheck:
        """Check a plan against its groups as stored now (no AWS call).

        Errors stop the next execution from starting: a missing group, groups
        of one wave in different places, a wave with no servers, a server in
        two waves. Warnings do not: a frozen wave whose groups changed (stale),
        a group whose launch configuration is not ``ready`` (the wave applies
        it first).

        Raises:
            NotFoundError: the plan does not exist.
        """
        plan = self.get(plan_id)
        groups = self._storage.protection_groups.get_many(
            gid for wave in plan.waves for gid in wave.protection_group_ids
        )
        resolved, findings = _resolve(plan, groups)
        return PlanCheck(plan_id=plan_id, findings=findings, waves=resolved)

    # ---- helpers ----------------------------------------------------------------------

    def _build(self, fields: Mapping[str, Any], given: object) -> RecoveryPlan:
        waves = check_wave_inputs(given)
        parsed = [_wave(w, i) for i, w in enumerate(waves)]
        groups = self._storage.protection_groups.get_many(
            gid for w in parsed for gid in w.protection_group_ids
        )
        problems: list[dict[str, Any]] = []
        built: list[dict[str, Any]] = []
        first_wave_of: dict[str, str] = {}
        for i, (raw, wave) in enumerate(zip(waves, parsed, strict=True)):
            data = wave.model_dump()
            gave_servers = isinstance(raw, Mapping) and bool(
                raw.get("serverIds") or raw.get("server_ids")
            )
            if wave.protection_group_ids and gave_servers and not wave.frozen:
                problems.append(
                    {
                        "field": f"waves.{i}.serverIds",
                        "message": "the wave follows its protection groups; leave it empty "
                        "(or set frozen: true to launch exactly these servers)",
                        "value": wave.server_ids,
                    }
                )
            for j, gid in enumerate(wave.protection_group_ids):
                if gid not in groups:
                    problems.append(
                        {
                            "field": f"waves.{i}.protectionGroupIds.{j}",
                            "message": "unknown protection group",
                            "value": gid,
                        }
                    )
                elif gid in first_wave_of:
                    problems.append(
                        {
                            "field": f"waves.{i}.protectionGroupIds.{j}",
                            "message": f"the group is already in wave {first_wave_of[gid]!r}",
                            "value": gid,
                        }
                    )
                first_wave_of.setdefault(gid, wave.name)
            members = [groups[g] for g in wave.protection_group_ids if g in groups]
            if wave.protection_group_ids and len(members) < len(wave.protection_group_ids):
                continue
            if len({_place(g) for g in members}) > 1:
                problems.append(
                    {
                        "field": f"waves.{i}.protectionGroupIds",
                        "message": "the groups of one wave must share a region and account "
                        "(split them into separate waves)",
                        "value": [f"{g.group_id}: {g.region}" for g in members],
                    }
                )
                continue
            if members:
                servers = [sid for g in members for sid in g.source_server_ids]
                if not servers:
                    problems.append(
                        {
                            "field": f"waves.{i}.protectionGroupIds",
                            "message": "the wave's protection groups have no servers",
                            "value": wave.protection_group_ids,
                        }
                    )
                data["region"] = members[0].region
                data["account"] = members[0].account
                data["server_ids"] = servers if wave.frozen else []
            elif wave.region is None:
                problems.append(
                    {
                        "field": f"waves.{i}.region",
                        "message": "a frozen wave without groups needs a region",
                        "value": None,
                    }
                )
            built.append(data)
        if problems:
            raise ValidationError(
                "invalid recovery plan: "
                + "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5]),
                problems=problems,
            )
        try:
            return RecoveryPlan.model_validate({**fields, "waves": built})
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc
