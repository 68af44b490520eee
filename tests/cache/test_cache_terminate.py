"""terminate_execution: only its own instances, drills only by default, jobs followed."""

from __future__ import annotations

import boto3
import pytest

from drs_orchestration.aws import DrsQuotas
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import NotFoundError, TerminationRefusedError
from drs_orchestration.events import Event, InstancesTerminated
from drs_orchestration.models import (
    AccountContext,
    Execution,
    ExecutionType,
    InstanceTermination,
    TerminationStatus,
)
from drs_orchestration.services.cache import RecoveryInstanceCache, TerminationLimits
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.cache.conftest import CacheFactory, every_backend
from tests.cache.helpers import OTHER_ACCOUNT, add_servers, drill, launch, record_execution

REGION = "us-east-1"


def _ec2_state(
    instance_id: str,
    region: str = REGION,
    account: AccountContext | None = None,
    clients: SimulatedClientFactory | None = None,
) -> str:
    ec2 = (
        clients.client("ec2", region, account)
        if clients
        else boto3.client("ec2", region_name=region)
    )
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def _instances(execution: Execution) -> dict[str, str]:
    """Source server → recovery instance, as the execution recorded them."""
    return {
        sid: outcome.recovery_instance_id or ""
        for wave in execution.waves
        for sid, outcome in wave.servers.items()
    }


def _statuses(instances: list[InstanceTermination]) -> dict[str, TerminationStatus]:
    return {i.recovery_instance_id: i.status for i in instances}


@every_backend
def test_terminates_only_this_executions_instances(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    mine = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 3, prefix="mine"))
    theirs = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 2, prefix="theirs"))
    cache = make_cache(targets=[(REGION, None)])
    cache.sync_all()

    report = cache.terminate_execution(mine.execution_id)

    assert report.succeeded
    assert sorted(report.terminated) == sorted(_instances(mine).values())
    assert all(i.terminate_job_id in report.terminate_job_ids for i in report.instances)
    assert all(_ec2_state(i) == "terminated" for i in _instances(mine).values())
    assert all(_ec2_state(i) == "running" for i in _instances(theirs).values())
    assert cache.for_execution(mine.execution_id) == []
    assert sorted(r.source_server_id for r in storage.recovery_instances.list()) == sorted(
        _instances(theirs)
    )
    live = clients.client("drs", REGION).describe_recovery_instances()["items"]
    assert sorted(i["recoveryInstanceID"] for i in live) == sorted(_instances(theirs).values())
    (event,) = [e for e in events if isinstance(e, InstancesTerminated)]
    assert (event.terminated, event.failed, event.dry_run) == (3, 0, False)


@every_backend
def test_a_server_relaunched_by_another_execution_keeps_that_instance(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, REGION, 2)
    first = drill(sim, clients, storage, REGION, servers)
    # A later drill of the second server replaces the first drill's instance.
    second = drill(sim, clients, storage, REGION, servers[1:])
    cache = make_cache(targets=[(REGION, None)])
    cache.sync_all()

    report = cache.terminate_execution(first.execution_id)

    statuses = _statuses(report.instances)
    assert statuses[_instances(first)[servers[0]]] is TerminationStatus.TERMINATED
    assert statuses[_instances(first)[servers[1]]] is TerminationStatus.ALREADY_GONE
    survivor = _instances(second)[servers[1]]
    assert _ec2_state(survivor) == "running"
    kept = storage.recovery_instances.get_many(servers)
    assert list(kept) == [servers[1]]
    assert kept[servers[1]].recovery_instance_id == survivor
    assert kept[servers[1]].source_execution_id == second.execution_id


def test_a_recovery_is_refused_unless_asked_for_explicitly(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    recovery = drill(
        sim,
        clients,
        storage,
        REGION,
        add_servers(sim, REGION, 2),
        execution_type=ExecutionType.RECOVERY,
    )
    cache = make_cache(targets=[(REGION, None)])
    cache.sync_all()
    sim.calls.clear()

    with pytest.raises(TerminationRefusedError, match="RECOVERY, not a drill") as refused:
        cache.terminate_execution(recovery.execution_id)
    assert refused.value.details["executionId"] == recovery.execution_id
    assert refused.value.to_dict()["error"] == "TerminationRefused"
    assert len(sim.calls) == 0
    with pytest.raises(TerminationRefusedError):
        cache.terminate_execution(recovery.execution_id, dry_run=True)
    assert len(storage.recovery_instances.list()) == 2

    report = cache.terminate_execution(recovery.execution_id, include_recovery=True)

    assert sorted(report.terminated) == sorted(_instances(recovery).values())
    assert storage.recovery_instances.list() == []


def test_a_recovery_instance_tagged_with_a_drill_is_skipped(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    execution = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 1))
    (stray,) = add_servers(sim, REGION, 1, prefix="stray")
    launch(sim, clients, REGION, [stray], execution_id=execution.execution_id, is_drill=False)
    cache = make_cache(targets=[(REGION, None)])
    cache.sync_all()

    report = cache.terminate_execution(execution.execution_id)

    skipped = report.with_status(TerminationStatus.SKIPPED)
    assert [i.source_server_id for i in skipped] == [stray]
    assert "include_recovery=True" in (skipped[0].reason or "")
    assert _ec2_state(skipped[0].recovery_instance_id) == "running"
    assert list(storage.recovery_instances.get_many([stray])) == [stray]


@every_backend
def test_a_partial_failure_keeps_the_failed_records(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, REGION, 4)
    execution = drill(sim, clients, storage, REGION, servers)
    cache = make_cache(
        targets=[(REGION, None)],
        retry=RetryPolicy.no_retry(),
        termination=TerminationLimits(chunk_size=2, poll_interval_s=10.0),
    )
    cache.sync_all()
    sim.faults.server_error(operations="TerminateRecoveryInstances", times=1)

    report = cache.terminate_execution(execution.execution_id)

    assert not report.succeeded
    failed = report.with_status(TerminationStatus.FAILED)
    assert len(failed) == 2
    assert len(report.terminated) == 2
    assert all(
        i.error is not None and i.error.details["awsCode"] == "InternalServerException"
        for i in failed
    )
    kept = storage.recovery_instances.list()
    assert sorted(r.recovery_instance_id for r in kept) == sorted(report.failed)
    assert all(_ec2_state(i) == "running" for i in report.failed)
    assert all(_ec2_state(i) == "terminated" for i in report.terminated)

    # Running it again finishes the job: what is gone is reported as such.
    again = cache.terminate_execution(execution.execution_id)
    assert sorted(again.terminated) == sorted(report.failed)
    assert sorted(
        i.recovery_instance_id for i in again.with_status(TerminationStatus.ALREADY_GONE)
    ) == sorted(report.terminated)
    assert storage.recovery_instances.list() == []


def test_one_busy_instance_does_not_fail_the_rest_of_its_chunk(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, REGION, 4)
    execution = drill(sim, clients, storage, REGION, servers)
    cache = make_cache(targets=[(REGION, None)])
    cache.sync_all()
    # A new drill of one server is in progress: DRS refuses to terminate its instance
    # until that job ends, and the new drill replaces the old instance.
    launch(sim, clients, REGION, servers[2:3], finish=False)
    old_instance = _instances(execution)[servers[2]]

    report = cache.terminate_execution(execution.execution_id)

    (gone,) = report.with_status(TerminationStatus.ALREADY_GONE)
    assert (gone.source_server_id, gone.recovery_instance_id) == (servers[2], old_instance)
    assert len(report.terminated) == 3
    assert report.failed == []
    # The other drill's instance is not the execution's: it survives.
    drs = clients.client("drs", REGION)
    (survivor,) = drs.describe_recovery_instances()["items"]
    assert survivor["sourceServerID"] == servers[2]
    assert survivor["recoveryInstanceID"] != old_instance


def test_an_instance_held_past_the_timeout_fails_and_keeps_its_record(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, REGION, 2)
    execution = drill(sim, clients, storage, REGION, servers)
    cache = make_cache(
        targets=[(REGION, None)],
        termination=TerminationLimits(poll_interval_s=10.0, timeout_s=120.0),
    )
    cache.sync_all()
    # A new drill of one server runs longer than the termination waits.
    launch(sim, clients, REGION, servers[:1], finish=False)

    report = cache.terminate_execution(execution.execution_id)

    (failed,) = report.with_status(TerminationStatus.FAILED)
    assert failed.source_server_id == servers[0]
    assert failed.error is not None
    assert failed.error.code == "JobTimeout"
    assert len(report.terminated) == 1
    assert storage.recovery_instances.get_many(servers[:1])


@every_backend
def test_a_dry_run_changes_nothing(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    servers = add_servers(sim, REGION, 3)
    execution = drill(sim, clients, storage, REGION, servers)
    cache = make_cache(targets=[(REGION, None)])
    cache.sync_all()
    before = storage.recovery_instances.list()
    sim.calls.clear()

    report = cache.terminate_execution(execution.execution_id, dry_run=True)

    assert report.dry_run
    assert {i.status for i in report.instances} == {TerminationStatus.WOULD_TERMINATE}
    assert sorted(i.recovery_instance_id for i in report.instances) == sorted(
        _instances(execution).values()
    )
    assert report.terminate_job_ids == []
    assert set(sim.calls.operations()) <= {"DescribeJobs", "DescribeRecoveryInstances"}
    assert storage.recovery_instances.list() == before
    assert all(_ec2_state(i) == "running" for i in _instances(execution).values())
    (event,) = [e for e in events if isinstance(e, InstancesTerminated)]
    assert (event.dry_run, event.would_terminate, event.terminated) == (True, 3, 0)


def test_waits_for_the_job_quota_instead_of_failing(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    execution = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 3))
    sim.quotas.max_jobs_in_progress = 1
    # Someone else's drill holds the only job slot for a few simulated minutes.
    launch(sim, clients, REGION, add_servers(sim, REGION, 1, prefix="other"), finish=False)
    cache = make_cache(targets=[(REGION, None)])

    report = cache.terminate_execution(execution.execution_id)

    assert len(report.terminated) == 3
    refusals = [c for c in sim.calls.of("TerminateRecoveryInstances") if not c.succeeded]
    assert refusals
    assert {c.error_code for c in refusals} == {"ServiceQuotaExceededException"}


def test_keeps_its_own_jobs_within_the_in_flight_limits(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    execution = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 5))
    sim.quotas.max_jobs_in_progress = 2
    cache = make_cache(
        targets=[(REGION, None)],
        termination=TerminationLimits(
            quotas=DrsQuotas(max_jobs_in_progress=2), chunk_size=1, poll_interval_s=5.0
        ),
    )

    report = cache.terminate_execution(execution.execution_id)

    assert len(report.terminated) == 5
    assert len(report.terminate_job_ids) == 5
    assert all(c.succeeded for c in sim.calls.of("TerminateRecoveryInstances"))


def test_jobs_that_outlast_the_timeout_are_reported_and_keep_their_records(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    execution = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 2))
    cache = make_cache(
        targets=[(REGION, None)],
        termination=TerminationLimits(poll_interval_s=5.0, timeout_s=5.0),
    )
    cache.sync_all()

    report = cache.terminate_execution(execution.execution_id)

    assert len(report.failed) == 2
    assert {i.error.code for i in report.instances if i.error} == {"JobTimeout"}
    assert all(i.terminate_job_id for i in report.instances)
    assert len(storage.recovery_instances.list()) == 2


def test_a_standing_clock_still_times_out(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    execution = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 1))
    frozen = sim.now()
    cache = make_cache(
        targets=[(REGION, None)],
        clock=lambda: frozen,
        sleep=lambda _s: None,
        termination=TerminationLimits(poll_interval_s=1.0, timeout_s=3.0),
    )

    report = cache.terminate_execution(execution.execution_id)

    assert len(report.failed) == 1


def test_instances_whose_outcome_was_never_recorded_are_found_through_the_jobs(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, REGION, 2)
    job_ids = launch(sim, clients, REGION, servers, tag=False)
    execution = record_execution(storage, clients, REGION, job_ids, with_outcomes=False)
    cache = make_cache(targets=[(REGION, None)])

    report = cache.terminate_execution(execution.execution_id)

    assert len(report.terminated) == 2
    assert {i.source_server_id for i in report.instances} == set(servers)
    assert {i.launch_job_id for i in report.instances} == set(job_ids)


def test_instances_across_regions_and_accounts_are_grouped(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    east = drill(sim, clients, storage, REGION, add_servers(sim, REGION, 2))
    other = drill(
        sim,
        clients,
        storage,
        "eu-west-1",
        add_servers(sim, "eu-west-1", 2, account=OTHER_ACCOUNT),
        account=OTHER_ACCOUNT,
    )
    combined = storage.executions.put(
        east.model_copy(update={"waves": [*east.waves, *other.waves]})
    )
    cache = make_cache(targets=[(REGION, None), ("eu-west-1", OTHER_ACCOUNT)])
    cache.sync_all()

    report = cache.terminate_execution(combined.execution_id)

    assert len(report.terminated) == 4
    assert {(i.region, i.account_id) for i in report.instances} == {
        (REGION, None),
        ("eu-west-1", "222222222222"),
    }
    assert len(report.terminate_job_ids) == 2
    for instance in _instances(other).values():
        assert _ec2_state(instance, "eu-west-1", OTHER_ACCOUNT, clients) == "terminated"
    # Cache records of the other execution's ID (the eu-west-1 jobs' tag) are gone too.
    assert storage.recovery_instances.list() == []


def test_unknown_execution(make_cache: CacheFactory) -> None:
    cache: RecoveryInstanceCache = make_cache(targets=[])
    with pytest.raises(NotFoundError, match="execution"):
        cache.terminate_execution("ex-00000000000000000000")


def test_termination_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        TerminationLimits(chunk_size=201)
    with pytest.raises(ValueError, match="chunk_size"):
        TerminationLimits(quotas=DrsQuotas(max_servers_per_job=50), chunk_size=60)
    with pytest.raises(ValueError, match="max_servers_in_progress"):
        TerminationLimits(quotas=DrsQuotas(max_servers_in_progress=50))
    with pytest.raises(ValueError, match="timeout_s"):
        TerminationLimits(timeout_s=0)
