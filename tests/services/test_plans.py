from __future__ import annotations

import pytest

from drs_orchestration.errors import ConcurrentModificationError, NotFoundError, ValidationError
from drs_orchestration.models import AccountContext, ProtectionGroup
from drs_orchestration.services import RecoveryPlanService
from drs_orchestration.services.plans import resolve_waves
from drs_orchestration.storage import MemoryStorage
from tests.ids import server_id


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


def _group(
    storage: MemoryStorage, name: str, servers: list[str], **extra: object
) -> ProtectionGroup:
    group = ProtectionGroup(name=name, region="us-east-1", source_server_ids=servers, **extra)  # type: ignore[arg-type]
    return storage.protection_groups.put(group)


def test_waves_follow_their_groups_region_and_account_copied(storage: MemoryStorage) -> None:
    account = AccountContext(account_id="111122223333", role_name="DRS")
    db = _group(storage, "db", [server_id(1), server_id(2)], account=account)
    app = _group(storage, "app", [server_id(3)], account=account)
    plans = RecoveryPlanService(storage)
    plan = plans.create(
        "shop",
        [
            {"name": "database", "protectionGroupIds": [db.group_id]},
            {"name": "app", "protectionGroupIds": [app.group_id], "dependsOn": ["database"]},
        ],
        failure_policy="continue",
    )
    assert plan.version == 1
    assert plan.wave("database").server_ids == []  # resolved when an execution starts
    assert plan.wave("app").region == "us-east-1"
    assert plan.wave("app").account == account
    resolved = {r.wave.name: r for r in resolve_waves(storage, plan)}
    assert resolved["database"].server_ids == [server_id(1), server_id(2)]
    assert resolved["database"].group_versions == {db.group_id: db.version}
    assert plans.get(plan.plan_id) == plan
    assert [p.plan_id for p in plans.list()] == [plan.plan_id]


def test_a_plan_follows_its_groups_and_a_frozen_wave_does_not(storage: MemoryStorage) -> None:
    db = _group(storage, "db", [server_id(1), server_id(2)])
    app = _group(storage, "app", [server_id(3)])
    plans = RecoveryPlanService(storage)
    plan = plans.create(
        "p",
        [
            {"name": "db", "protectionGroupIds": [db.group_id]},
            {"name": "app", "protectionGroupIds": [app.group_id], "frozen": True},
        ],
    )
    assert plan.wave("app").server_ids == [server_id(3)]
    storage.protection_groups.put(db.model_copy(update={"source_server_ids": [server_id(2)]}))
    storage.protection_groups.put(
        app.model_copy(update={"source_server_ids": [server_id(3), server_id(4)]})
    )
    resolved = {r.wave.name: r.server_ids for r in resolve_waves(storage, plans.get(plan.plan_id))}
    assert resolved == {"db": [server_id(2)], "app": [server_id(3)]}
    check = plans.check(plan.plan_id)
    assert check.ok
    [stale] = [f for f in check.warnings if f.field == "waves.1.serverIds"]
    assert stale.value == {"added": [server_id(4)], "removed": []}
    refreshed = plans.update(plan.plan_id)
    assert refreshed.wave("app").server_ids == [server_id(3), server_id(4)]
    assert refreshed.version == 2
    assert refreshed.created_at == plan.created_at


def test_check_names_missing_groups_empty_waves_and_servers_in_two_waves(
    storage: MemoryStorage,
) -> None:
    db = _group(storage, "db", [server_id(1)])
    app = _group(storage, "app", [server_id(2)])
    gone = _group(storage, "gone", [server_id(3)])
    plans = RecoveryPlanService(storage)
    plan = plans.create(
        "p",
        [
            {"name": "db", "protectionGroupIds": [db.group_id]},
            {"name": "app", "protectionGroupIds": [app.group_id]},
            {"name": "old", "protectionGroupIds": [gone.group_id]},
            {"name": "pinned", "serverIds": [server_id(1)], "region": "us-east-1"},
        ],
    )
    storage.protection_groups.delete(gone.group_id)
    storage.protection_groups.put(app.model_copy(update={"source_server_ids": []}))
    check = plans.check(plan.plan_id)
    assert not check.ok
    by_field = {f.field: f for f in check.errors}
    assert by_field["waves.2.protectionGroupIds.0"].value == gone.group_id
    assert "no longer exists" in by_field["waves.2.protectionGroupIds.0"].message
    assert "no servers" in by_field["waves.1.protectionGroupIds"].message
    assert "in wave 'db' and in wave 'pinned'" in by_field["waves.3"].message
    # Groups never applied: the wave applies them first (a warning, not an error).
    assert any("fallback" in f.message for f in check.warnings)
    with pytest.raises(ValidationError) as err:
        resolve_waves(storage, plans.get(plan.plan_id))
    assert {p["field"] for p in err.value.problems} == set(by_field)


def test_update_with_expected_version_and_without(storage: MemoryStorage) -> None:
    db = _group(storage, "db", [server_id(1)])
    plans = RecoveryPlanService(storage)
    plan = plans.create("p", [{"name": "w", "protectionGroupIds": [db.group_id]}])
    first = plans.update(plan.plan_id, description="1", expected_version=plan.version)
    with pytest.raises(ConcurrentModificationError) as err:
        plans.update(plan.plan_id, description="2", expected_version=plan.version)
    assert err.value.expected_version == plan.version
    assert err.value.actual_version == first.version
    # Without a version the change is applied to whatever is stored: nothing is lost.
    second = plans.update(plan.plan_id, name="renamed")
    assert (second.name, second.description) == ("renamed", "1")


def test_bad_waves_argument_is_a_validation_error(storage: MemoryStorage) -> None:
    plans = RecoveryPlanService(storage)
    with pytest.raises(ValidationError, match="waves"):
        plans.create("x", None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"waves\.0"):
        plans.create("x", ["not a wave"])  # type: ignore[list-item]


def test_every_problem_named(storage: MemoryStorage) -> None:
    east = _group(storage, "east", [server_id(1)])
    west = storage.protection_groups.put(
        ProtectionGroup(name="west", region="us-west-2", source_server_ids=[server_id(2)])
    )
    empty = _group(storage, "empty", [])
    with pytest.raises(ValidationError) as err:
        RecoveryPlanService(storage).create(
            "p",
            [
                {"name": "a", "protectionGroupIds": [east.group_id, west.group_id]},
                {"name": "b", "protectionGroupIds": ["pg-" + "z" * 20]},
                {"name": "c", "protectionGroupIds": [empty.group_id]},
                {"name": "d", "protectionGroupIds": [east.group_id], "serverIds": [server_id(1)]},
            ],
        )
    fields = {p["field"]: p for p in err.value.problems}
    assert "share a region" in fields["waves.0.protectionGroupIds"]["message"]
    assert fields["waves.1.protectionGroupIds.0"]["value"] == "pg-" + "z" * 20
    assert "no servers" in fields["waves.2.protectionGroupIds"]["message"]
    assert "leave it empty" in fields["waves.3.serverIds"]["message"]


def test_model_level_problems_after_resolution(storage: MemoryStorage) -> None:
    db = _group(storage, "db", [server_id(1)])
    plans = RecoveryPlanService(storage)
    with pytest.raises(ValidationError, match="already in wave 'first'"):
        plans.create(
            "p",
            [
                {"name": "first", "protectionGroupIds": [db.group_id]},
                {"name": "second", "protectionGroupIds": [db.group_id]},
            ],
        )
    other = _group(storage, "other", [server_id(2)])
    with pytest.raises(ValidationError, match="dependency cycle"):
        plans.create(
            "p",
            [
                {"name": "a", "protectionGroupIds": [db.group_id], "dependsOn": ["b"]},
                {"name": "b", "protectionGroupIds": [other.group_id], "dependsOn": ["a"]},
            ],
        )
    with pytest.raises(ValidationError) as err:
        plans.create("p", [{"name": "bad name!", "protectionGroupIds": [db.group_id]}])
    assert err.value.problems[0]["field"] == "waves.0.name"
    assert storage.recovery_plans.list() == []


def test_update_and_delete(storage: MemoryStorage) -> None:
    db = _group(storage, "db", [server_id(1)])
    plans = RecoveryPlanService(storage)
    plan = plans.create("p", [{"name": "w", "protectionGroupIds": [db.group_id]}])
    renamed = plans.update(plan.plan_id, name="renamed", allow_concurrent_waves=True)
    assert renamed.name == "renamed"
    assert renamed.allow_concurrent_waves
    storage.recovery_plans.put(renamed)  # someone else saves in between
    with pytest.raises(ConcurrentModificationError):
        storage.recovery_plans.put(renamed)
    plans.delete(plan.plan_id)
    with pytest.raises(NotFoundError):
        plans.get(plan.plan_id)
