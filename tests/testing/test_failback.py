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


def _origin(sim: DrsSimulator) -> DrsClient:
    return SimulatedClientFactory(sim).client("drs", ORIGIN)


def _server(drs: DrsClient, server_id: str) -> dict[str, Any]:
    return dict(drs.describe_source_servers(filters={"sourceServerIDs": [server_id]})["items"][0])


def _reversed(sim: DrsSimulator, drs: DrsClient, instance: str) -> str:
    arn = drs.reverse_replication(recoveryInstanceID=instance)["reversedDirectionSourceServerArn"]
    return str(arn.rsplit("/", 1)[1])


def test_reverse_replication_starts_initiating_then_syncs_then_is_continuous(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    _, instance = _recovered(sim, drs)
    back = _reversed(sim, drs, instance)
    origin = _origin(sim)
    seen = []
    for _ in range(4):
        seen.append(_server(origin, back)["dataReplicationInfo"]["dataReplicationState"])
        sim.advance(sim.timings.reverse_replication / 3)
    assert seen[0] == "INITIATING"
    assert "INITIAL_SYNC" in seen
    assert seen[-1] == "CONTINUOUS"


@pytest.mark.parametrize(
    ("state", "failback_state"),
    [("INITIAL_SYNC", "FAILBACK_IN_PROGRESS"), ("STALLED", "FAILBACK_ERROR")],
)
def test_a_stalled_reverse_replication_never_becomes_ready(
    sim: DrsSimulator, drs: DrsClient, state: str, failback_state: str
) -> None:
    _, instance = _recovered(sim, drs)
    sim.faults.stall_reverse_replication(state, recovery_instance_ids=[instance], times=1)
    back = _reversed(sim, drs, instance)

    sim.advance(10 * sim.timings.reverse_replication)

    info = _server(_origin(sim), back)["dataReplicationInfo"]
    assert info["dataReplicationState"] == state
    assert _failback(drs, instance)["failback"]["state"] == failback_state
    with pytest.raises(drs.exceptions.ConflictException):
        drs.start_failback_launch(recoveryInstanceIDs=[instance])


def test_a_lagging_reverse_replication_is_continuous_with_its_lag(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    _, instance = _recovered(sim, drs)
    sim.faults.stall_reverse_replication("CONTINUOUS", lag=7200)
    back = _reversed(sim, drs, instance)
    sim.advance(sim.timings.reverse_replication)

    info = _server(_origin(sim), back)["dataReplicationInfo"]

    assert info["dataReplicationState"] == "CONTINUOUS"
    assert parse_duration(info["lagDuration"]) == 7200


def test_reverse_replication_faults_are_checked(sim: DrsSimulator) -> None:
    with pytest.raises(ValueError, match="needs a lag"):
        sim.faults.stall_reverse_replication("CONTINUOUS")
    with pytest.raises(ValueError, match="state must be one of"):
        sim.faults.stall_reverse_replication("STOPPED")


def test_recovering_the_reversed_server_completes_the_failback_and_reprotection_reuses_the_source(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server, instance = _recovered(sim, drs)
    back = _reversed(sim, drs, instance)
    sim.advance(sim.timings.reverse_replication)
    origin = _origin(sim)

    drill = run_drill(origin, [back], is_drill=True)
    sim.advance_until_idle()
    assert _failback(drs, instance)["failback"]["state"] == "FAILBACK_READY_FOR_LAUNCH"
    assert _failback(drs, instance)["failback"]["failbackLaunchType"] == "DRILL"
    assert drill["initiatedBy"] == "START_DRILL"

    run_drill(origin, [back], is_drill=False)
    sim.advance_until_idle()
    assert _failback(drs, instance)["failback"]["state"] == "FAILBACK_COMPLETED"
    assert _failback(drs, instance)["failback"]["failbackLaunchType"] == "RECOVERY"
    failed_back = str(_server(origin, back)["recoveryInstanceId"])

    arn = origin.reverse_replication(recoveryInstanceID=failed_back)[
        "reversedDirectionSourceServerArn"
    ]

    assert arn.endswith(server)
    assert len(drs.describe_source_servers()["items"]) == 1
    source = _server(drs, server)
    assert source["dataReplicationInfo"]["dataReplicationState"] == "INITIATING"
    assert source["sourceProperties"]["identificationHints"]["awsInstanceID"] == failed_back
    assert source["sourceCloudProperties"]["originRegion"] == ORIGIN
    assert source["replicationDirection"] == "FAILOVER"
    assert _server(origin, back)["reversedDirectionSourceServerArn"] == source["arn"]
    sim.advance(sim.timings.reverse_replication)
    assert _server(drs, server)["dataReplicationInfo"]["dataReplicationState"] == "CONTINUOUS"


def test_the_template_launch_into_source_instance_targets_the_original_instance(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    ec2 = SimulatedClientFactory(sim).client("ec2", ORIGIN)
    original = ec2.run_instances(
        ImageId="ami-04681a1dbd79675a5", MinCount=1, MaxCount=1, InstanceType="m5.large"
    )["Instances"][0]["InstanceId"]
    origin = _origin(sim)
    template = origin.describe_launch_configuration_templates()["items"][0]
    assert template["launchIntoSourceInstance"] is False
    updated = origin.update_launch_configuration_template(
        launchConfigurationTemplateID=template["launchConfigurationTemplateID"],
        launchIntoSourceInstance=True,
    )["launchConfigurationTemplate"]
    assert updated["launchIntoSourceInstance"] is True
    server = sim.add_source_server(
        hostname="app", source_instance_id=original, origin_region=ORIGIN
    )
    run_drill(drs, [server], is_drill=False)
    sim.advance_until_idle()
    instance = drs.describe_recovery_instances()["items"][0]["recoveryInstanceID"]

    back = _reversed(sim, drs, instance)

    config = origin.get_launch_configuration(sourceServerID=back)
    assert config["launchIntoInstanceProperties"] == {"launchIntoEC2InstanceID": original}
    assert config["copyPrivateIp"] is False
    assert config["copyTags"] is False


def test_templates_set_the_launch_configuration_of_new_servers(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    (template,) = drs.describe_launch_configuration_templates()["items"]
    assert template["launchConfigurationTemplateID"].startswith("lct-")
    assert drs.describe_launch_configuration_templates(
        launchConfigurationTemplateIDs=[template["launchConfigurationTemplateID"]]
    )["items"] == [template]
    before = sim.add_source_server(hostname="before")
    drs.update_launch_configuration_template(
        launchConfigurationTemplateID=template["launchConfigurationTemplateID"],
        copyTags=True,
        launchDisposition="STOPPED",
    )
    after = sim.add_source_server(hostname="after")

    assert drs.get_launch_configuration(sourceServerID=before)["copyTags"] is False
    config = drs.get_launch_configuration(sourceServerID=after)
    assert (config["copyTags"], config["launchDisposition"]) == (True, "STOPPED")
    with pytest.raises(drs.exceptions.ResourceNotFoundException):
        drs.update_launch_configuration_template(
            launchConfigurationTemplateID="lct-0123456789abcdef0", copyTags=False
        )


def test_stop_replication_and_disconnect_source_server(sim: DrsSimulator, drs: DrsClient) -> None:
    server = sim.add_source_server(hostname="temp")
    assert drs.describe_recovery_snapshots(sourceServerID=server)["items"]

    stopped = drs.stop_replication(sourceServerID=server)["sourceServer"]

    assert stopped["dataReplicationInfo"]["dataReplicationState"] == "STOPPED"
    assert drs.describe_recovery_snapshots(sourceServerID=server)["items"] == []
    with pytest.raises(drs.exceptions.ConflictException, match="not replicating"):
        drs.stop_replication(sourceServerID=server)
    disconnected = drs.disconnect_source_server(sourceServerID=server)
    assert disconnected["dataReplicationInfo"]["dataReplicationState"] == "DISCONNECTED"

    recovered, _ = _recovered(sim, drs)
    with pytest.raises(drs.exceptions.ConflictException, match="has recovery instance"):
        drs.disconnect_source_server(sourceServerID=recovered)


def test_launch_into_an_instance_replaces_its_volumes_and_keeps_its_id_and_ip(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    ec2 = SimulatedClientFactory(sim).client("ec2", REGION)
    target = ec2.run_instances(
        ImageId="ami-04681a1dbd79675a5",
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"}],
            }
        ],
    )["Instances"][0]
    old_volumes = [m["Ebs"]["VolumeId"] for m in target["BlockDeviceMappings"]]
    server = sim.add_source_server(hostname="db", disks=[("/dev/xvda", 20 * 1024**3)])
    drs.update_launch_configuration(
        sourceServerID=server,
        launchIntoInstanceProperties={"launchIntoEC2InstanceID": target["InstanceId"]},
    )

    run_drill(drs, [server], is_drill=False)
    sim.advance_until_idle()

    after = ec2.describe_instances(InstanceIds=[target["InstanceId"]])["Reservations"][0][
        "Instances"
    ][0]
    new_volumes = [m["Ebs"]["VolumeId"] for m in after["BlockDeviceMappings"]]
    assert after["PrivateIpAddress"] == target["PrivateIpAddress"]
    assert after["State"]["Name"] == "running"
    assert set(new_volumes).isdisjoint(old_volumes)
    described = {v["VolumeId"]: v for v in ec2.describe_volumes()["Volumes"]}
    assert all(described[v]["State"] == "available" for v in old_volumes)
    assert described[new_volumes[0]]["Size"] == 20
    tags = {t["Key"]: t["Value"] for t in described[new_volumes[0]].get("Tags", [])}
    assert tags["drs.amazonaws.com-source-server"] == server
    instance = drs.describe_recovery_instances()["items"][0]
    assert instance["ec2InstanceID"] == target["InstanceId"]


def test_a_failback_client_replicates_an_on_premises_server_back(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server = sim.add_source_server(hostname="dc1-db")
    run_drill(drs, [server], is_drill=False)
    sim.advance_until_idle()
    instance = drs.describe_recovery_instances()["items"][0]["recoveryInstanceID"]

    client_id = sim.connect_failback_client(instance)

    item = _failback(drs, instance)
    assert item["failback"]["state"] == "FAILBACK_IN_PROGRESS"
    assert item["failback"]["failbackClientID"] == client_id
    assert item["dataReplicationInfo"]["dataReplicationState"] == "INITIATING"
    sim.advance(sim.timings.reverse_replication)
    ready = _failback(drs, instance)
    assert ready["failback"]["state"] == "FAILBACK_READY_FOR_LAUNCH"
    assert ready["failback"]["failbackClientLastSeenByServiceDateTime"]
    job = drs.start_failback_launch(recoveryInstanceIDs=[instance])["job"]
    sim.advance_until_idle()
    assert _failback(drs, instance)["failback"]["state"] == "FAILBACK_COMPLETED"
    assert _failback(drs, instance)["failback"]["failbackJobID"] == job["jobID"]
    with pytest.raises(KeyError):
        sim.connect_failback_client("i-0123456789abcdef0")
