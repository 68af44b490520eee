"""Point-in-time snapshot selection, throttling, hooks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drs_orchestration import ExecutionStatus, RecoveryError, WaveStatus
from drs_orchestration.models import AccountContext, Execution, ServerLaunchStatus, WaveRun
from drs_orchestration.services.waves import CacheSyncHook
from tests.waves.helpers import make_drill, simulated


def test_point_in_time_picks_each_servers_latest_snapshot_at_or_before_it() -> None:
    with simulated() as sim:
        now = sim.now()
        drill = make_drill(
            sim,
            {"database": 2},
            waves=[{"pointInTime": (now - timedelta(minutes=90)).isoformat()}],
            # Replicating for ten minutes only: DRS's own schedule adds no older snapshots.
            server_details={"replicating_since": now - timedelta(minutes=10)},
        )
        first, second = drill.servers["database"]
        expected = {}
        for sid in (first, second):
            sim.add_recovery_snapshot(sid, now - timedelta(hours=3))
            expected[sid] = sim.add_recovery_snapshot(sid, now - timedelta(hours=2))
            sim.add_recovery_snapshot(sid, now - timedelta(hours=1))
        exact = sim.add_recovery_snapshot(second, now - timedelta(minutes=90))
        expected[second] = exact

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        wave = execution.waves[0]
        assert {s: o.recovery_snapshot_id for s, o in wave.servers.items()} == expected
        sent = {
            s["sourceServerID"]: s["recoverySnapshotID"]
            for s in sim.calls.of("StartRecovery")[0].params["sourceServers"]
        }
        assert sent == expected


def test_point_in_time_without_a_snapshot_fails_the_wave_naming_the_server() -> None:
    with simulated() as sim:
        now = sim.now()
        drill = make_drill(
            sim,
            {"database": 2},
            waves=[{"pointInTime": (now - timedelta(hours=2)).isoformat()}],
            server_details={"replicating_since": now - timedelta(minutes=10)},
        )
        covered, bare = drill.servers["database"]
        sim.add_recovery_snapshot(covered, now - timedelta(hours=3))
        sim.add_recovery_snapshot(bare, now - timedelta(hours=1))  # too recent

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.FAILED
        wave = execution.waves[0]
        assert wave.status is WaveStatus.FAILED
        assert wave.error is not None
        assert wave.error.code == RecoveryError.code
        assert wave.error.details["servers"] == [bare]
        assert bare in wave.error.message
        assert covered not in wave.error.message
        assert sim.calls.count("StartRecovery") == 0


def test_thirty_percent_throttling_does_not_change_the_outcome() -> None:
    def outcome(throttle: bool) -> tuple[ExecutionStatus, list[tuple[str, str]], int]:
        with simulated() as sim:
            drill = make_drill(sim, {"database": 2, "app": 2})
            if throttle:
                sim.faults.throttle(0.3, seed=7)
            execution = drill.run(drill.start())
            statuses = sorted(
                (w.wave_name, o.status.value) for w in execution.waves for o in w.servers.values()
            )
            return execution.status, statuses, sim.calls.count("StartRecovery", succeeded=True)

    calm = outcome(throttle=False)
    stormy = outcome(throttle=True)

    assert stormy == calm
    assert calm[0] is ExecutionStatus.COMPLETED


def test_polls_that_fail_even_after_retries_are_recorded_and_retried() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        execution = drill.start()
        while sim.calls.count("StartRecovery") == 0:
            execution = drill.orch.waves.step(execution.execution_id).execution
        sim.faults.throttle(1.0, "DescribeJobs", times=8)  # one step's worth of retries
        polls = sim.calls.count("DescribeJobs")

        execution = drill.orch.waves.step(execution.execution_id).execution
        wave = execution.waves[0]
        # Recorded as it failed: the step does not ask DRS again once it has failed.
        assert sim.calls.count("DescribeJobs") == polls + 8
        assert wave.transient_error is not None
        assert wave.transient_error.code == "Throttled"
        assert wave.transient_errors == 1
        assert execution.status is ExecutionStatus.RUNNING

        execution = drill.run(execution)
        assert execution.status is ExecutionStatus.COMPLETED
        assert execution.waves[0].transient_error is None


class _Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, WaveStatus, int]] = []

    def after_wave(self, execution: Execution, wave_run: WaveRun) -> None:
        launched = sum(o.status is ServerLaunchStatus.LAUNCHED for o in wave_run.servers.values())
        self.seen.append((wave_run.wave_name, wave_run.status, launched))


class _Broken:
    def after_wave(self, execution: Execution, wave_run: WaveRun) -> None:
        raise RuntimeError("chat webhook is down")


class _Cache:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], AccountContext | None]] = []

    def sync_servers(
        self, region: str, source_server_ids: list[str], account: AccountContext | None = None
    ) -> Any:
        self.calls.append((region, source_server_ids, account))


def test_hooks_run_after_each_wave_and_their_errors_never_fail_it() -> None:
    with simulated() as sim:
        recorder, cache = _Recorder(), _Cache()
        drill = make_drill(
            sim, {"database": 2, "app": 1}, hooks=[recorder, _Broken(), CacheSyncHook(cache)]
        )

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.COMPLETED
        assert recorder.seen == [
            ("database", WaveStatus.MONITORING, 2),
            ("app", WaveStatus.MONITORING, 1),
        ]
        for wave in execution.waves:
            assert [e.message for e in wave.hook_errors] == ["chat webhook is down"]
        assert cache.calls == [
            ("us-east-1", sorted(drill.servers["database"]), None),
            ("us-east-1", drill.servers["app"], None),
        ]
