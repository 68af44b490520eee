"""terminate_execution never terminates an instance that existed before the execution."""

from __future__ import annotations

from botocore.awsrequest import AWSResponse

from drs_orchestration.models import InstancePair, MatchMethod, TerminationStatus
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.cache.conftest import CacheFactory, every_backend
from tests.cache.helpers import add_servers, drill
from tests.http_faults import HttpFaults, _RawBody

REGION = "us-east-1"
ALLOW = {"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"}


def _standby(clients: SimulatedClientFactory, name: str) -> str:
    ec2 = clients.client("ec2", REGION)
    instance = ec2.run_instances(
        ImageId="ami-04681a1dbd79675a5",
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}, ALLOW]}
        ],
    )["Instances"][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance])
    return str(instance)


def _launch_into(clients: SimulatedClientFactory, server: str, instance: str) -> None:
    clients.client("drs", REGION).update_launch_configuration(
        sourceServerID=server, launchIntoInstanceProperties={"launchIntoEC2InstanceID": instance}
    )


def _state(clients: SimulatedClientFactory, instance: str) -> str:
    reservations = clients.client("ec2", REGION).describe_instances(InstanceIds=[instance])
    return str(reservations["Reservations"][0]["Instances"][0]["State"]["Name"])


@every_backend
def test_an_instance_launched_into_survives_unless_included(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    paired, fresh = add_servers(sim, REGION, 2)
    standby = _standby(clients, "standby")
    _launch_into(clients, paired, standby)
    execution = drill(sim, clients, storage, REGION, [paired, fresh])
    instances = {
        sid: outcome.recovery_instance_id for sid, outcome in execution.waves[0].servers.items()
    }
    assert instances[paired] == standby
    cache = make_cache(targets=[(REGION, None)])

    preview = cache.terminate_execution(execution.execution_id, dry_run=True)
    report = cache.terminate_execution(execution.execution_id)

    preview_statuses = {i.recovery_instance_id: i.status for i in preview.instances}
    assert preview_statuses == {
        standby: TerminationStatus.SKIPPED,
        instances[fresh]: TerminationStatus.WOULD_TERMINATE,
    }
    outcomes = {i.recovery_instance_id: i for i in report.instances}
    assert outcomes[standby].status is TerminationStatus.SKIPPED
    assert "existing instance DRS launched into" in (outcomes[standby].reason or "")
    assert "include_launched_into=True" in (outcomes[standby].reason or "")
    assert outcomes[instances[fresh]].status is TerminationStatus.TERMINATED
    assert _state(clients, standby) != "terminated"
    assert _state(clients, str(instances[fresh])) == "terminated"

    again = cache.terminate_execution(execution.execution_id, include_launched_into=True)

    assert again.terminated == [standby]
    assert _state(clients, standby) == "terminated"


def test_a_stored_pair_marks_the_instance_even_without_the_tag(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    (server,) = add_servers(sim, REGION, 1)
    standby = _standby(clients, "standby")
    _launch_into(clients, server, standby)
    storage.instance_pairs.put(
        InstancePair(
            source_server_id=server,
            target_instance_id=standby,
            region=REGION,
            match_method=MatchMethod.EXPLICIT,
        )
    )
    execution = drill(sim, clients, storage, REGION, [server])
    clients.client("ec2", REGION).delete_tags(Resources=[standby], Tags=[{"Key": "AWSDRS"}])

    report = make_cache(targets=[(REGION, None)]).terminate_execution(execution.execution_id)

    (outcome,) = report.instances
    assert outcome.status is TerminationStatus.SKIPPED
    assert f"paired with source server {server}" in (outcome.reason or "")
    assert _state(clients, standby) != "terminated"


def test_an_instance_whose_tags_cannot_be_read_is_not_terminated(
    sim: DrsSimulator,
    clients: SimulatedClientFactory,
    storage: BaseStorage,
    make_cache: CacheFactory,
) -> None:
    (server,) = add_servers(sim, REGION, 1)
    execution = drill(sim, clients, storage, REGION, [server])
    instance = execution.waves[0].servers[server].recovery_instance_id
    assert instance is not None
    body = (
        b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message>"
        b"</Error></Errors><RequestID>injected</RequestID></Response>"
    )
    HttpFaults(clients.client("ec2", REGION).meta.events, "ec2", "DescribeInstances").then(
        AWSResponse("https://injected", 403, {}, _RawBody(body))
    )

    report = make_cache(targets=[(REGION, None)]).terminate_execution(execution.execution_id)

    (outcome,) = report.instances
    assert outcome.status is TerminationStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.code == "AwsAccessDenied"
    assert _state(clients, instance) == "running"
    assert report.terminate_job_ids == []
