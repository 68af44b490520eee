"""Every capability's policy grants exactly what it calls: recorded on the simulator and moto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from moto import mock_aws

from drs_orchestration import (
    AccountContext,
    AssumeRoleClientFactory,
    DrsQuotas,
    DynamoDBStorage,
    Orchestrator,
    RetryPolicy,
    ValidationError,
)
from drs_orchestration.iam import CAPABILITIES, DEPENDENT_ACTIONS, grants_for, policy_for
from drs_orchestration.models import FailbackPhase
from drs_orchestration.services.failback import AgentInstallRequest
from drs_orchestration.storage import Check, Put
from drs_orchestration.storage.claims import ClaimRecord
from drs_orchestration.testing import DrsSimulator, mock_drs

from .recording import ActionLog, RecordingClientFactory

REGION = "us-east-1"
ORIGIN = "us-west-2"
LINUX_AMI = "ami-04681a1dbd79675a5"  # in moto's catalogue: HVM, x86_64, EBS
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}  # IAM allows it to everyone


def exercise_everything() -> tuple[dict[str, set[str]], set[str]]:
    """Run each capability as a user would; return the actions recorded per capability
    and the DRS operations the simulator answered (to cross-check the recording)."""
    log = ActionLog()
    with mock_aws(), mock_drs() as sim:
        dynamodb = log.watch(boto3.client("dynamodb", region_name=REGION))
        storage = DynamoDBStorage(table_prefix="iam-", client=dynamodb)
        with log.exercising("deployment"):
            storage.create_tables()  # done by the stack, not the function's role

        def install(request: AgentInstallRequest) -> None:
            if request.kind == "failback-client":  # the on-premises machine boots the client
                sim.connect_failback_client(request.recovery_instance_id)

        orch = Orchestrator(
            storage, RecordingClientFactory(log, sim=sim), clock=sim.now, sleep=sim.advance,
            retry=RetryPolicy(sleep=lambda _: None), install_agent=install,
        )  # fmt: skip
        servers = [
            sim.add_source_server(region=REGION, hostname=f"db-{i}", tags={"Tier": "db"})
            for i in range(2)
        ]
        with log.exercising("launch_configs"):
            group = orch.groups.create(
                "db", REGION, tags={"Tier": "db"},
                launch_settings={"instanceType": "m5.large", "copyTags": False,
                                 "targetInstanceTypeRightSizingMethod": "NONE"},
            )  # fmt: skip
            orch.launch_configs.detect_drift(group.group_id, remote=True)
            orch.launch_configs.apply_to_group(group.group_id, force=True)
            orch.groups.update(group.group_id, description="primary")
        plan = orch.plans.create("p", [{"name": "w", "protectionGroupIds": [group.group_id]}])
        with log.exercising("waves"):
            orch.waves.preflight(plan.plan_id)
            execution = orch.waves.start(plan.plan_id, drill=True)
            execution = orch.waves.run(execution.execution_id, poll_interval=30)
            assert execution.status.value == "COMPLETED"
        # An instance someone launched outside the library: the sync asks DRS for its job.
        other = sim.add_source_server(region=REGION, hostname="batch-1")
        boto3.client("drs", region_name=REGION).start_recovery(
            sourceServers=[{"sourceServerID": other}], isDrill=True
        )
        sim.advance(3600)
        with log.exercising("cache"):
            orch.cache.sync_all()
            orch.cache.get(servers)
            orch.cache.for_execution(execution.execution_id)
        with log.exercising("terminate"):
            report = orch.cache.terminate_execution(execution.execution_id)
            assert report.terminate_job_ids
        with log.exercising("matching"):
            ec2 = boto3.client("ec2", region_name=REGION)
            web = sim.add_source_server(region=REGION, hostname="web-1")
            target = ec2.run_instances(
                ImageId=LINUX_AMI, InstanceType="m5.large", MinCount=1, MaxCount=1,
                TagSpecifications=[{"ResourceType": "instance",
                                    "Tags": [{"Key": "Name", "Value": "web-1"}]}],
            )["Instances"][0]["InstanceId"]  # fmt: skip
            ec2.stop_instances(InstanceIds=[target])
            web_group = orch.groups.create("web", REGION, server_ids=[web])
            match = orch.matcher.match(group_id=web_group.group_id)
            assert match.pair(web) is not None
            orch.matcher.apply(match, add_tag=True)
            orch.matcher.unpair([web], web_group.group_id)
        with log.exercising("quotas"):
            DrsQuotas.from_service_quotas(orch.clients, REGION)
        eid, in_aws, on_premises = fail_over(sim, orch)
        with log.exercising("failback"):
            exercise_failback(orch, eid, in_aws, on_premises)
        with log.exercising("storage"):
            claim = ClaimRecord(claim_id="plan:iam", owner_id="x", kind="test")
            storage.transact(
                [Check(ClaimRecord, "plan:none", None), Put(claim, expected_version=0)]
            )
        drs_operations = set(sim.calls.operations())
    return log.actions, {f"drs:{op}" for op in drs_operations}


def fail_over(sim: DrsSimulator, orch: Orchestrator) -> tuple[str, list[str], str]:
    """A real recovery of two servers from EC2 in ``ORIGIN`` and one from a data centre."""
    origin = boto3.client("ec2", region_name=ORIGIN)
    in_aws = []
    for index in range(2):
        instance = origin.run_instances(
            ImageId=LINUX_AMI, InstanceType="m5.large", MinCount=1, MaxCount=1
        )["Instances"][0]
        in_aws.append(
            sim.add_source_server(
                region=REGION,
                hostname=f"app-{index}",
                source_instance_id=instance["InstanceId"],
                origin_region=ORIGIN,
                private_ip=instance["PrivateIpAddress"],
            )
        )
    on_premises = sim.add_source_server(region=REGION, hostname="dc1-db-0")
    group = orch.groups.create("app", REGION, server_ids=[*in_aws, on_premises])
    plan = orch.plans.create("dr", [{"name": "app", "protectionGroupIds": [group.group_id]}])
    sim.outage(server_ids=[*in_aws, on_premises])
    execution = orch.waves.start(plan.plan_id, drill=False)
    execution = orch.waves.run(execution.execution_id, poll_interval=30)
    assert execution.status.value == "COMPLETED"
    return execution.execution_id, in_aws, on_premises


def exercise_failback(orch: Orchestrator, eid: str, in_aws: list[str], on_premises: str) -> None:
    """Every failback request: a server home and after-cared, one stopped, one on premises."""
    failback = orch.failback
    failback.start_failback(eid)
    for _ in range(20):
        state = failback.step(eid).failback.server(in_aws[1])
        if state.phase is FailbackPhase.REVERSE_REPLICATING:
            break
    assert state.phase is FailbackPhase.REVERSE_REPLICATING  # so stopping it calls DRS
    failback.stop_failback(eid, servers=[in_aws[1]], reason="kept in the recovery region")
    failback.run(eid, poll_interval=300)
    failback.failback_replication_configuration(eid, in_aws[0])
    failback.configure_failback_replication(eid, servers=[in_aws[0]], bandwidth_throttling=100)
    failback.launch_failback(eid)  # in AWS a recovery in the origin, on premises the client's
    failback.run(eid, poll_interval=300)
    failback.reprotect(eid, servers=[in_aws[0]])
    failback.cleanup(eid, servers=[in_aws[0]])
    done = failback.run(eid, poll_interval=300)
    assert [done.server(s).phase for s in (*in_aws, on_premises)] == [
        FailbackPhase.COMPLETED, FailbackPhase.FAILED, FailbackPhase.COMPLETED,
    ]  # fmt: skip
    home = done.server(in_aws[0])
    assert [step is not None and step.done for step in (
        home.reprotect, home.stop_replication, home.terminate
    )] == [True, True, True]  # fmt: skip


@pytest.fixture(scope="module")
def recorded() -> dict[str, set[str]]:
    actions, drs_answered = exercise_everything()
    drs_recorded = {a for found in actions.values() for a in found if a.startswith("drs:")}
    assert drs_recorded == drs_answered  # the recording saw every call the simulator answered
    return actions


def granted(capability: str, *, dependent: bool | None = None) -> set[str]:
    return {
        action
        for grant in CAPABILITIES[capability]
        if dependent is None or grant.dependent == dependent
        for action in grant.actions
    }


VERIFIED = ["launch_configs", "waves", "cache", "terminate", "matching", "failback", "quotas"]


@pytest.mark.parametrize("capability", VERIFIED)
def test_a_capability_grants_what_it_calls_and_nothing_else(
    recorded: dict[str, set[str]], capability: str
) -> None:
    called = {
        a for a in recorded[capability]
        if not a.startswith("dynamodb:") and a not in NO_PERMISSION_NEEDED
    }  # fmt: skip
    required_alongside = {d for action in called for d in DEPENDENT_ACTIONS.get(action, ())}
    assert called - granted(capability) == set(), "called but not granted"
    assert granted(capability, dependent=False) - called == set(), "granted but never called"
    dependents = granted(capability, dependent=True)
    assert dependents - required_alongside == set(), "granted as dependent of nothing called"
    assert required_alongside - called - dependents == set(), "a dependent action is missing"


def test_storage_grants_every_dynamodb_action_the_library_calls_and_no_other(
    recorded: dict[str, set[str]],
) -> None:
    runtime = {
        action
        for capability, actions in recorded.items()
        if capability != "deployment"
        for action in actions
        if action.startswith("dynamodb:")
    }
    assert runtime == granted("storage")
    assert "dynamodb:CreateTable" in recorded["deployment"]
    assert "dynamodb:CreateTable" not in granted("storage")


def test_cross_account_assumes_roles_with_the_external_id() -> None:
    log = ActionLog()
    with mock_aws(), mock_drs():
        core = botocore.session.get_session()
        core.register("before-parameter-build", log.record)
        sent: list[dict[str, Any]] = []
        core.register(
            "before-parameter-build.sts.AssumeRole", lambda params, **_: sent.append(params)
        )
        factory = AssumeRoleClientFactory(boto3.Session(botocore_session=core))
        account = AccountContext(
            account_id="222222222222", role_name="DRSOrchestrationRole", external_id="ext-1234"
        )
        with log.exercising("cross_account"):
            factory.client("drs", REGION, account).describe_source_servers()
    # The role's own session makes the DRS call; the source session only assumes the role.
    assert log.actions["cross_account"] - NO_PERMISSION_NEEDED == {"sts:AssumeRole"}
    assert [p["ExternalId"] for p in sent] == ["ext-1234"]
    policy = policy_for(
        ["cross_account"],
        assume_roles=["arn:aws:iam::222222222222:role/DRSOrchestrationRole"],
        external_id="ext-1234",
    )
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["sts:AssumeRole"]
    assert statement["Resource"] == ["arn:aws:iam::222222222222:role/DRSOrchestrationRole"]
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-1234"}}


def test_every_verified_capability_is_exercised_and_every_capability_is_known(
    recorded: dict[str, set[str]],
) -> None:
    assert set(VERIFIED) | {"storage", "cross_account"} == set(CAPABILITIES)
    assert all(recorded.get(capability) for capability in VERIFIED)


def test_the_drs_actions_granted_for_calls_are_real_drs_operations() -> None:
    # Dependent actions may be permission-only (``CreateRecoveryInstanceForDrs``); the others
    # are API operations, so a typo cannot hide in a grant of a capability a test skips.
    operations = set(boto3.client("drs", region_name=REGION).meta.service_model.operation_names)
    for capability, grants in CAPABILITIES.items():
        for grant in grants:
            for action in grant.actions:
                service, name = action.split(":")
                if service == "drs" and not grant.dependent:
                    assert name in operations, (capability, action)


def test_policies_scope_resources_to_region_account_and_prefix() -> None:
    policy = policy_for(
        ["waves", "storage"], region="eu-west-1", account="123456789012", table_prefix="dr-"
    )
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    start = by_sid["WavesDrsStartManagedJobs"]
    assert start["Resource"] == ["arn:aws:drs:eu-west-1:123456789012:source-server/*"]
    assert start["Condition"] == {"StringEquals": {"aws:RequestTag/ManagedBy": "drs-orchestration"}}
    assert by_sid["StorageDynamoDbTables"]["Resource"] == [
        "arn:aws:dynamodb:eu-west-1:123456789012:table/dr-*",
        "arn:aws:dynamodb:eu-west-1:123456789012:table/dr-*/index/*",
    ]
    json.dumps(policy)
    assert all(len(s["Sid"]) <= 128 for s in policy["Statement"])


def test_bad_capabilities_and_missing_cross_account_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="capabilities"):
        policy_for(["everything"])
    with pytest.raises(ValidationError, match="assume_roles"):
        policy_for(["cross_account"])
    with pytest.raises(ValidationError, match="external_id"):
        policy_for(["cross_account"], assume_roles=["arn:aws:iam::222222222222:role/R"])
    assert grants_for("cache") == list(CAPABILITIES["cache"])


def test_the_policies_the_docs_show_are_current() -> None:
    script = Path(__file__).resolve().parents[2] / "examples" / "iam" / "write_policies.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
