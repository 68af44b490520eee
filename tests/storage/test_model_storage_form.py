"""Model properties that every backend's round trip relies on (DESIGN.md contract 8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import FailbackState, ProtectionGroup, SyncStatus

_ODD_OFFSET = timezone(-timedelta(hours=3, minutes=17, seconds=5))


def test_timestamp_with_a_seconds_offset_survives_the_stored_form() -> None:
    started = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=_ODD_OFFSET)
    status = SyncStatus(started_at=started)

    restored = SyncStatus.model_validate(status.to_wire())

    assert restored == status
    assert restored.started_at == started
    assert restored.started_at.utcoffset() == timedelta(0)


def test_timestamps_are_stored_in_utc() -> None:
    status = SyncStatus(started_at=datetime(2024, 1, 2, 8, 30, tzinfo=timezone(timedelta(hours=5))))

    assert status.to_wire()["startedAt"] == "2024-01-02T03:30:00Z"


def test_timestamp_out_of_range_in_utc_names_the_field() -> None:
    with pytest.raises(ValidationError, match="startedAt") as caught:
        SyncStatus.parse({"startedAt": "9999-12-31T23:00:00-05:00"})

    assert caught.value.problems[0]["field"] == "startedAt"


@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_numbers_are_rejected_naming_the_field(value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        FailbackState.parse(
            {
                "recoveryInstanceId": "i-0123456789abcdef0",
                "executionId": "ex-0123456789abcdefghij",
                "waveName": "database",
                "sourceServerId": "s-0123456789abcdef0",
                "region": "us-east-1",
                "lagSeconds": value,
            }
        )

    assert [p["field"] for p in caught.value.problems] == ["lagSeconds"]


def test_finite_durations_are_accepted() -> None:
    status = SyncStatus(started_at=datetime.now(UTC), duration_s=1e-3)

    assert SyncStatus.model_validate(status.to_wire()) == status


def test_selection_tag_keys_must_not_be_empty() -> None:
    # AWS tag keys are 1-128 characters, and DynamoDB cannot store an empty map key.
    with pytest.raises(ValidationError) as caught:
        ProtectionGroup.parse(
            {"name": "web", "region": "us-east-1", "serverSelectionTags": {"": "x"}}
        )

    assert caught.value.problems[0]["field"].startswith("serverSelectionTags")
