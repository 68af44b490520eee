"""Corrupt records, on every backend: reported by single reads, skipped (and counted) by lists.

A record is corrupt when its text is not JSON, when it does not validate as
its model, or when it is stored under a key other than its own ID. One such
record must never stop a read of the others (broken item 6 of issue 12: one
bad execution row made ``list_for_plan``, and so ``waves.start``, fail).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from drs_orchestration.errors import CorruptRecordError, StorageError
from drs_orchestration.models import Execution, ProtectionGroup, RecoveryInstanceRecord
from drs_orchestration.storage import BaseStorage
from tests.storage.conftest import plant

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PLAN = "rp-" + "p" * 20
BAD = "pg-" + "b" * 20


def _group(n: int) -> ProtectionGroup:
    return ProtectionGroup(group_id=f"pg-{n:020d}", name=f"g{n}", region="us-east-1")


def _execution(n: int) -> Execution:
    return Execution(
        execution_id=f"ex-{n:020d}",
        plan_id=PLAN,
        plan_name="drill",
        created_at=T0 + timedelta(minutes=n),
    )


CORRUPTIONS = {
    "invalid JSON": '{"groupId": "' + BAD + '", "name": ',
    "not a model": '{"groupId": "' + BAD + '", "name": "x", "region": "nowhere-9"}',
    "another key": _group(7).model_dump_json(by_alias=True),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_get_reports_a_corrupt_record_naming_collection_and_key(
    storage: BaseStorage, corruption: str
) -> None:
    plant(storage, "protection-groups", BAD, CORRUPTIONS[corruption])

    with pytest.raises(CorruptRecordError) as caught:
        storage.protection_groups.get(BAD)
    with pytest.raises(CorruptRecordError):
        storage.protection_groups.find(BAD)

    error = caught.value
    assert isinstance(error, StorageError)
    assert (error.collection, error.key) == ("protection-groups", BAD)
    assert BAD in error.message
    assert error.problem
    assert error.to_dict()["details"]["key"] == BAD
    if corruption == "another key":
        assert _group(7).group_id in error.problem


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_list_and_get_many_skip_a_corrupt_record_with_a_warning_and_a_count(
    storage: BaseStorage, corruption: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = [storage.protection_groups.put(_group(n)) for n in (1, 2)]
    plant(storage, "protection-groups", BAD, CORRUPTIONS[corruption])

    with caplog.at_level(logging.WARNING, logger="drs_orchestration.storage"):
        listed = storage.protection_groups.list()
        many = storage.protection_groups.get_many([BAD, good[0].group_id, good[1].group_id])

    assert listed == good
    assert many == {g.group_id: g for g in good}
    assert storage.protection_groups.skipped_corrupt == 2
    assert storage.skipped_corrupt == {"protection-groups": 2}
    warnings = [r for r in caplog.records if r.getMessage() == "skipping a corrupt stored record"]
    assert [(w.collection, w.key) for w in warnings] == [("protection-groups", BAD)] * 2  # type: ignore[attr-defined]


def test_one_bad_execution_does_not_stop_list_for_plan(storage: BaseStorage) -> None:
    good = [storage.executions.put(_execution(n)) for n in (1, 2, 3)]
    plant(storage, "executions", "ex-" + "x" * 20, "{not json", index_value=PLAN)

    assert storage.executions.list_for_plan(PLAN) == good
    assert storage.executions.list() == good
    assert storage.executions.skipped_corrupt == 2


def test_recovery_instance_reads_skip_corrupt_records(storage: BaseStorage) -> None:
    execution = "ex-" + "e" * 20
    good = RecoveryInstanceRecord(
        source_server_id="s-" + "1" * 17,
        recovery_instance_id="i-" + "1" * 17,
        region="us-east-1",
        source_execution_id=execution,
        last_synced=T0,
    )
    storage.recovery_instances.put_many([good])
    bad = "s-" + "2" * 17
    plant(
        storage,
        "recovery-instances",
        bad,
        '{"sourceServerId": 3}',
        version=None,
        index_value=execution,
    )

    assert storage.recovery_instances.get_many([good.source_server_id, bad]) == {
        good.source_server_id: good
    }
    assert storage.recovery_instances.for_execution(execution) == [good]
    assert storage.recovery_instances.list() == [good]
    assert storage.recovery_instances.skipped_corrupt == 3


def test_a_corrupt_sync_status_is_reported(storage: BaseStorage) -> None:
    plant(storage, "sync-status", "latest", "[1, 2]")

    with pytest.raises(CorruptRecordError) as caught:
        storage.recovery_instances.get_sync_status()

    assert (caught.value.collection, caught.value.key) == ("sync-status", "latest")


def test_find_corrupt_names_every_bad_record_and_a_put_repairs_one(storage: BaseStorage) -> None:
    storage.protection_groups.put(_group(1))
    plant(storage, "protection-groups", BAD, "{}", version=4)
    plant(storage, "executions", "ex-" + "x" * 20, "nope", index_value=PLAN)

    found = storage.find_corrupt()

    assert sorted((e.collection, e.key) for e in found) == [
        ("executions", "ex-" + "x" * 20),
        ("protection-groups", BAD),
    ]
    assert storage.skipped_corrupt == {}  # a health check counts nothing
    # The version column is intact, so the record can be overwritten at its version.
    version = storage.protection_groups.version_of(BAD)
    assert version == 4
    repaired = ProtectionGroup(group_id=BAD, name="repaired", region="us-east-1")
    storage.protection_groups.put(repaired, expected_version=version)
    assert storage.protection_groups.get(BAD).name == "repaired"
    storage.executions.delete("ex-" + "x" * 20)
    assert storage.find_corrupt() == []
