"""Reverse replication and failback of EC2-originated servers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sim_helpers import REGION, run_drill

from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from drs_orchestration.testing.service import parse_duration

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient

ORIGIN = "us-west-2"


def _recovered(
    sim: DrsSimulator, drs: DrsClient, *, is_drill: bool = False, **kw: Any
) -> tuple[str, str]:
    server = sim.add_source_server(
        hostname="app", source_instance_id="i-0123456789abcdef0", origin_region=ORIGIN, **kw
    )
    run_drill(drs, [server], is_drill=is_drill)
    sim.advance_until_idle()
    instance = drs.describe_recovery_instances()["items"][0]["recoveryInstanceID"]
    return server, instance


def _failback(drs: DrsClient, instance: str) -> dict[str, Any]:
    items = drs.describe_recovery_instances(filters={"recoveryInstanceIDs": [instance]})["items"]
    return dict(items[0])


def test_reverse_replication_reaches_ready_for_launch_with_a_shrinking_lag(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server, instance = _recovered(sim, drs)
    assert _failback(drs, instance)["failback"]["state"] == "FAILBACK_NOT_STARTED"

    arn = drs.reverse_replication(recoveryInstanceID=instance)["reversedDirectionSourceServerArn"]
    assert f":drs:{ORIGIN}:123456789012:source-server/s-" in arn
    origin_drs = SimulatedClientFactory(sim).client("drs", ORIGIN)
    reversed_id = arn.rsplit("/", 1)[1]

    def reversed_server() -> dict[str, Any]:
        return dict(
            origin_drs.describe_source_servers(filters={"sourceServerIDs": [reversed_id]})["items"][
                0
            ]
        )

    first = reversed_server()
    assert first["replicationDirection"] == "FAILBACK"
    assert first["reversedDirectionSourceServerArn"].endswith(server)
    assert first["sourceCloudProperties"]["originRegion"] == REGION
    original = drs.describe_source_servers()["items"][0]
    assert original["reversedDirectionSourceServerArn"] == arn

    lags = []
    states = []
    for _ in range(6):
        sim.advance(120)
        info = reversed_server()["dataReplicationInfo"]
        states.append(info["dataReplicationState"])
        lags.append(parse_duration(info["lagDuration"]))
        item = _failback(drs, instance)
        assert item["failback"]["agentLastSeenByServiceDateTime"]
    assert lags == sorted(lags, reverse=True)
    assert lags[0] > lags[-1]
    assert states[0] == "INITIAL_SYNC"
    assert states[-1] == "CONTINUOUS"
    ready = _failback(drs, instance)
    assert ready["failback"]["state"] == "FAILBACK_READY_FOR_LAUNCH"
    assert ready["failback"]["failbackInitiationTime"]
    assert ready["failback"]["firstByteDateTime"]
    assert ready["dataReplicationInfo"]["dataReplicationState"] == "CONTINUOUS"


def test_failback_launch_runs_a_failback_job_to_completion(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    _, instance = _recovered(sim, drs)
    drs.reverse_replication(recoveryInstanceID=instance)
    with pytest.raises(drs.exceptions.ConflictException, match="FAILBACK_IN_PROGRESS"):
        drs.start_failback_launch(recoveryInstanceIDs=[instance])
    sim.advance(sim.timings.reverse_replication)

    job = drs.start_failback_launch(recoveryInstanceIDs=[instance], tags={"wave": "1"})["job"]
    assert job["initiatedBy"] == "FAILBACK"
    assert job["participatingServers"][0]["recoveryInstanceID"] == instance
    assert _failback(drs, instance)["failback"]["failbackJobID"] == job["jobID"]
    sim.advance_until_idle()
    done = drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]
    assert done["status"] == "COMPLETED"
    assert done["tags"] == {"wave": "1"}
    assert _failback(drs, instance)["failback"]["state"] == "FAILBACK_COMPLETED"


def test_stop_failback_goes_back_to_not_started(sim: DrsSimulator, drs: DrsClient) -> None:
    _, instance = _recovered(sim, drs)
    drs.reverse_replication(recoveryInstanceID=instance)
    sim.advance(60)
    drs.stop_failback(recoveryInstanceID=instance)
    assert _failback(drs, instance)["failback"] == {"state": "FAILBACK_NOT_STARTED"}
    with pytest.raises(drs.exceptions.ConflictException):
        drs.start_failback_launch(recoveryInstanceIDs=[instance])
    drs.reverse_replication(recoveryInstanceID=instance)


def test_reverse_replication_is_refused_for_drills_and_on_premises_servers(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    _, drill = _recovered(sim, drs, is_drill=True)
    with pytest.raises(drs.exceptions.ValidationException, match="drill"):
        drs.reverse_replication(recoveryInstanceID=drill)

    on_prem = sim.add_source_server(hostname="dc1-db")
    run_drill(drs, [on_prem], is_drill=False)
    sim.advance_until_idle()
    instance = drs.describe_recovery_instances(filters={"sourceServerIDs": [on_prem]})["items"][0]
    assert instance["originEnvironment"] == "ON_PREMISES"
    with pytest.raises(drs.exceptions.ValidationException, match="originated in EC2"):
        drs.reverse_replication(recoveryInstanceID=instance["recoveryInstanceID"])
    with pytest.raises(drs.exceptions.ResourceNotFoundException):
        drs.reverse_replication(recoveryInstanceID="i-0123456789abcdef0")


def test_failback_replication_configuration(sim: DrsSimulator, drs: DrsClient) -> None:
    _, instance = _recovered(sim, drs)
    config = drs.get_failback_replication_configuration(recoveryInstanceID=instance)
    assert config["recoveryInstanceID"] == instance
    assert config["bandwidthThrottling"] == 0
    drs.update_failback_replication_configuration(
        recoveryInstanceID=instance, name="back", usePrivateIP=True, bandwidthThrottling=50
    )
    updated = drs.get_failback_replication_configuration(recoveryInstanceID=instance)
    assert (updated["name"], updated["usePrivateIP"], updated["bandwidthThrottling"]) == (
        "back",
        True,
        50,
    )


def test_disconnect_then_delete_a_recovery_instance(sim: DrsSimulator, drs: DrsClient) -> None:
    _, instance = _recovered(sim, drs)
    with pytest.raises(drs.exceptions.ConflictException, match="disconnected first"):
        drs.delete_recovery_instance(recoveryInstanceID=instance)
    drs.disconnect_recovery_instance(recoveryInstanceID=instance)
    info = _failback(drs, instance)["dataReplicationInfo"]
    assert info["dataReplicationState"] == "DISCONNECTED"
    assert {d["totalStorageBytes"] for d in info["replicatedDisks"]} == {0}
    drs.delete_recovery_instance(recoveryInstanceID=instance)
    assert drs.describe_recovery_instances()["items"] == []
    assert _ec2_state(sim, instance) == "running"


def _ec2_state(sim: DrsSimulator, instance_id: str) -> str:
    ec2 = SimulatedClientFactory(sim).client("ec2", REGION)
    return str(
        ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0][
            "State"
        ]["Name"]
    )
