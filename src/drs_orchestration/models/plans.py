"""Recovery plans: ordered waves of protection groups."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from drs_orchestration.errors import InvalidFields
from drs_orchestration.models.account import AccountContext
from drs_orchestration.models.base import DrsModel, Timestamp, VersionedModel, utc_now
from drs_orchestration.models.ids import (
    PlanId,
    ProtectionGroupId,
    Region,
    SourceServerId,
    new_plan_id,
)
from drs_orchestration.models.readiness import ReadinessPolicy

__all__ = ["FailurePolicy", "RecoveryPlan", "Wave"]

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
    timeout_s: Annotated[int, Field(gt=0)] = 3600

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
    set, one wave runs at a time.
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
            cycle = _find_cycle({w.name: list(w.depends_on) for w in self.waves})
            if cycle:
                where = first_index[cycle[0]]
                problems.append(
                    (f"waves.{where}.dependsOn", "dependency cycle: " + " -> ".join(cycle), cycle)
                )
        if problems:
            raise InvalidFields(problems)
        return self

    def ordered_waves(self) -> list[Wave]:
        """The waves in a valid execution order (dependencies first, then ``order``/position)."""
        position = {
            w.name: (w.order if w.order is not None else i, i) for i, w in enumerate(self.waves)
        }
        by_name = {w.name: w for w in self.waves}
        done: set[str] = set()
        result: list[Wave] = []
        while len(result) < len(self.waves):
            ready = [
                w for w in self.waves if w.name not in done and all(d in done for d in w.depends_on)
            ]
            nxt = min(ready, key=lambda w: position[w.name])
            result.append(by_name[nxt.name])
            done.add(nxt.name)
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


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """Return one dependency cycle as a path ``[a, b, ..., a]``, or ``None``."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for dep in graph.get(node, []):
            if colour.get(dep) == grey:
                return [*stack[stack.index(dep) :], dep]
            if colour.get(dep) == white:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in graph:
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None
