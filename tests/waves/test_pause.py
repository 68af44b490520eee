"""Pausing an execution that is running: before the next wave, never in the middle of one."""

from __future__ import annotations

import pytest

from drs_orchestration import (
    ConflictError,
    ExecutionStatus,
    InvalidStateTransitionError,
    ValidationError,
    WaveStatus,
)
from tests.waves.helpers import make_drill, simulated


def test_a_running_execution_pauses_before_its_next_wave_and_resumes() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2, "app": 2, "web": 1})
        waves = drill.orch.waves
        execution_id = drill.start().execution_id
        while waves.get(execution_id).waves[0].status is WaveStatus.PENDING:
            waves.step(execution_id)

        paused = waves.pause(execution_id)
        assert waves.pause(execution_id).version == paused.version, "asking twice changes nothing"

        done = waves.run(execution_id, poll_interval=30)
        assert done.status is ExecutionStatus.PAUSED
        assert done.paused_before == "app"
        assert [w.status for w in done.waves] == [
            WaveStatus.COMPLETED,
            WaveStatus.PENDING,
            WaveStatus.PENDING,
        ]
        # The plan is untouched: the next execution does not pause.
        assert not any(w.pause_before for w in drill.orch.plans.get(drill.plan.plan_id).waves)

        waves.resume(execution_id)
        finished = waves.run(execution_id, poll_interval=30)
        assert finished.status is ExecutionStatus.COMPLETED
        assert all(w.status is WaveStatus.COMPLETED for w in finished.waves)


def test_pausing_before_a_named_wave() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 1, "app": 1, "web": 1})
        waves = drill.orch.waves
        execution_id = drill.start().execution_id

        waves.pause(execution_id, before="web")
        paused = waves.run(execution_id, poll_interval=30)

        assert paused.status is ExecutionStatus.PAUSED
        assert paused.paused_before == "web"
        assert [w.status for w in paused.waves][:2] == [WaveStatus.COMPLETED] * 2
        with pytest.raises(ValidationError, match="before") as info:
            waves.pause(execution_id, before="cache")
        assert info.value.details["problems"][0]["value"] == "cache"


def test_a_wave_in_flight_or_an_ended_execution_cannot_be_paused() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 1, "app": 1})
        waves = drill.orch.waves
        execution_id = drill.start().execution_id
        while waves.get(execution_id).waves[0].status is WaveStatus.PENDING:
            waves.step(execution_id)

        with pytest.raises(ConflictError, match="'database' has already started"):
            waves.pause(execution_id, before="database")

        finished = waves.run(execution_id, poll_interval=30)
        assert finished.status is ExecutionStatus.COMPLETED
        with pytest.raises(InvalidStateTransitionError):
            waves.pause(execution_id)
