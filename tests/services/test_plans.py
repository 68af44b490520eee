from __future__ import annotations

import pytest

from drs_orchestration.errors import ConcurrentModificationError, NotFoundError, ValidationError
from drs_orchestration.models import AccountContext, ProtectionGroup
from drs_orchestration.services import RecoveryPlanService
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


def test_waves_copy_servers_region_and_account_from_groups(storage: MemoryStorage) -> None:
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
    assert plan.wave("database").server_ids == [server_id(1), server_id(2)]
    assert plan.wave("app").region == "us-east-1"
    assert plan.wave("app").account == account
    assert plans.get(plan.plan_id) == plan
    assert [p.plan_id for p in plans.list()] == [plan.plan_id]


def test_servers_are_copied_not_resolved_later(storage: MemoryStorage) -> None:
    db = _group(storage, "db", [server_id(1)])
    plans = RecoveryPlanService(storage)
    plan = plans.create("p", [{"name": "w", "protectionGroupIds": [db.group_id]}])
    grown = db.model_copy(update={"source_server_ids": [server_id(1), server_id(2)]})
    storage.protection_groups.put(grown)
    assert plans.get(plan.plan_id).wave("w").server_ids == [server_id(1)]
    refreshed = plans.update(plan.plan_id)
    assert refreshed.wave("w").server_ids == [server_id(1), server_id(2)]
    assert refreshed.version == 2
    assert refreshed.created_at == plan.created_at


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
