"""The example CloudFormation template: generated from the library, and clean under cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cfnlint.api import ManualArgs, lint

from drs_orchestration.adapters.stepfunctions import state_machine_definition
from drs_orchestration.iam import policy_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "stepfunctions"


def test_the_committed_template_is_what_the_builder_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "build_template.py"), "--check"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_cfn_lint_finds_nothing_in_the_template() -> None:
    text = (EXAMPLE / "template.json").read_text()
    assert [(m.rule.id, m.message) for m in lint(text, config=ManualArgs())] == []


def test_the_template_embeds_the_definition_and_the_least_privilege_policy() -> None:
    template = json.loads((EXAMPLE / "template.json").read_text())
    machine = template["Resources"]["StateMachine"]["Properties"]
    assert machine["Definition"] == state_machine_definition("${FunctionArn}")
    statements = template["Resources"]["FunctionRole"]["Properties"]["Policies"][0][
        "PolicyDocument"
    ]["Statement"]
    expected = policy_for(
        ["launch_configs", "waves", "cache", "terminate", "matching", "storage"],
        region="${AWS::Region}", account="${AWS::AccountId}", table_prefix="drs-orch-",
    )["Statement"]  # fmt: skip
    assert [s["Sid"] for s in statements] == [s["Sid"] for s in expected]
    assert {a for s in statements for a in s["Action"]} == {
        a for s in expected for a in s["Action"]
    }
    tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert all(t["Properties"]["TableName"].startswith("drs-orch-") for t in tables)
