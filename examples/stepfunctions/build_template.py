"""Write ``template.json``: the Lambda adapter, its tables, its state machine and its rules.

The template is generated from the library (the state machine definition,
both roles' least-privilege policies, the DynamoDB tables) so it cannot drift
from the code: ``python examples/stepfunctions/build_template.py`` rewrites it,
``--check`` fails if the committed file differs. CI lints it with cfn-lint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from drs_orchestration.adapters.stepfunctions import (
    state_machine_definition,
    state_machine_role_statements,
)
from drs_orchestration.iam import policy_for
from drs_orchestration.storage import cloudformation_template

TEMPLATE = Path(__file__).with_name("template.json")
TABLE_PREFIX = "drs-orch-"
CAPABILITIES = ["launch_configs", "waves", "cache", "terminate", "matching", "storage"]


def substituted(value: Any) -> Any:
    """Wrap every string holding ``${...}`` in ``Fn::Sub``."""
    if isinstance(value, str) and "${" in value:
        return {"Fn::Sub": value}
    if isinstance(value, list):
        return [substituted(v) for v in value]
    if isinstance(value, dict):
        return {k: substituted(v) for k, v in value.items()}
    return value


def role(service: str, name: str, statements: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                               "Principal": {"Service": service}}],
            },
            "Policies": [{"PolicyName": name, "PolicyDocument": {
                "Version": "2012-10-17", "Statement": substituted(statements)}}],
            **extra,
        },
    }  # fmt: skip


def invoke_permission(rule: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "Function"},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule, "Arn"]},
        },
    }


def build() -> dict[str, Any]:
    policy = policy_for(
        CAPABILITIES, region="${AWS::Region}", account="${AWS::AccountId}",
        table_prefix=TABLE_PREFIX,
    )  # fmt: skip
    resources: dict[str, Any] = dict(cloudformation_template(TABLE_PREFIX)["Resources"])
    resources["FunctionRole"] = role(
        "lambda.amazonaws.com", "drs-orchestration", policy["Statement"],
        ManagedPolicyArns=[
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    )  # fmt: skip
    resources["Function"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.12",
            "Handler": "handler.handler",
            "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
            "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
            "Timeout": 300,
            "MemorySize": 1024,
            "Environment": {"Variables": {
                "TABLE_PREFIX": TABLE_PREFIX,
                "POWERTOOLS_SERVICE_NAME": "drs-orchestration",
                "POWERTOOLS_METRICS_NAMESPACE": "DrsOrchestration"}},
        },
    }  # fmt: skip
    resources["StateMachineRole"] = role(
        "states.amazonaws.com", "drive-executions",
        state_machine_role_statements(
            "${Function.Arn}",
            event_bus_arn="arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}"
                          ":event-bus/default"),
    )  # fmt: skip
    resources["StateMachine"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "RoleArn": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
            "Definition": state_machine_definition("${FunctionArn}", poll_interval_s=30),
            "DefinitionSubstitutions": {"FunctionArn": {"Fn::GetAtt": ["Function", "Arn"]}},
        },
    }
    resources["CacheSyncSchedule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "ScheduleExpression": "rate(5 minutes)",
            "Targets": [{"Id": "sync", "Arn": {"Fn::GetAtt": ["Function", "Arn"]}}],
        },
    }
    resources["CacheSyncPermission"] = invoke_permission("CacheSyncSchedule")
    resources["DrsEvents"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "EventPattern": {"source": ["aws.drs"],
                             "detail-type": ["DRS Source Server Launch Result"]},
            "Targets": [{"Id": "drs", "Arn": {"Fn::GetAtt": ["Function", "Arn"]}}],
        },
    }  # fmt: skip
    resources["DrsEventsPermission"] = invoke_permission("DrsEvents")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "drs-orchestration: the Lambda adapter, its tables and the Step Functions "
        "driver (generated by examples/stepfunctions/build_template.py)",
        "Parameters": {
            "CodeBucket": {"Type": "String", "Description": "S3 bucket of the function's zip"},
            "CodeKey": {"Type": "String", "Description": "S3 key of the function's zip"},
        },
        "Resources": resources,
        "Outputs": {
            "FunctionArn": {"Value": {"Fn::GetAtt": ["Function", "Arn"]}},
            "StateMachineArn": {"Value": {"Ref": "StateMachine"}},
        },
    }


def main(argv: list[str]) -> int:
    text = json.dumps(build(), indent=2) + "\n"
    if "--check" in argv:
        if TEMPLATE.read_text() != text:
            print(f"{TEMPLATE} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    TEMPLATE.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
