"""Shared set-up for wave executor tests: a simulator-backed Orchestrator and small plans."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto import mock_aws

from drs_orchestration import MemoryStorage, Orchestrator, RetryPolicy
from drs_orchestration.events import Event
from drs_orchestration.models import Execution, RecoveryPlan
from drs_orchestration.services.waves import DrsQuotas
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs

REGION = "us-east-1"
NO_WAIT_RETRY = RetryPolicy(sleep=lambda _: None)


@contextmanager
def simulated(*, ec2: bool = True) -> Iterator[DrsSimulator]:
    """moto for EC2 and the DRS simulator for DRS, with time under the test's control.

    ``ec2=False`` runs the simulator alone (recovery instances get synthetic
    EC2 IDs), for large fleets where moto's EC2 would dominate the run time.
    """
    if not ec2:
        with mock_drs() as sim:
            yield sim
        return
    with mock_aws(), mock_drs() as sim:
        yield sim


def orchestrator(
    sim: DrsSimulator,
    *,
    storage: Storage | None = None,
    clients: SimulatedClientFactory | None = None,
    quotas: DrsQuotas | None = None,
    hooks: Sequence[Any] = (),
    events: Callable[[Event], None] | None = None,
    sync_cache: bool = False,
) -> Orchestrator:
    """An Orchestrator whose clock is the simulator's and whose waits advance it.

    The recovery-instance cache is off unless asked for: these tests are about
    the executor, and the cache's post-wave sync has tests of its own.
    """
    return Orchestrator(
        storage=storage if storage is not None else MemoryStorage(),
        clients=clients or SimulatedClientFactory(sim),
        events=events,
        clock=sim.now,
        retry=NO_WAIT_RETRY,
        sleep=sim.advance,
        quotas=quotas,
        hooks=hooks,
        sync_cache=sync_cache,
    )


def add_servers(
    sim: DrsSimulator, tier: str, count: int, *, region: str = REGION, **details: Any
) -> list[str]:
    """Seed ``count`` replicating servers tagged ``Tier=<tier>``."""
    return [
        sim.add_source_server(region=region, hostname=f"{tier}-{i}", tags={"Tier": tier}, **details)
        for i in range(count)
    ]


@dataclass
class Drill:
    """A seeded three-tier plan (or any tiers) ready to run."""

    sim: DrsSimulator
    orch: Orchestrator
    plan: RecoveryPlan
    servers: dict[str, list[str]]
    events: list[Event] = field(default_factory=list)

    def start(self, **kwargs: Any) -> Execution:
        return self.orch.waves.start(self.plan.plan_id, **kwargs)

    def run(self, execution: Execution, **kwargs: Any) -> Execution:
        return self.orch.waves.run(execution.execution_id, **kwargs)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def make_drill(
    sim: DrsSimulator,
    tiers: Mapping[str, int] | None = None,
    *,
    storage: Storage | None = None,
    waves: Sequence[Mapping[str, Any]] | None = None,
    failure_policy: str = "stop",
    allow_concurrent_waves: bool = False,
    quotas: DrsQuotas | None = None,
    hooks: Sequence[Any] = (),
    settings: Mapping[str, Any] | None = None,
    server_details: Mapping[str, Any] | None = None,
    sync_cache: bool = False,
) -> Drill:
    """Seed servers per tier, a group per tier (applied) and a plan with a wave per tier.

    By default each wave depends on the previous one. ``waves`` overrides
    per-wave fields (by position).
    """
    tiers = dict(tiers or {"database": 2, "app": 2, "web": 2})
    events: list[Event] = []
    orch = orchestrator(
        sim,
        storage=storage,
        quotas=quotas,
        hooks=hooks,
        events=events.append,
        sync_cache=sync_cache,
    )
    servers: dict[str, list[str]] = {}
    wave_specs: list[dict[str, Any]] = []
    previous: str | None = None
    for i, (tier, count) in enumerate(tiers.items()):
        servers[tier] = add_servers(sim, tier, count, **dict(server_details or {}))
        group = orch.groups.create(
            tier, REGION, tags={"Tier": tier}, launch_settings=dict(settings or {})
        )
        spec: dict[str, Any] = {"name": tier, "protectionGroupIds": [group.group_id]}
        if previous is not None:
            spec["dependsOn"] = [previous]
        if waves is not None and i < len(waves):
            spec.update(waves[i])
        wave_specs.append(spec)
        previous = tier
    plan = orch.plans.create(
        "three-tier",
        wave_specs,
        failure_policy=failure_policy,
        allow_concurrent_waves=allow_concurrent_waves,
    )
    events.clear()
    return Drill(sim=sim, orch=orch, plan=plan, servers=servers, events=events)


def started_server_ids(sim: DrsSimulator) -> list[list[str]]:
    """The source servers of every successful StartRecovery call, per call."""
    return [
        [s["sourceServerID"] for s in call.params["sourceServers"]]
        for call in sim.calls.of("StartRecovery", succeeded=True)
    ]


def drs_jobs(
    sim: DrsSimulator, region: str = REGION, clients: SimulatedClientFactory | None = None
) -> list[dict[str, Any]]:
    """Every launch job DRS holds (read through a plain boto3 client)."""
    client = (clients or SimulatedClientFactory(sim)).client("drs", region)
    jobs: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_jobs").paginate(filters={}):
        jobs.extend(page["items"])
    return [j for j in jobs if j.get("type") == "LAUNCH"]
