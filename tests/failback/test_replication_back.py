"""Following replication back: the lag threshold, timeouts that say why, stopped reversals.

Seed 003's 6.4.5-6.4.6 (lag tracking, CONTINUOUS with a configurable lag
threshold) and 8.2.5 (reverse replication with lag monitoring).
"""

from __future__ import annotations

from typing import Any

import pytest

from drs_orchestration import Orchestrator
from drs_orchestration.errors import ValidationError
from drs_orchestration.models import FailbackPhase
from tests.failback.conftest import NO_WAIT, ORIGIN, World


def test_replication_that_never_catches_up_times_out_naming_state_lag_and_threshold(
    world: World,
) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    world.sim.faults.stall_reverse_replication("INITIAL_SYNC")
    coordinator = world.coordinator(replication_timeout_s=3600, max_lag_s=30)
    started = world.sim.now()
    coordinator.start_failback(execution.execution_id)

    failback = coordinator.run(execution.execution_id, poll_interval=60)

    (state,) = failback.servers
    assert failback.phase is FailbackPhase.FAILED
    assert state.phase is FailbackPhase.FAILED
    assert state.error is not None
    assert state.error.code == "ReplicationTimeout"
    message = state.error.message
    assert "did not catch up within 3600 s" in message
    assert f"{state.reversed_source_server_id} in {ORIGIN} is INITIAL_SYNC" in message
    assert "threshold 30 s" in message
    assert "TCP 1500" in message
    assert state.error.details["replicationState"] == "INITIAL_SYNC"
    elapsed = (world.sim.now() - started).total_seconds()
    assert 3600 <= elapsed <= 3600 + 2 * 60
    assert len(world.sim.calls.of("ReverseReplication")) == 1


def test_a_lag_above_the_threshold_is_not_ready_however_continuous(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    world.sim.faults.stall_reverse_replication("CONTINUOUS", lag=7200)
    coordinator = world.coordinator(replication_timeout_s=2 * 3600, max_lag_s=60)
    coordinator.start_failback(execution.execution_id)

    observed = coordinator.run(execution.execution_id, max_steps=40, poll_interval=60)
    (state,) = observed.servers
    assert state.replication_state == "CONTINUOUS"
    assert state.lag_seconds is not None
    assert state.lag_seconds >= 7200
    assert state.phase is FailbackPhase.REVERSE_REPLICATING

    failback = coordinator.run(execution.execution_id, poll_interval=60)
    (state,) = failback.servers
    assert state.phase is FailbackPhase.FAILED
    assert state.error is not None
    assert "is CONTINUOUS with lag 2.0 h (threshold 60 s)" in state.error.message


def test_a_generous_threshold_accepts_the_same_lag(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    world.sim.faults.stall_reverse_replication("CONTINUOUS", lag=7200)
    coordinator = world.coordinator(max_lag_s=3 * 3600)
    coordinator.start_failback(execution.execution_id)

    failback = coordinator.run(execution.execution_id, poll_interval=60)

    assert failback.phase is FailbackPhase.READY
    assert failback.servers[0].lag_seconds == pytest.approx(7200)


def test_a_stalled_reversal_is_waited_for_until_the_timeout(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    world.sim.faults.stall_reverse_replication("STALLED")
    coordinator = world.coordinator(replication_timeout_s=1800)
    coordinator.start_failback(execution.execution_id)

    failback = coordinator.run(execution.execution_id, poll_interval=60)

    (state,) = failback.servers
    assert state.drs_failback_state == "FAILBACK_ERROR"
    assert state.error is not None
    assert state.error.code == "ReplicationTimeout"
    assert "is STALLED" in state.error.message


def test_a_reversal_stopped_in_drs_fails_at_once(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    coordinator = world.orch.failback
    coordinator.start_failback(execution.execution_id)
    coordinator.step(execution.execution_id)
    (state,) = coordinator.get(execution.execution_id).servers
    world.drs(ORIGIN).stop_replication(sourceServerID=state.reversed_source_server_id)

    failback = coordinator.run(execution.execution_id)

    (state,) = failback.servers
    assert state.phase is FailbackPhase.FAILED
    assert state.error is not None
    assert "was stopped" in state.error.message


def test_stop_failback_stops_replicating_back(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    coordinator = world.orch.failback
    coordinator.start_failback(execution.execution_id)
    coordinator.step(execution.execution_id)

    failback = coordinator.stop_failback(execution.execution_id, reason="change freeze")

    (state,) = failback.servers
    assert state.phase is FailbackPhase.FAILED
    assert state.error is not None
    assert state.error.code == "FailbackStopped"
    assert "change freeze" in state.error.message
    instance = world.recovery_instance(state.recovery_instance_id)
    assert instance["failback"]["state"] == "FAILBACK_NOT_STARTED"
    with pytest.raises(ValidationError, match="is FAILED"):
        coordinator.stop_failback(execution.execution_id, servers=[state.source_server_id])


def test_settings_out_of_range_are_refused_naming_the_field(world: World) -> None:
    with pytest.raises(ValidationError, match="max_lag_s"):
        world.coordinator(max_lag_s=-1)
    with pytest.raises(ValidationError, match="replication_timeout_s"):
        world.coordinator(replication_timeout_s=0)
    with pytest.raises(ValidationError, match="max_reverse_attempts"):
        world.coordinator(max_reverse_attempts=0)


def test_starting_a_stopped_failback_again_reverses_again(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    coordinator = world.orch.failback
    eid = execution.execution_id
    coordinator.start_failback(eid)
    coordinator.step(eid)
    coordinator.stop_failback(eid)

    coordinator.start_failback(eid)
    failback = coordinator.run(eid)

    assert failback.phase is FailbackPhase.READY
    reversals = world.sim.calls.of("ReverseReplication", succeeded=True)
    assert len(reversals) == 2
    (state,) = failback.servers
    # DRS reused the reversed source server it had made the first time.
    assert len(world.drs(ORIGIN).describe_source_servers()["items"]) == 1
    assert state.reversed_source_server_arn is not None


def test_a_timed_out_failback_started_again_looks_for_the_running_reversal_first(
    world: World,
) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    world.sim.faults.stall_reverse_replication("INITIAL_SYNC", times=1)
    coordinator = world.coordinator(replication_timeout_s=1800)
    eid = execution.execution_id
    coordinator.start_failback(eid)
    assert coordinator.run(eid, poll_interval=60).phase is FailbackPhase.FAILED
    (first,) = coordinator.get(eid).servers

    coordinator.start_failback(eid)
    (restarted,) = coordinator.get(eid).servers
    assert restarted.phase is FailbackPhase.NOT_STARTED
    assert restarted.error is None
    failback = coordinator.run(eid, poll_interval=60, max_steps=5)

    (state,) = failback.servers
    # DRS refused a second reversal (one is running): the running one was adopted.
    assert len(world.sim.calls.of("ReverseReplication", succeeded=True)) == 1
    refused = world.sim.calls.of("ReverseReplication", succeeded=False)
    assert [c.error_code for c in refused] == ["ConflictException"]
    assert state.reversed_source_server_arn == first.reversed_source_server_arn
    assert state.phase is FailbackPhase.REVERSE_REPLICATING


def test_the_orchestrators_failback_options_reach_its_coordinator(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})
    world.sim.faults.stall_reverse_replication("CONTINUOUS", lag=7200)
    orch = Orchestrator(
        world.storage,
        world.clients,
        clock=world.sim.now,
        sleep=world.sim.advance,
        retry=NO_WAIT,
        failback_options={"max_lag_s": 90, "replication_timeout_s": 1800},
    )
    orch.failback.start_failback(execution.execution_id)

    failback = orch.failback.run(execution.execution_id, poll_interval=60)

    (state,) = failback.servers
    assert state.phase is FailbackPhase.FAILED
    assert state.error is not None
    assert "(threshold 90 s)" in state.error.message
    assert "within 1800 s" in state.error.message


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_lag": 60}, "failback_options.max_lag"),
        ({"launch_timeout_s": 0}, "launch_timeout_s"),
        ({"max_reverse_attempts": 0}, "max_reverse_attempts"),
    ],
)
def test_a_failback_option_unknown_or_out_of_range_is_a_validation_error_naming_it(
    world: World, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Orchestrator(world.storage, world.clients, failback_options=options)  # type: ignore[arg-type]

    assert caught.value.problems[0]["field"] == field
