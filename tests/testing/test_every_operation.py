"""Every implemented operation answers with a response the DRS model describes.

One world is built per module (servers launched, failback ready, instances
disconnected...) and each operation is called on a part of it no other case
changes; the parsed response is checked against the output shape again,
independently of the simulator's own strict check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from sim_helpers import START, run_drill, simulated_state

from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from drs_orchestration.testing.service import operation_model
from drs_orchestration.testing.shapes import check_output

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient


@dataclass
class World:
    sim: DrsSimulator
    drs: DrsClient
    servers: dict[str, str] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)
    job_id: str = ""
    drill_job_id: str = ""
    template_id: str = ""


def _instance_of(drs: DrsClient, server_id: str) -> str:
    items = drs.describe_recovery_instances(filters={"sourceServerIDs": [server_id]})["items"]
    return items[0]["recoveryInstanceID"]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        with mock_aws(), mock_drs(start=START) as sim:
            drs = SimulatedClientFactory(sim).client("drs", "us-east-1")
            w = World(sim, drs)
            for name in ("failback", "stop", "reverse", "drill", "disconnect", "delete"):
                w.servers[name] = sim.add_source_server(
                    hostname=name,
                    source_instance_id="i-0123456789abcdef0",
                    origin_region="us-west-2",
                    tags={"role": name},
                )
            w.servers["idle"] = sim.add_source_server(
                hostname="idle", staging_account_id="210987654321", hardware_id="hw-1"
            )
            w.servers["config"] = sim.add_source_server(hostname="config")
            w.servers["stopme"] = sim.add_source_server(hostname="stopme")
            w.servers["loner"] = sim.add_source_server(hostname="loner")
            recovery = ["failback", "stop", "reverse", "disconnect", "delete"]
            w.job_id = run_drill(drs, [w.servers[n] for n in recovery], is_drill=False)["jobID"]
            w.drill_job_id = run_drill(drs, [w.servers["drill"]])["jobID"]
            sim.advance_until_idle()
            for name in [*recovery, "drill"]:
                w.instances[name] = _instance_of(drs, w.servers[name])
            for name in ("failback", "stop"):
                drs.reverse_replication(recoveryInstanceID=w.instances[name])
            drs.disconnect_recovery_instance(recoveryInstanceID=w.instances["delete"])
            sim.advance(3600)
            templates = drs.describe_launch_configuration_templates()["items"]
            w.template_id = templates[0]["launchConfigurationTemplateID"]
            yield w


CASES: dict[str, Callable[[World], dict[str, Any]]] = {
    "DescribeSourceServers": lambda w: {"filters": {"hardwareId": "hw-1"}},
    "GetLaunchConfiguration": lambda w: {"sourceServerID": w.servers["idle"]},
    "UpdateLaunchConfiguration": lambda w: {
        "sourceServerID": w.servers["config"],
        "copyPrivateIp": True,
        "licensing": {"osByol": True},
    },
    "StartRecovery": lambda w: {
        "sourceServers": [{"sourceServerID": w.servers["idle"]}],
        "isDrill": True,
        "tags": {"k": "v"},
    },
    "DescribeJobs": lambda w: {"maxResults": 2},
    "DescribeJobLogItems": lambda w: {"jobID": w.job_id},
    "DeleteJob": lambda w: {"jobID": w.job_id},
    "DescribeRecoveryInstances": lambda w: {},
    "TerminateRecoveryInstances": lambda w: {"recoveryInstanceIDs": [w.instances["drill"]]},
    "DescribeRecoverySnapshots": lambda w: {
        "sourceServerID": w.servers["failback"],
        "order": "DESC",
        "maxResults": 5,
    },
    "ReverseReplication": lambda w: {"recoveryInstanceID": w.instances["reverse"]},
    "StartFailbackLaunch": lambda w: {
        "recoveryInstanceIDs": [w.instances["failback"]],
        "tags": {"k": "v"},
    },
    "StopFailback": lambda w: {"recoveryInstanceID": w.instances["stop"]},
    "GetFailbackReplicationConfiguration": lambda w: {
        "recoveryInstanceID": w.instances["failback"]
    },
    "UpdateFailbackReplicationConfiguration": lambda w: {
        "recoveryInstanceID": w.instances["disconnect"],
        "bandwidthThrottling": 100,
    },
    "ListStagingAccounts": lambda w: {},
    "DisconnectRecoveryInstance": lambda w: {"recoveryInstanceID": w.instances["disconnect"]},
    "DeleteRecoveryInstance": lambda w: {"recoveryInstanceID": w.instances["delete"]},
    "TagResource": lambda w: {"resourceArn": _arn(w, "job"), "tags": {"a": "1"}},
    "UntagResource": lambda w: {"resourceArn": _arn(w, "server"), "tagKeys": ["role"]},
    "ListTagsForResource": lambda w: {"resourceArn": _arn(w, "instance")},
    "InitializeService": lambda w: {},
    "StopReplication": lambda w: {"sourceServerID": w.servers["stopme"]},
    "DisconnectSourceServer": lambda w: {"sourceServerID": w.servers["loner"]},
    "DescribeLaunchConfigurationTemplates": lambda w: {"maxResults": 5},
    "UpdateLaunchConfigurationTemplate": lambda w: {
        "launchConfigurationTemplateID": w.template_id,
        "launchIntoSourceInstance": True,
        "copyTags": False,
    },
}


def _arn(w: World, kind: str) -> str:
    prefix = "arn:aws:drs:us-east-1:123456789012"
    if kind == "job":
        return f"{prefix}:job/{w.drill_job_id}"
    if kind == "server":
        return f"{prefix}:source-server/{w.servers['reverse']}"
    return f"{prefix}:recovery-instance/{w.instances['failback']}"


def _method(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def test_the_cases_cover_every_implemented_operation(world: World) -> None:
    assert set(CASES) == world.sim.implemented_operations


@pytest.mark.parametrize("operation", sorted(CASES))
def test_response_validates_against_the_model(world: World, operation: str) -> None:
    params = CASES[operation](world)
    response = dict(getattr(world.drs, _method(operation))(**params))
    metadata = response.pop("ResponseMetadata")
    expected_status = operation_model(operation).http.get("responseCode", 200)
    assert metadata["HTTPStatusCode"] == expected_status
    assert check_output(operation_model(operation), response) == []
    record = world.sim.calls.of(operation)[-1]
    assert record.succeeded
    assert record.params == params


@pytest.mark.parametrize("fault", ["throttle", "server_error"])
@pytest.mark.parametrize("operation", sorted(CASES))
def test_an_injected_fault_answers_before_the_operation_runs(
    world: World, operation: str, fault: str
) -> None:
    params = CASES[operation](world)
    before = simulated_state(world.sim)
    if fault == "throttle":
        world.sim.faults.throttle_next(1, operation)
    else:
        world.sim.faults.server_error(operations=operation, times=1)
    with pytest.raises(ClientError) as caught:
        getattr(world.drs, _method(operation))(**params)
    expected = "ThrottlingException" if fault == "throttle" else "InternalServerException"
    assert caught.value.response["Error"]["Code"] == expected
    assert simulated_state(world.sim) == before
    assert world.sim.calls.of(operation)[-1].injected
