"""The cache behind the wave executor: synced after each wave, then the drill torn down."""

from __future__ import annotations

import boto3

from drs_orchestration.events import CacheSyncFailed, Event
from drs_orchestration.models import ExecutionStatus, WaveStatus
from drs_orchestration.services import CacheSyncHook, Orchestrator, RecoveryInstanceSync
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.storage.dynamodb import DynamoDBStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.cache.conftest import CacheFactory, every_backend, fast_retry

REGION = "us-east-1"


def _orchestrator(
    sim: DrsSimulator,
    storage: BaseStorage,
    clients: SimulatedClientFactory,
    cache: RecoveryInstanceSync,
) -> Orchestrator:
    return Orchestrator(
        storage=storage,
        clients=clients,
        clock=sim.now,
        retry=fast_retry(),
        sleep=sim.advance,
        hooks=[CacheSyncHook(cache)],
        sync_cache=False,  # this test attaches its own cache through the hook
    )


def _web_plan(sim: DrsSimulator, orch: Orchestrator, count: int) -> tuple[str, list[str]]:
    servers = [
        sim.add_source_server(region=REGION, hostname=f"web-{i}", tags={"Tier": "web"})
        for i in range(count)
    ]
    group = orch.groups.create("web", REGION, tags={"Tier": "web"})
    plan = orch.plans.create("web", [{"name": "web", "protectionGroupIds": [group.group_id]}])
    return plan.plan_id, servers


def test_the_cache_fits_the_executors_hook(make_cache: CacheFactory) -> None:
    assert isinstance(make_cache(targets=[]), RecoveryInstanceSync)


@every_backend
def test_a_drill_is_cached_after_its_wave_and_torn_down_afterwards(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    cache = make_cache()
    orch = _orchestrator(sim, storage, clients, cache)
    plan_id, servers = _web_plan(sim, orch, 3)

    execution = orch.waves.run(orch.waves.start(plan_id).execution_id)

    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.waves[0].hook_errors == []
    records = cache.for_execution(execution.execution_id)
    assert sorted(r.source_server_id for r in records) == sorted(servers)
    outcomes = execution.waves[0].servers
    assert {r.source_server_id: r.recovery_instance_id for r in records} == {
        sid: outcome.recovery_instance_id for sid, outcome in outcomes.items()
    }
    # The protection group's region is the default target of a full sync.
    status = cache.sync_all()
    assert [(t.region, t.instances) for t in status.targets] == [(REGION, 3)]

    report = cache.terminate_execution(execution.execution_id)

    assert sorted(report.terminated) == sorted(r.recovery_instance_id for r in records)
    assert storage.recovery_instances.list() == []


def test_a_failing_cache_sync_never_fails_the_wave(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    # The cache's own tables were never created: every cache write fails.
    missing = DynamoDBStorage(
        table_prefix="never-created-",
        client=boto3.session.Session().client("dynamodb", region_name=REGION),
        retry=fast_retry(),
    )
    cache = make_cache(storage=missing)
    orch = _orchestrator(sim, storage, clients, cache)
    plan_id, servers = _web_plan(sim, orch, 2)

    execution = orch.waves.run(orch.waves.start(plan_id).execution_id)

    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.waves[0].status is WaveStatus.COMPLETED
    assert execution.waves[0].hook_errors == []
    (failure,) = [e for e in events if isinstance(e, CacheSyncFailed)]
    assert sorted(failure.source_server_ids) == sorted(servers)
    assert failure.error_code == "AwsResourceNotFound"
