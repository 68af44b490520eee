"""Recovery plans: ordered waves of protection groups.

Sizes are bounded so that every check and every ordering stays cheap
(linear in waves plus dependencies) and no input can exhaust the stack:
at most :data:`MAX_WAVES_PER_PLAN` waves, :data:`MAX_SERVERS_PER_WAVE`
servers in a wave and :data:`~drs_orchestration.models.base.MAX_TIMEOUT_S`
seconds of wave timeout.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from drs_orchestration.errors import InvalidFields, ValidationError
from drs_orchestration.models.account import AccountContext
from drs_orchestration.models.base import (
    MAX_TIMEOUT_S,
    DrsModel,
    Timestamp,
    VersionedModel,
    utc_now,
)
from drs_orchestration.models.ids import (
    PlanId,
    ProtectionGroupId,
    Region,
    SourceServerId,
    new_plan_id,
)
from drs_orchestration.models.readiness import ReadinessPolicy

__all__ = [
    "MAX_SERVERS_PER_WAVE",
    "MAX_WAVES_PER_PLAN",
    "FailurePolicy",
    "RecoveryPlan",
    "ResolvedWave",
    "Wave",
    "check_wave_inputs",
    "find_cycle",
]

MAX_WAVES_PER_PLAN = 1000
"""The most waves a plan may have."""

MAX_SERVERS_PER_WAVE = 5000
"""The most source servers a wave may launch (several DRS jobs of at most 100 each)."""

WaveName = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w .:/=+@-]*$")
]


class FailurePolicy(StrEnum):
    """What a plan does when a wave ends with failed servers."""

    CONTINUE = "continue"
    """Record the wave as ``partial`` and go on with the next waves."""
    STOP = "stop"
    """Fail the execution; later waves do not start."""


class Wave(DrsModel):
    """One step of a recovery plan: the servers of some protection groups, launched together.

    A wave follows its groups: an execution resolves each group's stored
    ``source_server_ids`` when it starts (never tags: DESIGN.md contract 1),
    so a server added to or removed from a group after the plan was saved
    is launched or left out accordingly. A *frozen* wave launches exactly its
    ``server_ids`` instead (copied from its groups when the plan is saved, or
    given explicitly with a ``region``), for teams that want a plan that does
    not move. ``region`` and ``account`` are copied from the groups when the
    plan is saved.
    """

    name: WaveName
    order: int | None = None
    protection_group_ids: list[ProtectionGroupId] = Field(default_factory=list)
    frozen: bool = False
    server_ids: list[SourceServerId] = Field(default_factory=list)
    """The servers of a frozen wave; ignored (a copy kept by older versions) otherwise."""
    region: Region | None = None
    account: AccountContext | None = None
    depends_on: list[WaveName] = Field(default_factory=list)
    pause_before: bool = False
    point_in_time: Timestamp | None = None
    timeout_s: Annotated[int, Field(gt=0, le=MAX_TIMEOUT_S)] = 3600

    @model_validator(mode="before")
    @classmethod
    def _explicit_servers_freeze(cls, data: Any) -> Any:
        # Servers listed without groups can only be a fixed list: the wave is frozen.
        if isinstance(data, dict):
            groups = data.get("protectionGroupIds", data.get("protection_group_ids"))
            servers = data.get("serverIds", data.get("server_ids"))
            if servers and not groups and "frozen" not in data:
                return {**data, "frozen": True}
        return data

    @field_validator("server_ids", "protection_group_ids", "depends_on")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        dupes = sorted(item for item, n in Counter(value).items() if n > 1)
        if dupes:
            raise ValueError(f"duplicates: {dupes}")
        return value

    @field_validator("server_ids", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        # Checked before the IDs are, so an oversized list costs one len().
        if isinstance(value, Sequence) and len(value) > MAX_SERVERS_PER_WAVE:
            raise InvalidFields(
                [("", f"a wave launches at most {MAX_SERVERS_PER_WAVE} servers", len(value))]
            )
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.frozen and not self.server_ids and not self.protection_group_ids:
            raise InvalidFields(
                [("serverIds", "a frozen wave needs serverIds (or groups to copy them from)", [])]
            )
        if not self.frozen and not self.protection_group_ids:
            raise InvalidFields(
                [
                    (
                        "protectionGroupIds",
                        "wave is empty: give protectionGroupIds (or frozen serverIds)",
                        [],
                    )
                ]
            )
        if self.name in self.depends_on:
            raise InvalidFields([("dependsOn", "a wave cannot depend on itself", self.name)])
        return self


class RecoveryPlan(VersionedModel):
    """An ordered set of waves.

    Waves run in dependency order (``depends_on``), ties broken by ``order``
    (default: position in ``waves``). Unless ``allow_concurrent_waves`` is
    set, one wave runs at a time. A plan has 1 to :data:`MAX_WAVES_PER_PLAN`
    waves.
    """

    plan_id: PlanId = Field(default_factory=new_plan_id)
    name: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)]
    description: Annotated[str, StringConstraints(max_length=2048)] | None = None
    waves: Annotated[list[Wave], Field(min_length=1)]
    failure_policy: FailurePolicy = FailurePolicy.STOP
    allow_concurrent_waves: bool = False
    readiness: ReadinessPolicy = Field(default_factory=ReadinessPolicy)
    """Which servers a drill and a recovery launch (overridable per execution)."""
    created_at: Timestamp = Field(default_factory=utc_now)
    updated_at: Timestamp = Field(default_factory=utc_now)

    @field_validator("waves", mode="before")
    @classmethod
    def _wave_count(cls, value: Any) -> Any:
        # Before each wave is validated, so an oversized plan is refused at once.
        if isinstance(value, Sequence) and not isinstance(value, str | bytes):
            _check_wave_count(len(value))
        return value

    @model_validator(mode="after")
    def _waves_consistent(self) -> Self:
        problems: list[tuple[str, str, object]] = []
        first_index: dict[str, int] = {}
        for i, wave in enumerate(self.waves):
            if wave.name in first_index:
                problems.append(
                    (
                        f"waves.{i}.name",
                        f"duplicate of waves.{first_index[wave.name]}.name",
                        wave.name,
                    )
                )
            first_index.setdefault(wave.name, i)
        order_index: dict[int, int] = {}
        for i, wave in enumerate(self.waves):
            if wave.order is None:
                continue
            if wave.order in order_index:
                problems.append(
                    (
                        f"waves.{i}.order",
                        f"duplicate of waves.{order_index[wave.order]}.order",
                        wave.order,
                    )
                )
            order_index.setdefault(wave.order, i)
        for i, wave in enumerate(self.waves):
            for j, dep in enumerate(wave.depends_on):
                if dep not in first_index:
                    problems.append((f"waves.{i}.dependsOn.{j}", "unknown wave", dep))
        owner: dict[str, int] = {}
        for i, wave in enumerate(self.waves):
            for j, sid in enumerate(wave.server_ids if wave.frozen else []):
                if sid in owner:
                    other = self.waves[owner[sid]].name
                    problems.append(
                        (f"waves.{i}.serverIds.{j}", f"server is already in wave {other!r}", sid)
                    )
                owner.setdefault(sid, i)
        if not problems:
            cycle = find_cycle({w.name: w.depends_on for w in self.waves})
            if cycle:
                where = first_index[cycle[0]]
                problems.append(
                    (f"waves.{where}.dependsOn", "dependency cycle: " + " -> ".join(cycle), cycle)
                )
        if problems:
            raise InvalidFields(problems)
        return self

    def ordered_waves(self) -> list[Wave]:
        """The waves in a valid execution order (dependencies first, then ``order``/position).

        Of the waves whose dependencies have all come, the one with the
        lowest ``order`` (its position when unset; position breaks ties)
        comes next. Kahn's algorithm with a heap: O((V + E) log V).
        """
        index = {w.name: i for i, w in enumerate(self.waves)}
        waiting = [len(w.depends_on) for w in self.waves]
        dependants: list[list[int]] = [[] for _ in self.waves]
        for i, wave in enumerate(self.waves):
            for dep in wave.depends_on:
                dependants[index[dep]].append(i)

        def key(i: int) -> tuple[int, int]:
            order = self.waves[i].order
            return (order if order is not None else i, i)

        ready = [key(i) for i, n in enumerate(waiting) if n == 0]
        heapq.heapify(ready)
        result: list[Wave] = []
        while ready:
            _, i = heapq.heappop(ready)
            result.append(self.waves[i])
            for j in dependants[i]:
                waiting[j] -= 1
                if waiting[j] == 0:
                    heapq.heappush(ready, key(j))
        if len(result) != len(self.waves):
            # Validation refuses cycles; only a plan built without it gets here.
            cycle = find_cycle({w.name: w.depends_on for w in self.waves}) or []
            raise ValidationError.for_field(
                "waves", cycle, "dependency cycle: " + " -> ".join(cycle)
            )
        return result

    def wave(self, name: str) -> Wave:
        """Return the wave called ``name``.

        Raises:
            KeyError: if the plan has no such wave.
        """
        for w in self.waves:
            if w.name == name:
                return w
        raise KeyError(name)

    def _repr_html_(self) -> str:
        from drs_orchestration.reports.html import recovery_plan_html

        return recovery_plan_html(self)


def _check_wave_count(count: int) -> None:
    if count > MAX_WAVES_PER_PLAN:
        raise InvalidFields([("", f"a plan has at most {MAX_WAVES_PER_PLAN} waves", count)])


def check_wave_inputs(waves: object) -> list[Any]:
    """Check the ``waves`` argument of a plan before each wave is looked at.

    A service that resolves waves one by one (groups to servers) calls this
    first, so ``None``, a string or a plan of 100,000 waves is refused with
    a :class:`~drs_orchestration.errors.ValidationError` naming ``waves``,
    not a ``TypeError`` or a long wait.

    Returns:
        The waves as a list.

    Raises:
        ValidationError: ``waves`` is not a list (or tuple) of 1 to
            :data:`MAX_WAVES_PER_PLAN` items.
    """
    if isinstance(waves, str | bytes | Mapping) or not isinstance(waves, Sequence):
        raise ValidationError.for_field(
            "waves", waves, "must be a list of waves (each a Wave or a dict)"
        )
    if not waves:
        raise ValidationError.for_field("waves", [], "a plan needs at least one wave")
    if len(waves) > MAX_WAVES_PER_PLAN:
        raise ValidationError.for_field(
            "waves", len(waves), f"a plan has at most {MAX_WAVES_PER_PLAN} waves"
        )
    return list(waves)


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one dependency cycle as a path ``[a, b, ..., a]``, or ``None``.

    ``graph`` maps each node to the nodes it depends on; names missing from
    the mapping are leaves. Depth-first search with an explicit stack, so a
    chain of any length is fine: O(V + E) time, no recursion.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    for root in graph:
        if colour[root] != white:
            continue
        colour[root] = grey
        path = [root]
        # One iterator per node on the path: where its dependencies were left off.
        pending = [iter(graph[root])]
        while pending:
            for dep in pending[-1]:
                state = colour.get(dep, black)
                if state == grey:
                    return [*path[path.index(dep) :], dep]
                if state == white:
                    colour[dep] = grey
                    path.append(dep)
                    pending.append(iter(graph[dep]))
                    break
            else:
                colour[path.pop()] = black
                pending.pop()
    return None


@dataclass(frozen=True)
class ResolvedWave:
    """A wave with the servers an execution starting now would launch.

    Attributes:
        wave: The plan's wave.
        server_ids: Its groups' current servers (in group order), or its frozen list.
        region: Where they replicate.
        account: The account they are in (``None``: the caller's own).
        group_versions: The version of each group the servers came from.
    """

    wave: Wave
    server_ids: list[str]
    region: str
    account: AccountContext | None
    group_versions: dict[str, int] = field(default_factory=dict)
    launch_into: dict[str, str] = field(default_factory=dict)
    """Servers whose launch settings launch them into an existing instance, and that instance."""
