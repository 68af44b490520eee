"""Pause before a wave, resume, cancel: who, why, and nothing launched untracked."""

from __future__ import annotations

import pytest

from drs_orchestration import ExecutionStatus, WaveStatus
from drs_orchestration.errors import InvalidStateTransitionError
from drs_orchestration.events import ExecutionPaused
from drs_orchestration.models import JobStatus, ServerLaunchStatus
from tests.waves.helpers import make_drill, simulated


def test_pause_before_a_wave_then_resume() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1, "app": 1}, waves=[{}, {"pauseBefore": True}])
        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.PAUSED
        assert execution.paused_before == "app"
        assert [w.status for w in execution.waves] == [WaveStatus.COMPLETED, WaveStatus.PENDING]
        assert sim.calls.count("StartRecovery") == 1
        assert any(isinstance(e, ExecutionPaused) and e.wave_name == "app" for e in drill.events)
        # Stepping a paused execution does nothing.
        assert drill.orch.waves.step(execution.execution_id).version == execution.version

        resumed = drill.orch.waves.resume(execution.execution_id)
        assert resumed.status is ExecutionStatus.RUNNING
        assert resumed.wave_run("app").pause_released

        execution = drill.run(resumed)
        assert execution.status is ExecutionStatus.COMPLETED
        assert sim.calls.count("StartRecovery") == 2


def test_resume_of_a_running_execution_changes_nothing_and_of_an_ended_one_is_refused() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        execution = drill.start()
        assert drill.orch.waves.resume(execution.execution_id).version == execution.version

        finished = drill.run(execution)
        with pytest.raises(InvalidStateTransitionError, match="COMPLETED"):
            drill.orch.waves.resume(finished.execution_id)
        with pytest.raises(InvalidStateTransitionError):
            drill.orch.waves.cancel(finished.execution_id, "ops")


def test_cancel_lets_the_running_wave_finish_and_starts_no_later_wave() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2, "app": 1, "web": 1})
        execution = drill.start()
        waves = drill.orch.waves
        while sim.calls.count("StartRecovery") == 0:
            execution = waves.step(execution.execution_id).execution

        cancelled = waves.cancel(execution.execution_id, "jane@example.com", "drill window closed")
        assert cancelled.cancel_request is not None
        assert cancelled.cancel_request.requested_at == sim.now()
        execution = drill.run(cancelled)

        assert execution.status is ExecutionStatus.CANCELLED
        assert execution.cancel_request is not None
        assert execution.cancel_request.requested_by == "jane@example.com"
        assert execution.cancel_request.reason == "drill window closed"
        database, app, web = execution.waves
        assert database.status is WaveStatus.COMPLETED
        assert all(o.status is ServerLaunchStatus.LAUNCHED for o in database.servers.values())
        assert (app.status, web.status) == (WaveStatus.CANCELLED, WaveStatus.CANCELLED)
        assert sim.calls.count("StartRecovery") == 1
        assert drill.kinds()[-1] == "execution_finished"


def test_cancel_before_anything_launched_launches_nothing() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1, "app": 1})
        execution = drill.start()
        execution = drill.orch.waves.step(execution.execution_id).execution  # execution started
        execution = drill.orch.waves.step(
            execution.execution_id
        ).execution  # preflight, configuration and chunk plan of the first wave
        assert execution.waves[0].status is WaveStatus.LAUNCHING
        assert [(c.status, c.job_id, c.start_attempts) for c in execution.waves[0].jobs] == [
            (JobStatus.INTENT, None, 0)
        ]

        drill.orch.waves.cancel(execution.execution_id, "ops")
        execution = drill.run(execution)

        assert execution.status is ExecutionStatus.CANCELLED
        assert [w.status for w in execution.waves] == [WaveStatus.CANCELLED] * 2
        assert sim.calls.count("StartRecovery") == 0


def test_cancel_a_paused_execution() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1, "app": 1}, waves=[{}, {"pauseBefore": True}])
        execution = drill.run(drill.start())
        assert execution.status is ExecutionStatus.PAUSED

        again = drill.orch.waves.cancel(execution.execution_id, "ops", "not today")
        assert drill.orch.waves.cancel(execution.execution_id, "someone else") == again
        execution = drill.run(again)

        assert execution.status is ExecutionStatus.CANCELLED
        assert execution.waves[1].status is WaveStatus.CANCELLED
        assert execution.cancel_request is not None
        assert execution.cancel_request.requested_by == "ops"
        assert sim.calls.count("StartRecovery") == 1


def test_a_second_execution_of_a_running_plan_is_refused() -> None:
    from drs_orchestration.errors import ConflictError

    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        first = drill.start()
        with pytest.raises(ConflictError, match=first.execution_id):
            drill.start()
        drill.run(first)
        assert drill.start().status is ExecutionStatus.PENDING


def test_run_with_max_steps_leaves_a_resumable_execution() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        execution = drill.run(drill.start(), max_steps=3)
        assert execution.status is ExecutionStatus.RUNNING

        assert drill.run(execution).status is ExecutionStatus.COMPLETED


def test_advance_says_when_to_wait_and_polls_write_only_what_matters() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        waves = drill.orch.waves
        execution = drill.start()
        results = []
        while sim.calls.count("StartRecovery") == 0:
            results.append(waves.step(execution.execution_id))
        assert all(r.progressed for r in results)

        sim.advance(60)  # the job runs: servers IN_PROGRESS, none launched yet
        before = waves.get(execution.execution_id).version
        waiting = waves.step(execution.execution_id)

        assert not waiting.progressed
        assert not waiting.finished
        progress = [e for e in drill.events if e.kind == "job_progress"]
        assert progress  # the sink saw the servers move...
        assert "IN_PROGRESS" in progress[-1].server_statuses.values()  # type: ignore[attr-defined]
        # ...but a job that merely started is written once, not on every poll.
        again = waves.step(execution.execution_id)
        assert again.execution.version <= before + 1

        final = drill.run(again.execution)
        assert waves.step(final.execution_id).finished
