"""DRS's EventBridge events drive an execution: waves follow each other without a wasted poll."""

from __future__ import annotations

from datetime import datetime

import pytest

from drs_orchestration import AccountContext, ExecutionStatus, ValidationError
from drs_orchestration.testing import DrsSimulator
from drs_orchestration.testing.events import LAUNCH_RESULT, STALLED_CHANGE
from tests.waves.helpers import Drill, make_drill, orchestrator, simulated

POLL_S = 600.0


def _gap_between_waves(sim: DrsSimulator, drill: Drill) -> float:
    """Simulated seconds from the first wave's last launch to the second wave's first start."""
    launched = [
        datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
        for e in sim.events.published
        if e["detail-type"] == LAUNCH_RESULT
        and e["detail"]["source-server-id"] in drill.servers["database"]
    ]
    starts = [
        call.at
        for call in sim.calls.of("StartRecovery", succeeded=True)
        if call.params["sourceServers"][0]["sourceServerID"] in drill.servers["app"]
    ]
    return (min(starts) - max(launched)).total_seconds()


@pytest.mark.parametrize("with_events", [True, False])
def test_events_let_the_next_wave_start_at_once_polling_waits_an_interval(
    with_events: bool,
) -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2, "app": 2})
        if with_events:
            sim.events.subscribe(drill.orch.waves.on_drs_event)

        execution = drill.run(drill.start(), poll_interval=POLL_S)

        assert execution.status is ExecutionStatus.COMPLETED
        gap = _gap_between_waves(sim, drill)
        if with_events:
            assert gap < 5, "the launch result's steps start the next wave right away"
        else:
            # The goal for polling: at most one interval (and a second) between waves.
            assert 0 < gap <= POLL_S + 1


def test_a_launch_result_of_a_job_not_ours_or_another_event_is_left_alone() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 1})
        waves = drill.orch.waves
        server = drill.servers["database"][0]
        stray = drill.orch.clients.client("drs", "us-east-1").start_recovery(
            sourceServers=[{"sourceServerID": server}], isDrill=True
        )["job"]["jobID"]
        sim.advance_until_idle()
        [result] = [e for e in sim.events.published if e["detail-type"] == LAUNCH_RESULT]
        assert result["detail"]["job-id"] == stray
        assert waves.on_drs_event(result) is None

        sim.outage(server_ids=[server])
        [stalled] = [e for e in sim.events.published if e["detail-type"] == STALLED_CHANGE]
        assert stalled["detail"] == {"state": "STALLED"}
        assert waves.on_drs_event(stalled) is None

        with pytest.raises(ValidationError, match=r"aws\.drs"):
            waves.on_drs_event({"source": "aws.ec2", "detail-type": LAUNCH_RESULT})


def test_a_duplicate_or_late_event_changes_nothing_a_step_would_not() -> None:
    with simulated(ec2=False) as sim:
        drill = make_drill(sim, {"database": 2})
        waves = drill.orch.waves
        sim.events.subscribe(waves.on_drs_event)
        execution = drill.run(drill.start(), poll_interval=POLL_S)
        assert execution.status is ExecutionStatus.COMPLETED
        version = waves.get(execution.execution_id).version

        for event in sim.events.published:
            again = waves.on_drs_event(event)
            assert again is not None
            assert again.finished

        assert waves.get(execution.execution_id).version == version


def test_an_event_from_a_workload_accounts_bus_is_read_with_that_groups_role() -> None:
    with simulated(ec2=False) as sim:
        orch = orchestrator(sim)
        account = AccountContext(account_id="222222222222", role_name="DRSOrchestrationRole")
        remote = sim.add_source_server(region="us-east-1", hostname="db", account_id="222222222222")
        group = orch.groups.create("remote", "us-east-1", server_ids=[remote], account=account)
        plan = orch.plans.create("p", [{"name": "db", "protectionGroupIds": [group.group_id]}])
        execution_id = orch.waves.start(plan.plan_id).execution_id
        while not any(j.job_id for j in orch.waves.get(execution_id).waves[0].jobs):
            orch.waves.step(execution_id)
        sim.advance_until_idle()
        [result] = [e for e in sim.events.published if e["detail-type"] == LAUNCH_RESULT]
        assert result["account"] == "222222222222"

        stepped = orch.waves.on_drs_event(result)

        assert stepped is not None
        assert stepped.status is ExecutionStatus.COMPLETED
        reads = sim.calls.of("DescribeJobs")
        assert {c.account_id for c in reads} == {"222222222222"}
