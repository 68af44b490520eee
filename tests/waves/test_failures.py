"""Servers not ready, launch failures, timeouts, refused starts, incomplete jobs."""

from __future__ import annotations

from typing import Any

import pytest

from drs_orchestration import (
    ExecutionStatus,
    JobTimeoutError,
    ServersNotReadyError,
    WaveStatus,
)
from drs_orchestration.events import ServerFailed
from drs_orchestration.models import JobStatus, ServerLaunchStatus
from drs_orchestration.testing import SimulatedClientFactory
from tests.waves.helpers import REGION, make_drill, orchestrator, simulated


def test_servers_not_ready_refuse_the_wave_naming_each_server_and_state() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 3})
        stalled, syncing, _ = drill.servers["database"]
        sim.set_replication_state(stalled, "STALLED")
        sim.set_replication_state(syncing, "INITIAL_SYNC", stuck=True)

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.FAILED
        wave = execution.waves[0]
        assert wave.status is WaveStatus.FAILED
        assert wave.error is not None
        assert wave.error.code == ServersNotReadyError.code
        assert wave.error.details["servers"] == {stalled: "STALLED", syncing: "INITIAL_SYNC"}
        assert stalled in wave.error.message
        assert "STALLED" in wave.error.message
        assert execution.error == wave.error
        assert sim.calls.count("StartRecovery") == 0


def test_later_waves_are_skipped_after_a_refused_wave() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1, "app": 1})
        sim.set_replication_state(drill.servers["database"][0], "DISCONNECTED")

        execution = drill.run(drill.start())

        assert [w.status for w in execution.waves] == [WaveStatus.FAILED, WaveStatus.SKIPPED]
        assert execution.status is ExecutionStatus.FAILED


def test_skip_not_ready_records_skipped_servers_and_launches_the_others() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 3})
        lagging = drill.servers["database"][0]
        sim.set_replication_state(lagging, "BACKLOG", stuck=True)

        execution = drill.run(drill.start(skip_not_ready=True))

        wave = execution.waves[0]
        assert wave.servers[lagging].status is ServerLaunchStatus.SKIPPED
        assert (wave.servers[lagging].skipped_reason or "").startswith(
            "not ready: replication is BACKLOG; the drill readiness rule accepts CONTINUOUS"
        )
        readiness = wave.servers[lagging].readiness
        assert readiness is not None
        assert (readiness.state, readiness.ready) == ("BACKLOG", False)
        launched = [s for s, o in wave.servers.items() if o.status is ServerLaunchStatus.LAUNCHED]
        assert sorted(launched) == sorted(drill.servers["database"][1:])
        assert wave.status is WaveStatus.PARTIAL
        assert execution.status is ExecutionStatus.PARTIAL
        assert lagging not in [
            s
            for call in sim.calls.of("StartRecovery")
            for s in [x["sourceServerID"] for x in call.params["sourceServers"]]
        ]
        skipped = [e for e in drill.events if isinstance(e, ServerFailed) and e.skipped]
        assert [e.source_server_id for e in skipped] == [lagging]


def test_a_server_drs_does_not_return_is_not_ready() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 1})
        other_region = sim.add_source_server(region="eu-west-1", hostname="elsewhere")
        group_id = drill.plan.waves[0].protection_group_ids[0]
        group = drill.orch.groups.get(group_id)
        # A group whose stored IDs include a server DRS does not have in its region.
        drill.orch.storage.protection_groups.put(
            group.model_copy(update={"source_server_ids": [*group.source_server_ids, other_region]})
        )

        execution = drill.run(drill.start())

        assert execution.status is ExecutionStatus.FAILED
        assert execution.waves[0].error is not None
        assert execution.waves[0].error.details["servers"] == {other_region: "NOT_FOUND"}


@pytest.mark.parametrize(
    ("policy", "wave_status", "execution_status", "next_wave"),
    [
        ("continue", WaveStatus.PARTIAL, ExecutionStatus.PARTIAL, WaveStatus.COMPLETED),
        ("stop", WaveStatus.FAILED, ExecutionStatus.FAILED, WaveStatus.SKIPPED),
    ],
)
def test_one_failed_launch_does_not_stop_the_others(
    policy: str, wave_status: WaveStatus, execution_status: ExecutionStatus, next_wave: WaveStatus
) -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 3, "app": 1}, failure_policy=policy)
        broken = drill.servers["database"][1]
        sim.faults.fail_launch(broken, "InsufficientInstanceCapacity for r6i.xlarge")

        execution = drill.run(drill.start())

        database, app = execution.waves
        assert database.servers[broken].status is ServerLaunchStatus.FAILED
        assert database.servers[broken].error is not None
        assert "InsufficientInstanceCapacity" in database.servers[broken].error.message
        assert database.servers[broken].phases.launch_failed is not None
        others = [o for s, o in database.servers.items() if s != broken]
        assert all(o.status is ServerLaunchStatus.LAUNCHED for o in others)
        assert database.jobs[0].status is JobStatus.COMPLETED
        assert database.status is wave_status
        assert app.status is next_wave
        assert execution.status is execution_status
        if policy == "stop":
            assert execution.error is not None
            assert broken in execution.error.message


def test_a_wave_that_outlives_its_timeout_fails_with_job_timeout() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2, "app": 1}, waves=[{"timeoutS": 120}])

        execution = drill.run(drill.start())

        database, app = execution.waves
        assert database.status is WaveStatus.FAILED
        assert database.error is not None
        assert database.error.code == JobTimeoutError.code
        assert "120 s" in database.error.message
        assert database.error.details["jobIds"] == database.job_ids
        assert all(o.status is ServerLaunchStatus.FAILED for o in database.servers.values())
        assert all(o.error is not None for o in database.servers.values())
        assert database.job_ids  # the job stays recorded, so its instances can be found
        assert app.status is WaveStatus.SKIPPED
        assert execution.status is ExecutionStatus.FAILED
        assert sim.calls.count("StartRecovery") == 1


def test_a_completed_job_with_servers_still_pending_counts_them_failed() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2}, failure_policy="continue")
        stuck = drill.servers["database"][0]
        client = drill.orch.clients.client("drs", REGION)

        def report_stuck(parsed: dict[str, Any], **_: Any) -> None:
            # The server never gets going, and DRS still ends the job.
            for job in parsed.get("items", []):
                for server in job.get("participatingServers", []):
                    if server["sourceServerID"] == stuck:
                        server["launchStatus"] = "PENDING"
                        server.pop("recoveryInstanceID", None)

        client.meta.events.register("after-call.drs.DescribeJobs", report_stuck)

        execution = drill.run(drill.start())

        outcome = execution.waves[0].servers[stuck]
        assert outcome.status is ServerLaunchStatus.FAILED
        assert outcome.error is not None
        assert outcome.error.code == "LaunchNotCompleted"
        assert execution.waves[0].status is WaveStatus.PARTIAL
        assert execution.status is ExecutionStatus.PARTIAL


def test_a_chunk_drs_refuses_on_every_attempt_fails_its_servers() -> None:
    with simulated() as sim:
        drill = make_drill(sim, {"database": 2})
        sim.faults.server_error(1.0, "StartRecovery")

        execution = drill.run(drill.start())

        wave = execution.waves[0]
        chunk = wave.jobs[0]
        assert chunk.status is JobStatus.START_FAILED
        assert chunk.start_attempts == 3
        assert chunk.start_failures == 3
        assert chunk.error is not None
        assert chunk.error.details["awsCode"] == "InternalServerException"
        assert all(o.status is ServerLaunchStatus.FAILED for o in wave.servers.values())
        assert wave.status is WaveStatus.FAILED
        assert execution.status is ExecutionStatus.FAILED
        # Before each new attempt the executor looked for a job DRS might have created;
        # the gateway never re-sends a StartRecovery a 500 left ambiguous.
        assert sim.calls.count("StartRecovery", injected=True) == 3


def test_wave_in_another_account_is_checked_in_that_account() -> None:
    with simulated() as sim:
        orch = orchestrator(sim, clients=SimulatedClientFactory(sim))
        from drs_orchestration.models import AccountContext

        account = AccountContext(account_id="222222222222", role_name="DRSOrchestrationRole")
        remote = sim.add_source_server(region=REGION, hostname="remote", account_id="222222222222")
        group = orch.groups.create("remote", REGION, server_ids=[remote], account=account)
        plan = orch.plans.create("p", [{"name": "remote", "protectionGroupIds": [group.group_id]}])

        execution = orch.waves.run(orch.waves.start(plan.plan_id).execution_id)

        assert execution.status is ExecutionStatus.COMPLETED
        assert {c.account_id for c in sim.calls.of("StartRecovery")} == {"222222222222"}
        assert {c.account_id for c in sim.calls.of("DescribeSourceServers")} == {"222222222222"}
