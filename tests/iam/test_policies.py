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
from drs_orchestration.storage import Check, Put
from drs_orchestration.storage.claims import ClaimRecord
from drs_orchestration.testing import mock_drs

from .recording import ActionLog, RecordingClientFactory

REGION = "us-east-1"
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
        orch = Orchestrator(
            storage, RecordingClientFactory(log, sim=sim), clock=sim.now, sleep=sim.advance,
            retry=RetryPolicy(sleep=lambda _: None),
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
        with log.exercising("storage"):
            claim = ClaimRecord(claim_id="plan:iam", owner_id="x", kind="test")
            storage.transact(
                [Check(ClaimRecord, "plan:none", None), Put(claim, expected_version=0)]
            )
        drs_operations = set(sim.calls.operations())
    return log.actions, {f"drs:{op}" for op in drs_operations}


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


VERIFIED = ["launch_configs", "waves", "cache", "terminate", "matching", "quotas"]


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


def test_failback_grants_name_real_drs_operations() -> None:
    # The failback service does not exist yet; until it does, its grants are checked
    # against the DRS API itself so a typo cannot hide there.
    operations = set(boto3.client("drs", region_name=REGION).meta.service_model.operation_names)
    for grant in CAPABILITIES["failback"]:
        for action in grant.actions:
            service, name = action.split(":")
            assert service in ("drs", "ec2")
            assert service != "drs" or name in operations, action


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
