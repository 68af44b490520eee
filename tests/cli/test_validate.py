from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drs_orchestration import __version__
from drs_orchestration.cli import main
from tests.ids import server_id

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"drs-orchestration {__version__}"


def test_valid_example_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "plan.json")]) == 0
    out = capsys.readouterr().out
    assert "valid plan 'shop-three-tier'" in out
    assert "database -> application -> web" in out


def test_every_problem_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = {
        "name": "p",
        "waves": [
            {"name": "db", "serverIds": ["s-111"]},
            {"name": "app", "serverIds": [server_id(1)], "timeoutS": -5, "bogus": 1},
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "waves.0.serverIds.0: String should match pattern" in err
    assert '"s-111"' in err
    assert "waves.1.timeoutS: Input should be greater than 0 (got -5)" in err
    assert "waves.1.bogus: Extra inputs are not permitted" in err


def test_cycle_reported_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = {
        "name": "p",
        "waves": [
            {"name": "a", "serverIds": [server_id(1)], "dependsOn": ["b"]},
            {"name": "b", "serverIds": [server_id(2)], "dependsOn": ["a"]},
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    assert main(["validate", "--json", str(path)]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is False
    assert result["problems"][0]["message"] == "dependency cycle: a -> b -> a"


def test_yaml_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        f"name: p\nwaves:\n  - name: only\n    serverIds: ['{server_id(1)}']\n", encoding="utf-8"
    )
    assert main(["validate", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["order"] == ["only"]


def test_broken_json_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.json"
    path.write_text('{\n  "name": "p",\n  "waves": [\n}')
    assert main(["validate", str(path)]) == 1
    assert f"{path}:4:1: invalid JSON" in capsys.readouterr().err


def test_console_script_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "drs_orchestration.cli", "validate", str(EXAMPLES / "plan.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "valid plan" in result.stdout


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "validate" in capsys.readouterr().err
