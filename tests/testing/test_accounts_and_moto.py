"""Accounts come from the caller's access key; the simulator composes with moto or runs alone."""

from __future__ import annotations

import logging
import re

import boto3
import pytest
from moto import mock_aws
from sim_helpers import REGION, START, run_drill

from drs_orchestration.errors import CrossAccountError
from drs_orchestration.models import AccountContext
from drs_orchestration.testing import (
    DrsSimulator,
    SimulatedClientFactory,
    active_simulator,
    mock_drs,
    patch_client,
)
from drs_orchestration.testing.handler import handle_before_send

OTHER = AccountContext(
    account_id="222222222222", role_name="DRSOrchestrationRole", external_id="x1"
)


def test_two_accounts_keep_their_state_apart_with_moto_assume_role(sim: DrsSimulator) -> None:
    factory = SimulatedClientFactory(sim)
    home_drs = factory.client("drs", REGION)
    other_drs = factory.client("drs", REGION, OTHER)
    assert factory.client("sts", REGION, OTHER).get_caller_identity()["Account"] == "222222222222"

    mine = sim.add_source_server(hostname="mine")
    theirs = sim.add_source_server(hostname="theirs", account_id="222222222222")
    assert [s["sourceServerID"] for s in home_drs.describe_source_servers()["items"]] == [mine]
    assert [s["sourceServerID"] for s in other_drs.describe_source_servers()["items"]] == [theirs]
    assert other_drs.describe_source_servers()["items"][0]["arn"].split(":")[4] == "222222222222"

    run_drill(other_drs, [theirs])
    with pytest.raises(home_drs.exceptions.ValidationException):
        run_drill(home_drs, [theirs])
    sim.advance_until_idle()

    assert home_drs.describe_recovery_instances()["items"] == []
    recovered = other_drs.describe_recovery_instances()["items"]
    assert len(recovered) == 1
    other_ec2 = factory.client("ec2", REGION, OTHER)
    found = other_ec2.describe_instances(InstanceIds=[recovered[0]["ec2InstanceID"]])
    assert found["Reservations"][0]["OwnerId"] == "222222222222"
    home_ec2 = factory.client("ec2", REGION)
    assert home_ec2.describe_instances()["Reservations"] == []
    calls = {c.account_id for c in sim.calls.of("DescribeRecoveryInstances")}
    assert calls == {"123456789012", "222222222222"}


def test_cross_account_without_moto_uses_simulator_issued_keys(bare_sim: DrsSimulator) -> None:
    factory = SimulatedClientFactory(bare_sim)
    theirs = bare_sim.add_source_server(hostname="theirs", account_id="222222222222")
    other_drs = factory.client("drs", REGION, OTHER)
    assert [s["sourceServerID"] for s in other_drs.describe_source_servers()["items"]] == [theirs]
    assert factory.client("drs", REGION).describe_source_servers()["items"] == []
    assert bare_sim.credentials_for("222222222222").access_key_id.startswith("ASIASIM")


def test_the_factory_needs_a_simulator_for_other_accounts_without_moto() -> None:
    factory = SimulatedClientFactory()
    assert active_simulator() is None
    with pytest.raises(CrossAccountError, match="222222222222"):
        factory.client("drs", REGION, OTHER)


def test_regions_keep_their_state_apart(bare_sim: DrsSimulator) -> None:
    factory = SimulatedClientFactory(bare_sim)
    east = bare_sim.add_source_server(hostname="east")
    west = bare_sim.add_source_server(hostname="west", region="us-west-2")
    assert [
        s["sourceServerID"]
        for s in factory.client("drs", REGION).describe_source_servers()["items"]
    ] == [east]
    west_items = factory.client("drs", "us-west-2").describe_source_servers()["items"]
    assert [s["sourceServerID"] for s in west_items] == [west]
    assert {c.region for c in bare_sim.calls} == {"us-east-1", "us-west-2"}


def test_with_moto_drs_goes_to_the_simulator_and_the_rest_to_moto(sim: DrsSimulator) -> None:
    drs = boto3.client("drs", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert dynamodb.list_tables()["TableNames"] == ["t"]
    assert (
        boto3.client("sts", region_name=REGION).get_caller_identity()["Account"] == "123456789012"
    )
    assert drs.describe_source_servers()["items"] == []
    assert [c.operation for c in sim.calls] == ["DescribeSourceServers"]
    assert sim.ec2_available


def test_the_order_of_mock_aws_and_mock_drs_does_not_matter() -> None:
    with mock_drs(start=START) as sim, mock_aws():
        server = sim.add_source_server(hostname="web")
        drs = boto3.client("drs", region_name=REGION)
        run_drill(drs, [server])
        sim.advance_until_idle()
        instance = drs.describe_recovery_instances()["items"][0]
        ec2 = boto3.client("ec2", region_name=REGION)
        assert ec2.describe_instances(InstanceIds=[instance["ec2InstanceID"]])["Reservations"]


def test_without_moto_ec2_is_detached_and_says_so(
    bare_sim: DrsSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    assert not bare_sim.ec2_available
    with caplog.at_level(logging.WARNING, logger="drs_orchestration.testing"):
        server = bare_sim.add_source_server(hostname="web")
        bare_sim.add_source_server(hostname="db")
    warnings = [r for r in caplog.records if "mock_aws() is not active" in r.getMessage()]
    assert len(warnings) == 1
    drs = SimulatedClientFactory(bare_sim).client("drs", REGION)
    template = drs.get_launch_configuration(sourceServerID=server)["ec2LaunchTemplateID"]
    assert re.fullmatch(r"lt-[0-9a-f]{17}", template)
    run_drill(drs, [server])
    bare_sim.advance_until_idle()
    instance = drs.describe_recovery_instances()["items"][0]
    assert re.fullmatch(r"i-[0-9a-f]{17}", instance["ec2InstanceID"])
    assert instance["ec2InstanceState"] == "RUNNING"


def test_without_moto_launching_into_an_instance_fails_clearly(bare_sim: DrsSimulator) -> None:
    drs = SimulatedClientFactory(bare_sim).client("drs", REGION)
    server = bare_sim.add_source_server(hostname="web")
    drs.update_launch_configuration(
        sourceServerID=server,
        launchIntoInstanceProperties={"launchIntoEC2InstanceID": "i-0123456789abcdef0"},
    )
    job = run_drill(drs, [server])
    bare_sim.advance_until_idle()
    log = drs.describe_job_log_items(jobID=job["jobID"])["items"]
    failure = next(i for i in log if i["event"] == "LAUNCH_FAILED")
    assert "EC2 is not available" in failure["eventData"]["rawError"]


def test_an_inactive_simulator_answers_nothing() -> None:
    with mock_drs() as sim:
        assert active_simulator() is sim
    assert active_simulator() is None
    assert handle_before_send("before-send.drs.DescribeJobs", request=None) is None  # type: ignore[arg-type]


def test_nested_simulators_answer_innermost_first() -> None:
    with mock_drs() as outer:
        outer.add_source_server(hostname="outer")
        with mock_drs() as inner:
            drs = boto3.client("drs", region_name=REGION)
            assert drs.describe_source_servers()["items"] == []
            assert active_simulator() is inner
        assert len(drs.describe_source_servers()["items"]) == 1


def test_decorator_forms() -> None:
    @mock_drs
    def fresh() -> int:
        sim = active_simulator()
        assert sim is not None
        sim.add_source_server(hostname="x")
        return len(boto3.client("drs", region_name=REGION).describe_source_servers()["items"])

    assert fresh() == 1
    assert fresh() == 1

    simulator = mock_drs(seed=1)

    @simulator
    def shared() -> int:
        simulator.add_source_server(hostname="x")
        return len(boto3.client("drs", region_name=REGION).describe_source_servers()["items"])

    assert shared() == 1
    assert shared() == 2
    assert active_simulator() is None


def test_patch_client_hooks_up_a_client_made_elsewhere() -> None:
    with mock_drs() as sim:
        client = boto3.client("drs", region_name=REGION)
        patch_client(client)
        patch_client(client)
        client.describe_jobs()
        assert sim.calls.count("DescribeJobs") == 1


def test_a_default_session_from_before_the_simulator_serves_each_call_once() -> None:
    boto3.setup_default_session(region_name=REGION)
    try:
        with mock_drs() as sim:
            boto3.client("drs").describe_jobs()
            assert sim.calls.count("DescribeJobs") == 1
    finally:
        boto3.DEFAULT_SESSION = None
