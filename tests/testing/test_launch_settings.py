"""Launch configurations and EC2 launch templates decide what a recovery instance is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from sim_helpers import log_events, run_drill

from drs_orchestration.testing import DrsSimulator

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient
    from mypy_boto3_ec2 import EC2Client


def _default_data(ec2: EC2Client, template_id: str) -> dict[str, Any]:
    versions = ec2.describe_launch_template_versions(
        LaunchTemplateId=template_id, Versions=["$Default"]
    )["LaunchTemplateVersions"]
    return dict(versions[0]["LaunchTemplateData"])


def _set_template(ec2: EC2Client, template_id: str, **changes: Any) -> None:
    """As the library does it: merge into the default data, send it all with SourceVersion."""
    current = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"][0]
    data = _default_data(ec2, template_id)
    interface = changes.pop("PrivateIpAddress", None)
    if interface is not None:
        data["NetworkInterfaces"][0]["PrivateIpAddress"] = interface
    data.update(changes)
    created = ec2.create_launch_template_version(
        LaunchTemplateId=template_id,
        SourceVersion=str(current["DefaultVersionNumber"]),
        LaunchTemplateData=data,  # type: ignore[arg-type]
    )
    ec2.modify_launch_template(
        LaunchTemplateId=template_id,
        DefaultVersion=str(created["LaunchTemplateVersion"]["VersionNumber"]),
    )


def _ec2_instance(ec2: EC2Client, instance_id: str) -> dict[str, Any]:
    return dict(
        ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    )


def _launch(sim: DrsSimulator, drs: DrsClient, server: str) -> dict[str, Any]:
    job = run_drill(drs, [server])
    sim.advance_until_idle()
    return {
        "job": drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0],
        "log": log_events(drs, job["jobID"]),
        "instances": drs.describe_recovery_instances()["items"],
    }


def test_each_server_gets_a_moto_launch_template_with_drs_fields(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(hostname="web-1", cpus=4, ram_bytes=16 * 2**30)
    template_id = drs.get_launch_configuration(sourceServerID=server)["ec2LaunchTemplateID"]
    assert template_id == sim.launch_template_id(server)
    data = _default_data(ec2, template_id)
    assert data["InstanceType"] == "m5.xlarge"
    assert data["NetworkInterfaces"][0]["SubnetId"].startswith("subnet-")
    instance_tags = {
        t["Key"]: t["Value"]
        for spec in data["TagSpecifications"]
        if spec["ResourceType"] == "instance"
        for t in spec["Tags"]
    }
    assert instance_tags == {
        "AWSElasticDisasterRecoveryManaged": "drs.amazonaws.com",
        "AWSElasticDisasterRecoverySourceServerID": server,
        "Name": "web-1",
    }


def test_drs_defaults_match_aws(sim: DrsSimulator, drs: DrsClient) -> None:
    server = sim.add_source_server(hostname="web-1")
    config = drs.get_launch_configuration(sourceServerID=server)
    assert config["launchDisposition"] == "STARTED"
    assert config["targetInstanceTypeRightSizingMethod"] == "BASIC"
    assert config["copyPrivateIp"] is False
    assert config["copyTags"] is False
    assert "launchIntoInstanceProperties" not in config


def test_copy_private_ip_launches_with_the_source_ip(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(hostname="db", private_ip="172.31.5.20")
    drs.update_launch_configuration(sourceServerID=server, copyPrivateIp=True)
    launched = _launch(sim, drs, server)
    instance = _ec2_instance(ec2, launched["instances"][0]["ec2InstanceID"])
    assert instance["PrivateIpAddress"] == "172.31.5.20"
    hints = launched["instances"][0]["recoveryInstanceProperties"]["networkInterfaces"][0]
    assert hints["ips"] == ["172.31.5.20"]


def test_a_static_ip_in_the_template_is_used_and_drs_fields_survive(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(hostname="app", private_ip="172.31.5.21")
    template_id = sim.launch_template_id(server)
    _set_template(ec2, template_id, PrivateIpAddress="172.31.9.9")
    data = _default_data(ec2, template_id)
    assert data["TagSpecifications"]
    assert data["NetworkInterfaces"][0]["SubnetId"]
    launched = _launch(sim, drs, server)
    instance = _ec2_instance(ec2, launched["instances"][0]["ec2InstanceID"])
    assert instance["PrivateIpAddress"] == "172.31.9.9"


def test_an_ip_outside_the_subnet_fails_the_launch_with_ec2s_reason(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server = sim.add_source_server(hostname="app", private_ip="10.9.9.9")
    drs.update_launch_configuration(sourceServerID=server, copyPrivateIp=True)
    launched = _launch(sim, drs, server)
    assert launched["job"]["participatingServers"][0]["launchStatus"] == "FAILED"
    failure = next(e for e in launched["log"] if e["event"] == "LAUNCH_FAILED")
    assert failure["eventData"]["rawError"]


def test_right_sizing_decides_the_instance_type(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    basic = sim.add_source_server(hostname="basic", cpus=2, ram_bytes=8 * 2**30)
    pinned = sim.add_source_server(hostname="pinned")
    _set_template(ec2, sim.launch_template_id(basic), InstanceType="c5.large")
    _set_template(ec2, sim.launch_template_id(pinned), InstanceType="r6i.xlarge")
    drs.update_launch_configuration(
        sourceServerID=pinned, targetInstanceTypeRightSizingMethod="NONE"
    )
    run_drill(drs, [basic, pinned])
    sim.advance_until_idle()
    types = {
        i["sourceServerID"]: _ec2_instance(ec2, i["ec2InstanceID"])["InstanceType"]
        for i in drs.describe_recovery_instances()["items"]
    }
    assert types == {basic: "m5.large", pinned: "r6i.xlarge"}


def test_copy_tags_puts_the_source_tags_on_the_instance(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(hostname="tagged", tags={"CostCenter": "42", "Name": "src"})
    drs.update_launch_configuration(sourceServerID=server, copyTags=True)
    launched = _launch(sim, drs, server)
    instance = _ec2_instance(ec2, launched["instances"][0]["ec2InstanceID"])
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["CostCenter"] == "42"
    assert tags["drs.amazonaws.com-source-server"] == server
    assert tags["drs.amazonaws.com-job"] == launched["job"]["jobID"]
    assert tags["AWSElasticDisasterRecoveryManaged"] == "drs.amazonaws.com"


def _target(ec2: EC2Client, *, allow: bool) -> str:
    tags = [{"Key": "Name", "Value": "target"}]
    if allow:
        tags.append({"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"})
    reservation = ec2.run_instances(
        ImageId="ami-04681a1dbd79675a5",
        MinCount=1,
        MaxCount=1,
        InstanceType="m5.large",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],  # type: ignore[list-item]
    )
    return reservation["Instances"][0]["InstanceId"]


def test_launching_into_a_tagged_instance_uses_that_instance(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    target = _target(ec2, allow=True)
    server = sim.add_source_server(hostname="db")
    drs.update_launch_configuration(
        sourceServerID=server, launchIntoInstanceProperties={"launchIntoEC2InstanceID": target}
    )
    assert drs.get_launch_configuration(sourceServerID=server)["launchIntoInstanceProperties"] == {
        "launchIntoEC2InstanceID": target
    }
    launched = _launch(sim, drs, server)
    assert launched["job"]["participatingServers"][0]["launchStatus"] == "LAUNCHED"
    instance = launched["instances"][0]
    assert instance["recoveryInstanceID"] == target
    assert instance["ec2InstanceID"] == target
    tags = {t["Key"]: t["Value"] for t in _ec2_instance(ec2, target)["Tags"]}
    assert tags["drs.amazonaws.com-source-server"] == server

    # A relaunch replaces the recovery instance but never terminates the user's instance.
    _launch(sim, drs, server)
    assert _ec2_instance(ec2, target)["State"]["Name"] == "running"


@pytest.mark.parametrize(
    "case",
    [
        ("untagged", "AWSDRS=AllowLaunchingIntoThisInstance"),
        ("missing", "does not exist"),
    ],
)
def test_launching_into_an_unsuitable_instance_fails_with_a_useful_log_item(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client, case: tuple[str, str]
) -> None:
    kind, reason = case
    target = _target(ec2, allow=False) if kind == "untagged" else "i-0123456789abcdef0"
    server = sim.add_source_server(hostname="db")
    drs.update_launch_configuration(
        sourceServerID=server, launchIntoInstanceProperties={"launchIntoEC2InstanceID": target}
    )
    launched = _launch(sim, drs, server)
    assert launched["job"]["status"] == "COMPLETED"
    assert launched["job"]["participatingServers"][0]["launchStatus"] == "FAILED"
    failure = next(e for e in launched["log"] if e["event"] == "LAUNCH_FAILED")
    assert reason in failure["eventData"]["rawError"]
    assert target in failure["eventData"]["rawError"]


def test_launching_a_windows_server_into_a_linux_instance_fails(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    target = _target(ec2, allow=True)
    server = sim.add_source_server(hostname="win", os="WINDOWS")
    drs.update_launch_configuration(
        sourceServerID=server, launchIntoInstanceProperties={"launchIntoEC2InstanceID": target}
    )
    launched = _launch(sim, drs, server)
    failure = next(e for e in launched["log"] if e["event"] == "LAUNCH_FAILED")
    assert "OS platform" in failure["eventData"]["rawError"]


def test_launch_into_refuses_copy_private_ip_and_copy_tags(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server = sim.add_source_server(hostname="db")
    drs.update_launch_configuration(sourceServerID=server, copyTags=True)
    with pytest.raises(drs.exceptions.ValidationException) as caught:
        drs.update_launch_configuration(
            sourceServerID=server,
            launchIntoInstanceProperties={"launchIntoEC2InstanceID": "i-0123456789abcdef0"},
        )
    assert [f["name"] for f in caught.value.response["fieldList"]] == ["copyTags"]  # type: ignore[typeddict-item]
    drs.update_launch_configuration(
        sourceServerID=server,
        copyTags=False,
        launchIntoInstanceProperties={"launchIntoEC2InstanceID": "i-0123456789abcdef0"},
    )
    drs.update_launch_configuration(sourceServerID=server, launchIntoInstanceProperties={})
    assert "launchIntoInstanceProperties" not in drs.get_launch_configuration(sourceServerID=server)


def _versions(ec2: EC2Client, template_id: str) -> int:
    return len(
        ec2.describe_launch_template_versions(LaunchTemplateId=template_id)[
            "LaunchTemplateVersions"
        ]
    )


def test_right_sizing_writes_the_recommended_type_into_the_template(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(hostname="db", cpus=4, ram_bytes=16 * 2**30)
    template_id = sim.launch_template_id(server)
    assert _default_data(ec2, template_id)["InstanceType"] == "m5.xlarge"
    _set_template(ec2, template_id, InstanceType="c5.large")  # a change DRS overwrites
    assert _versions(ec2, template_id) == 2

    drs.update_launch_configuration(sourceServerID=server, copyTags=True)
    data = _default_data(ec2, template_id)
    assert data["InstanceType"] == "m5.xlarge"
    assert _versions(ec2, template_id) == 3  # a new version from the default, made default
    assert data["TagSpecifications"]  # DRS's own fields survive
    drs.update_launch_configuration(sourceServerID=server, copyTags=False)
    assert _versions(ec2, template_id) == 3  # nothing to write: no new version

    drs.update_launch_configuration(
        sourceServerID=server, targetInstanceTypeRightSizingMethod="NONE"
    )
    _set_template(ec2, template_id, InstanceType="r6i.large")
    drs.update_launch_configuration(sourceServerID=server, copyTags=True)
    assert _default_data(ec2, template_id)["InstanceType"] == "r6i.large"


def test_right_sizing_in_aws_writes_the_source_instance_type(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(
        hostname="ec2", source_instance_id="i-0123456789abcdef0", source_instance_type="c6i.2xlarge"
    )
    drs.update_launch_configuration(
        sourceServerID=server, targetInstanceTypeRightSizingMethod="IN_AWS"
    )
    assert _default_data(ec2, sim.launch_template_id(server))["InstanceType"] == "c6i.2xlarge"


def test_copy_private_ip_writes_the_source_ip_into_the_template(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(hostname="db", private_ip="172.31.5.30")
    template_id = sim.launch_template_id(server)
    assert "PrivateIpAddress" not in _default_data(ec2, template_id)["NetworkInterfaces"][0]
    drs.update_launch_configuration(sourceServerID=server, copyPrivateIp=True)
    interface = _default_data(ec2, template_id)["NetworkInterfaces"][0]
    assert interface["PrivateIpAddress"] == "172.31.5.30"
    assert interface["SubnetId"].startswith("subnet-")
    drs.update_launch_configuration(sourceServerID=server, copyPrivateIp=False)
    assert "PrivateIpAddress" not in _default_data(ec2, template_id)["NetworkInterfaces"][0]


def test_template_writes_work_without_moto_too(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    server = bare_sim.add_source_server(hostname="db", private_ip="172.31.5.31")
    bare_drs.update_launch_configuration(sourceServerID=server, copyPrivateIp=True)
    found = bare_sim.find_server(server)
    data = bare_sim.ec2.template_data(found.account_id, found.region, "detached", found.template_id)
    assert data["NetworkInterfaces"][0]["PrivateIpAddress"] == "172.31.5.31"
