"""DRS's job quotas, busy servers, and servers that have nothing to recover from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sim_helpers import REGION, START, run_drill

from drs_orchestration.testing import DrsSimulator, Quotas, SimulatedClientFactory, mock_drs

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient


def test_more_than_100_servers_in_one_job_exceeds_the_quota(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    servers = [bare_sim.add_source_server(hostname=f"s{n}") for n in range(101)]
    with pytest.raises(bare_drs.exceptions.ServiceQuotaExceededException) as caught:
        run_drill(bare_drs, servers)
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 402
    assert response["serviceCode"] == "drs"  # type: ignore[typeddict-item]
    assert response["quotaCode"] == "sim-servers-per-job"  # type: ignore[typeddict-item]
    assert response["resourceType"] == "SOURCE_SERVER"  # type: ignore[typeddict-item]
    assert run_drill(bare_drs, servers[:100])["status"] == "PENDING"


def test_jobs_in_progress_and_servers_in_progress_are_capped() -> None:
    quotas = Quotas(max_jobs_in_progress=2, max_servers_in_progress=5)
    with mock_drs(start=START, quotas=quotas) as sim:
        drs = SimulatedClientFactory(sim).client("drs", REGION)
        servers = [sim.add_source_server(hostname=f"s{n}") for n in range(8)]
        run_drill(drs, servers[:1])
        run_drill(drs, servers[1:2])
        with pytest.raises(drs.exceptions.ServiceQuotaExceededException) as too_many_jobs:
            run_drill(drs, servers[2:3])
        assert too_many_jobs.value.response["resourceType"] == "JOB"  # type: ignore[typeddict-item]

        sim.advance_until_idle()
        run_drill(drs, servers[:4])
        with pytest.raises(drs.exceptions.ServiceQuotaExceededException, match="5 source servers"):
            run_drill(drs, servers[4:6])
        sim.advance_until_idle()
        run_drill(drs, servers[4:8])


def test_a_server_in_a_job_in_progress_refuses_a_second_job(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    busy, free = (bare_sim.add_source_server(hostname=f"s{n}") for n in range(2))
    job = run_drill(bare_drs, [busy])
    with pytest.raises(bare_drs.exceptions.ConflictException) as caught:
        run_drill(bare_drs, [free, busy])
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert response["resourceId"] == busy  # type: ignore[typeddict-item]
    assert job["jobID"] in response["Error"]["Message"]
    with pytest.raises(bare_drs.exceptions.ConflictException):
        bare_drs.update_launch_configuration(sourceServerID=busy, copyTags=True)
    bare_sim.advance_until_idle()
    assert run_drill(bare_drs, [free, busy])["status"] == "PENDING"


@pytest.mark.parametrize("state", ["STOPPED", "DISCONNECTED", "INITIATING", "INITIAL_SYNC"])
def test_servers_without_a_recovery_point_are_refused_for_drills_and_recoveries(
    bare_sim: DrsSimulator, bare_drs: DrsClient, state: str
) -> None:
    server = bare_sim.add_source_server(hostname="db", replication_state=state, stuck=True)
    for is_drill in (True, False):
        with pytest.raises(bare_drs.exceptions.ConflictException, match=state) as caught:
            run_drill(bare_drs, [server], is_drill=is_drill)
        response = caught.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 409
        assert response["resourceId"] == server  # type: ignore[typeddict-item]
        assert response["resourceType"] == "SOURCE_SERVER"  # type: ignore[typeddict-item]
        assert server in response["Error"]["Message"]
    assert bare_drs.describe_jobs()["items"] == []


def test_initial_sync_reaches_continuous_unless_stuck(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    syncing = bare_sim.add_source_server(hostname="new", replication_state="INITIAL_SYNC")
    stuck = bare_sim.add_source_server(
        hostname="stuck", replication_state="INITIAL_SYNC", stuck=True
    )

    def states() -> dict[str, str]:
        return {
            s["sourceServerID"]: s["dataReplicationInfo"]["dataReplicationState"]
            for s in bare_drs.describe_source_servers()["items"]
        }

    early = {s["sourceServerID"]: s for s in bare_drs.describe_source_servers()["items"]}
    info = early[syncing]["dataReplicationInfo"]
    assert info["dataReplicationState"] == "INITIAL_SYNC"
    assert "etaDateTime" in info
    assert info["replicatedDisks"][0]["backloggedStorageBytes"] > 0
    bare_sim.advance(bare_sim.timings.replication_catch_up)
    assert states() == {syncing: "CONTINUOUS", stuck: "INITIAL_SYNC"}
    run_drill(bare_drs, [syncing])


def test_set_replication_state_stalls_a_server_and_its_lag_grows(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db", lag="PT10S")
    bare_sim.set_replication_state(server, "STALLED", error="UNSTABLE_NETWORK")
    bare_sim.advance(120)
    info = bare_drs.describe_source_servers()["items"][0]["dataReplicationInfo"]
    assert info["dataReplicationState"] == "STALLED"
    assert info["lagDuration"] == "PT2M10S"
    assert info["dataReplicationError"] == {"error": "UNSTABLE_NETWORK"}
    with pytest.raises(ValueError, match="DataReplicationState"):
        bare_sim.set_replication_state(server, "BROKEN")


def test_unknown_or_duplicate_servers_are_validation_errors(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db")
    with pytest.raises(bare_drs.exceptions.ValidationException) as unknown:
        run_drill(bare_drs, [server, "s-00000000000000000"])
    assert unknown.value.response["fieldList"][0]["name"] == (  # type: ignore[typeddict-item]
        "sourceServers.2.member.sourceServerID"
    )
    with pytest.raises(bare_drs.exceptions.ValidationException, match="unique"):
        run_drill(bare_drs, [server, server])
