"""Clocks must be timezone-aware, durations bounded, and events carry the injected time."""

from __future__ import annotations

import dataclasses
import inspect
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from drs_orchestration import events
from drs_orchestration.errors import ValidationError
from drs_orchestration.events import ConfigApplied, Event
from drs_orchestration.models.base import (
    MAX_TIMEOUT_S,
    aware_clock,
    aware_now,
    check_aware,
    check_duration,
)

AWARE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NAIVE = datetime(2026, 3, 1, 12, 0)


class TestAwareClocks:
    def test_an_aware_reading_passes_through(self) -> None:
        plus_two = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
        assert aware_now(lambda: AWARE) is AWARE
        assert check_aware(plus_two, "at") is plus_two

    def test_a_naive_clock_is_a_validation_error_naming_the_clock(self) -> None:
        with pytest.raises(ValidationError) as err:
            aware_now(lambda: NAIVE)
        (problem,) = err.value.problems
        assert problem["field"] == "clock"
        assert problem["value"] == NAIVE
        assert "timezone-aware" in problem["message"]

    def test_a_clock_that_is_not_a_datetime_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="clock"):
            aware_now(lambda: 1_700_000_000.0)  # type: ignore[arg-type, return-value]

    def test_a_wrapped_clock_checks_every_reading(self) -> None:
        readings = iter([AWARE, NAIVE])
        clock = aware_clock(lambda: next(readings), "clock")
        assert clock() == AWARE
        with pytest.raises(ValidationError, match="clock"):
            clock()


class TestDurations:
    @pytest.mark.parametrize("value", [0.001, 1, 300, MAX_TIMEOUT_S])
    def test_accepted(self, value: float) -> None:
        assert check_duration(value, "timeout_s") == value

    @pytest.mark.parametrize(
        "value", [0, -1, math.nan, math.inf, -math.inf, MAX_TIMEOUT_S + 1, 10**12, True, "5"]
    )
    def test_refused_naming_field_and_value(self, value: object) -> None:
        with pytest.raises(ValidationError) as err:
            check_duration(value, "poll_interval_s")
        (problem,) = err.value.problems
        assert problem["field"] == "poll_interval_s"
        assert problem["value"] is value or problem["value"] == value

    def test_zero_only_when_allowed(self) -> None:
        assert check_duration(0, "sleep_s", allow_zero=True) == 0
        with pytest.raises(ValidationError, match="more than zero"):
            check_duration(0, "sleep_s")


class TestEventTimes:
    def test_every_event_requires_at(self) -> None:
        kinds = [
            obj
            for _, obj in inspect.getmembers(events, inspect.isclass)
            if issubclass(obj, Event) and obj is not Event
        ]
        assert len(kinds) >= 15
        for kind in kinds:
            at = next(f for f in dataclasses.fields(kind) if f.name == "at")
            assert at.default is dataclasses.MISSING, kind.__name__
            assert at.default_factory is dataclasses.MISSING, kind.__name__

    def test_event_time_is_the_one_given(self) -> None:
        event = ConfigApplied(
            at=AWARE, group_id="pg", status="ready", applied=1, failed=0, pending=0, duration_s=0
        )
        assert event.at == AWARE
        assert event.to_dict()["at"] == "2026-03-01T12:00:00+00:00"

    def test_a_naive_event_time_is_refused(self) -> None:
        with pytest.raises(ValidationError) as err:
            ConfigApplied(
                at=NAIVE,
                group_id="pg",
                status="ready",
                applied=1,
                failed=0,
                pending=0,
                duration_s=0,
            )
        assert err.value.problems[0]["field"] == "at"
