"""sync_all and sync_servers against the DRS simulator and moto, on every storage backend."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from drs_orchestration.errors import ValidationError
from drs_orchestration.events import CacheSynced, CacheSyncFailed, Event
from drs_orchestration.models import (
    AccountContext,
    ExecutionType,
    ProtectionGroup,
    RecoveryInstanceRecord,
)
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.cache.conftest import CacheFactory, every_backend
from tests.cache.helpers import OTHER_ACCOUNT, add_servers, drill, launch

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def _without_sync_time(records: list[RecoveryInstanceRecord]) -> list[dict[str, object]]:
    return [r.model_dump(exclude={"last_synced"}) for r in records]


def test_sync_pages_through_three_regions_and_two_accounts(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    expected: dict[str, tuple[str, str | None]] = {}
    for region in REGIONS:
        for account in (None, OTHER_ACCOUNT):
            servers = add_servers(sim, region, 5, account=account)
            launch(sim, clients, region, servers, account=account)
            expected.update(
                dict.fromkeys(servers, (region, account.account_id if account else None))
            )
    targets = [(region, account) for region in REGIONS for account in (None, OTHER_ACCOUNT)]
    cache = make_cache(targets=targets, page_size=2)

    status = cache.sync_all()

    assert status.succeeded
    assert [(t.region, t.account_id) for t in status.targets] == [
        (r, a.account_id if a else None) for r, a in targets
    ]
    assert all(t.instances == 5 and t.written == 5 for t in status.targets)
    records = storage.recovery_instances.list()
    assert {r.source_server_id: (r.region, r.account_id) for r in records} == expected
    # Five instances at two a page: three pages per account and region.
    pages = sim.calls.of("DescribeRecoveryInstances")
    assert len(pages) == 3 * len(targets)
    assert {(c.region, c.account_id) for c in pages} == {
        (r, a.account_id if a else "123456789012") for r, a in targets
    }
    assert sum(1 for c in pages if c.params.get("nextToken")) == 2 * len(targets)


def test_cross_account_clients_assume_the_role_through_sts(
    sim: DrsSimulator, clients: SimulatedClientFactory, make_cache: CacheFactory
) -> None:
    servers = add_servers(sim, "eu-west-1", 2, account=OTHER_ACCOUNT)
    launch(sim, clients, "eu-west-1", servers, account=OTHER_ACCOUNT)
    cache = make_cache(targets=[("eu-west-1", OTHER_ACCOUNT)])

    status = cache.sync_all()

    assert status.targets[0].instances == 2
    # The EC2 instances the records describe live in the other account (moto keeps
    # resources per account), so the enrichment ran with the assumed role.
    ec2 = clients.client("ec2", "eu-west-1", OTHER_ACCOUNT)
    identity = clients.client("sts", "eu-west-1", OTHER_ACCOUNT).get_caller_identity()
    assert identity["Account"] == OTHER_ACCOUNT.account_id
    record = cache.get(servers).records[servers[0]]
    found = ec2.describe_instances(InstanceIds=[record.ec2_instance_id or ""])
    assert found["Reservations"][0]["Instances"][0]["InstanceId"] == record.ec2_instance_id


@every_backend
def test_records_carry_the_ec2_details(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    (server,) = add_servers(sim, "us-east-1", 1, prefix="db")
    launch(sim, clients, "us-east-1", [server])
    cache = make_cache(targets=[("us-east-1", None)])

    cache.sync_all()

    record = storage.recovery_instances.get_many([server])[server]
    ec2 = boto3.client("ec2", region_name="us-east-1")
    instance = ec2.describe_instances(InstanceIds=[record.ec2_instance_id or ""])["Reservations"][
        0
    ]["Instances"][0]
    assert record.recovery_instance_id == record.ec2_instance_id == instance["InstanceId"]
    assert record.instance_type == instance["InstanceType"]
    assert record.ec2_instance_state == instance["State"]["Name"] == "running"
    assert record.private_ip == instance["PrivateIpAddress"]
    assert record.public_ip == instance.get("PublicIpAddress")
    assert record.subnet_id == instance["SubnetId"]
    assert record.vpc_id == instance["VpcId"]
    assert record.availability_zone == instance["Placement"]["AvailabilityZone"]
    assert record.launch_time == instance["LaunchTime"]
    tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
    assert record.name_tag == tags["Name"] == "db-us-east-1-0"
    assert record.is_drill is True
    assert record.source_hostname == "db-us-east-1-0"
    assert record.region == "us-east-1"
    assert record.account_id is None


def test_records_carry_staging_account_and_source_infrastructure(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    (server,) = add_servers(
        sim,
        "us-west-2",
        1,
        staging_account_id="333333333333",
        source_instance_id="i-0123456789abcdef0",
        origin_region="us-east-1",
        origin_account_id="444444444444",
        origin_availability_zone="us-east-1b",
    )
    launch(sim, clients, "us-west-2", [server])

    make_cache(targets=[("us-west-2", None)]).sync_all()

    record = storage.recovery_instances.get_many([server])[server]
    assert record.replication_staging_account_id == "333333333333"
    assert record.source_instance_id == "i-0123456789abcdef0"
    assert record.source_region == "us-east-1"
    assert record.source_account_id == "444444444444"
    assert record.origin_environment == "AWS"
    assert record.origin_availability_zone == "us-east-1b"
    assert record.failback_state == "FAILBACK_NOT_STARTED"


def test_source_execution_comes_from_the_job_tag(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, "us-east-1", 2)
    execution = drill(sim, clients, storage, "us-east-1", servers)
    # Only the tag can tell: remove the execution so the storage fallback finds nothing.
    storage.executions.delete(execution.execution_id)
    sim.calls.clear()

    make_cache(targets=[("us-east-1", None)]).sync_all()

    records = storage.recovery_instances.get_many(servers)
    assert {r.source_execution_id for r in records.values()} == {execution.execution_id}
    assert sim.calls.count("DescribeJobs") == 1


@every_backend
def test_source_execution_falls_back_to_the_executions_in_storage(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    tagged = add_servers(sim, "us-east-1", 1, prefix="tagged")
    untagged = add_servers(sim, "us-east-1", 2, prefix="untagged")
    unknown = add_servers(sim, "us-east-1", 1, prefix="unknown")
    with_tag = drill(sim, clients, storage, "us-east-1", tagged)
    without_tag = drill(sim, clients, storage, "us-east-1", untagged, tag=False)
    launch(sim, clients, "us-east-1", unknown)

    make_cache(targets=[("us-east-1", None)]).sync_all()

    records = storage.recovery_instances.get_many(tagged + untagged + unknown)
    assert records[tagged[0]].source_execution_id == with_tag.execution_id
    assert {records[s].source_execution_id for s in untagged} == {without_tag.execution_id}
    assert records[unknown[0]].source_execution_id is None


def test_a_job_tag_that_is_not_an_execution_id_is_ignored(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    (server,) = add_servers(sim, "us-east-1", 1)
    clients.client("drs", "us-east-1").start_recovery(
        sourceServers=[{"sourceServerID": server}],
        isDrill=True,
        tags={"ExecutionId": "2f1c7f9e-uuid-from-another-tool"},
    )
    sim.advance(3600)

    make_cache(targets=[("us-east-1", None)]).sync_all()

    assert storage.recovery_instances.get_many([server])[server].source_execution_id is None


@every_backend
def test_two_syncs_leave_identical_records(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, "us-east-1", 3) + add_servers(
        sim, "eu-west-1", 2, account=OTHER_ACCOUNT
    )
    drill(sim, clients, storage, "us-east-1", servers[:3])
    drill(sim, clients, storage, "eu-west-1", servers[3:], account=OTHER_ACCOUNT)
    cache = make_cache(targets=[("us-east-1", None), ("eu-west-1", OTHER_ACCOUNT)])

    first_status = cache.sync_all()
    first = storage.recovery_instances.list()
    sim.advance(300)
    second_status = cache.sync_all()
    second = storage.recovery_instances.list()

    assert _without_sync_time(first) == _without_sync_time(second)
    assert all(b.last_synced > a.last_synced for a, b in zip(first, second, strict=True))
    assert [(t.instances, t.deleted) for t in first_status.targets] == [
        (t.instances, t.deleted) for t in second_status.targets
    ]


@every_backend
def test_records_of_instances_that_are_gone_are_removed(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, "us-east-1", 3)
    launch(sim, clients, "us-east-1", servers)
    cache = make_cache(targets=[("us-east-1", None)])
    cache.sync_all()
    gone = storage.recovery_instances.get_many(servers[:2])
    clients.client("drs", "us-east-1").terminate_recovery_instances(
        recoveryInstanceIDs=[r.recovery_instance_id for r in gone.values()]
    )
    sim.advance(3600)

    status = cache.sync_all()

    assert status.targets[0].deleted == 2
    assert [r.source_server_id for r in storage.recovery_instances.list()] == [servers[2]]


@every_backend
def test_stale_removal_never_touches_another_targets_records(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    east = add_servers(sim, "us-east-1", 2)
    west = add_servers(sim, "us-west-2", 2)
    launch(sim, clients, "us-east-1", east)
    launch(sim, clients, "us-west-2", west)
    make_cache(targets=[("us-east-1", None), ("us-west-2", None)]).sync_all()
    # A record from an account that is not configured any more stays as it was.
    foreign = RecoveryInstanceRecord(
        source_server_id="s-0000000000000000a",
        recovery_instance_id="i-0000000000000000a",
        region="us-east-1",
        account_id="555555555555",
    )
    storage.recovery_instances.put_many([foreign])

    status = make_cache(targets=[("us-east-1", None)]).sync_all()

    assert status.targets[0].deleted == 0
    kept = {r.source_server_id for r in storage.recovery_instances.list()}
    assert kept == {*east, *west, foreign.source_server_id}


@every_backend
def test_a_record_rewritten_during_the_sync_is_not_removed(
    monkeypatch: pytest.MonkeyPatch,
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    (server,) = add_servers(sim, "us-east-1", 1)
    launch(sim, clients, "us-east-1", [server])
    cache = make_cache(targets=[("us-east-1", None)])
    cache.sync_all()
    old = storage.recovery_instances.get_many([server])[server]
    clients.client("drs", "us-east-1").terminate_recovery_instances(
        recoveryInstanceIDs=[old.recovery_instance_id]
    )
    sim.advance(3600)
    fresh = old.model_copy(update={"recovery_instance_id": "i-00000000000000001"})
    real_list = storage.recovery_instances.list

    def list_then_rewrite() -> list[RecoveryInstanceRecord]:
        # A wave's narrow sync lands between the sync's snapshot and its deletes.
        snapshot = real_list()
        storage.recovery_instances.put_many([fresh])
        return snapshot

    monkeypatch.setattr(storage.recovery_instances, "list", list_then_rewrite)

    status = cache.sync_all()

    assert status.targets[0].deleted == 0
    assert storage.recovery_instances.get_many([server])[server] == fresh


@every_backend
def test_one_failing_region_does_not_stop_the_others(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    ok = add_servers(sim, "us-east-1", 2) + add_servers(sim, "eu-west-1", 2)
    broken = add_servers(sim, "us-west-2", 2)
    launch(sim, clients, "us-east-1", ok[:2])
    launch(sim, clients, "eu-west-1", ok[2:])
    launch(sim, clients, "us-west-2", broken)
    cache = make_cache(targets=[(r, None) for r in REGIONS])
    cache.sync_all()
    sim.set_initialized("us-west-2", False)
    events.clear()

    status = cache.sync_all()

    by_region = {t.region: t for t in status.targets}
    assert by_region["us-east-1"].instances == by_region["eu-west-1"].instances == 2
    failed = by_region["us-west-2"]
    assert failed.error is not None
    assert failed.error.code == "AwsApi"
    assert failed.error.details["awsCode"] == "UninitializedAccountException"
    assert "us-west-2" in failed.error.message
    assert not status.succeeded
    # The failing region's records are kept, untouched.
    assert set(storage.recovery_instances.get_many(broken)) == set(broken)
    assert cache.get_sync_status() == status
    (synced,) = [e for e in events if isinstance(e, CacheSynced)]
    assert synced.errors == ("us-west-2",)
    assert synced.instances == 4
    (failure,) = [e for e in events if isinstance(e, CacheSyncFailed)]
    assert failure.region == "us-west-2"


def test_sync_status_is_stored_and_readable_under_both_names(
    sim: DrsSimulator, clients: SimulatedClientFactory, make_cache: CacheFactory
) -> None:
    servers = add_servers(sim, "us-east-1", 2)
    launch(sim, clients, "us-east-1", servers)
    cache = make_cache(targets=[("us-east-1", None), ("eu-west-1", None)])
    assert cache.get_sync_status() is None

    first = cache.sync_recovery_instances()
    second = cache.sync_all()

    assert cache.get_sync_status() == cache.get_recovery_instance_sync_status() == second
    assert second.version == first.version + 1
    assert second.instances == 2
    assert [t.instances for t in second.targets] == [2, 0]
    assert second.started_at <= (second.finished_at or second.started_at)
    assert second.duration_s is not None


def test_default_targets_are_the_protection_groups_regions_and_accounts(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    east = add_servers(sim, "us-east-1", 1)
    other = add_servers(sim, "eu-west-1", 1, account=OTHER_ACCOUNT)
    launch(sim, clients, "us-east-1", east)
    launch(sim, clients, "eu-west-1", other, account=OTHER_ACCOUNT)
    for name, region, account, ids in (
        ("web", "us-east-1", None, east),
        ("web-2", "us-east-1", None, []),
        ("db", "eu-west-1", OTHER_ACCOUNT, other),
    ):
        storage.protection_groups.put(
            ProtectionGroup(name=name, region=region, account=account, source_server_ids=ids)
        )
    cache = make_cache()

    status = cache.sync_all()

    assert sorted((t.region, t.account_id) for t in status.targets) == [
        ("eu-west-1", "222222222222"),
        ("us-east-1", None),
    ]
    assert status.instances == 2


def test_targets_are_validated_and_deduplicated(make_cache: CacheFactory) -> None:
    with pytest.raises(ValidationError, match=r"targets\[1\]\.region"):
        make_cache(targets=[("us-east-1", None), ("mars-1", None)])
    cache = make_cache(
        targets=[("us-east-1", None), ("us-east-1", None), ("us-east-1", OTHER_ACCOUNT)]
    )
    assert [(t.region, t.account_id) for t in cache.targets] == [
        ("us-east-1", None),
        ("us-east-1", "222222222222"),
    ]


# ---- sync_servers --------------------------------------------------------------------


def test_sync_servers_reads_only_those_servers(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    servers = add_servers(sim, "us-east-1", 4)
    execution = drill(sim, clients, storage, "us-east-1", servers)
    cache = make_cache(targets=[])
    sim.calls.clear()

    result = cache.sync_servers("us-east-1", servers[:2])

    assert result.error is None
    assert (result.instances, result.written, result.deleted) == (2, 2, 0)
    assert sorted(r.source_server_id for r in storage.recovery_instances.list()) == sorted(
        servers[:2]
    )
    (describe,) = sim.calls.of("DescribeRecoveryInstances")
    assert describe.params["filters"] == {"sourceServerIDs": servers[:2]}
    assert {r.source_execution_id for r in storage.recovery_instances.list()} == {
        execution.execution_id
    }
    assert any(isinstance(e, CacheSynced) and e.scope == "servers" for e in events)
    assert cache.get_sync_status() is None, "a narrow sync does not replace the full sync status"


@every_backend
def test_sync_servers_removes_records_of_servers_without_an_instance(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, "us-east-1", 3)
    launch(sim, clients, "us-east-1", servers)
    cache = make_cache(targets=[("us-east-1", None)])
    cache.sync_all()
    stale = storage.recovery_instances.get_many([servers[0]])[servers[0]]
    clients.client("drs", "us-east-1").terminate_recovery_instances(
        recoveryInstanceIDs=[stale.recovery_instance_id]
    )
    sim.advance(3600)

    result = cache.sync_servers("us-east-1", servers[:2])

    assert (result.instances, result.deleted) == (1, 1)
    assert sorted(storage.recovery_instances.get_many(servers)) == sorted(servers[1:])


@every_backend
def test_sync_servers_never_raises_for_aws_errors(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
    events: list[Event],
) -> None:
    servers = add_servers(sim, "us-east-1", 2)
    launch(sim, clients, "us-east-1", servers)
    cache = make_cache(targets=[("us-east-1", None)])
    cache.sync_all()
    before = storage.recovery_instances.list()
    sim.faults.server_error(operations="DescribeRecoveryInstances")

    result = cache.sync_servers("us-east-1", servers)

    assert result.error is not None
    assert result.error.details["awsCode"] == "InternalServerException"
    assert storage.recovery_instances.list() == before
    (failure,) = [e for e in events if isinstance(e, CacheSyncFailed)]
    assert (failure.scope, failure.region, failure.source_server_ids) == (
        "servers",
        "us-east-1",
        tuple(servers),
    )
    assert failure.error_code == "AwsApi"


def test_sync_servers_rejects_malformed_arguments(make_cache: CacheFactory) -> None:
    cache = make_cache(targets=[])
    with pytest.raises(ValidationError, match=r"source_server_ids\[1\]"):
        cache.sync_servers("us-east-1", ["s-0123456789abcdef0", "s-111"])
    with pytest.raises(ValidationError, match="region"):
        cache.sync_servers("not a region", [])
    assert cache.sync_servers("us-east-1", []).instances == 0


def test_sync_servers_in_another_account(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, "eu-west-1", 2, account=OTHER_ACCOUNT)
    execution = drill(sim, clients, storage, "eu-west-1", servers, account=OTHER_ACCOUNT)
    cache = make_cache(targets=[])

    result = cache.sync_servers("eu-west-1", servers, OTHER_ACCOUNT)

    assert result.account_id == "222222222222"
    assert result.instances == 2
    assert {r.account_id for r in cache.for_execution(execution.execution_id)} == {"222222222222"}


def test_last_synced_never_goes_back(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, "us-east-1", 1)
    launch(sim, clients, "us-east-1", servers)
    make_cache(targets=[("us-east-1", None)]).sync_all()
    first = storage.recovery_instances.list()[0].last_synced
    behind = first - timedelta(hours=1)

    make_cache(targets=[("us-east-1", None)], clock=lambda: behind).sync_all()

    assert storage.recovery_instances.list()[0].last_synced == first


def test_a_recovery_execution_is_cached_too(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    servers = add_servers(sim, "us-east-1", 1)
    execution = drill(
        sim, clients, storage, "us-east-1", servers, execution_type=ExecutionType.RECOVERY
    )
    make_cache(targets=[("us-east-1", None)]).sync_all()
    (record,) = storage.recovery_instances.list()
    assert record.is_drill is False
    assert record.source_execution_id == execution.execution_id


def test_account_context_equality_of_targets_uses_the_account_id() -> None:
    # A record knows its account ID only; the target that owns it is found by that ID.
    from drs_orchestration.services.cache import SyncTarget

    target = SyncTarget("us-east-1", AccountContext(account_id="222222222222", role_name="A"))
    record = RecoveryInstanceRecord(
        source_server_id="s-0000000000000000a",
        recovery_instance_id="i-0000000000000000a",
        region="us-east-1",
        account_id="222222222222",
    )
    assert target.owns(record)
    assert not SyncTarget("us-east-1", None).owns(record)
    assert target.label == "222222222222/us-east-1"
