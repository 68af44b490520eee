"""Bad input anywhere: one line on stderr naming what is wrong, a non-zero status, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drs_orchestration.testing import DrsSimulator
from tests.cli.conftest import aws, invoke, shop, write

EXECUTION_ID = "ex-" + "0" * 20

# (arguments, exit status, text the one line must contain)
WITHOUT_STORAGE: list[tuple[tuple[str, ...], int, str]] = [
    (("bogus",), 2, "No such command 'bogus'"),
    (("groups", "bogus"), 2, "No such command 'bogus'"),
    (("status", "--bogus"), 2, "No such option '--bogus'"),
    (("groups", "show"), 2, "Missing argument 'GROUP'"),
    (("groups", "create"), 2, "Missing option '-f'"),
    (("groups", "create", "-f", "/nonexistent/g.yaml"), 2, "/nonexistent/g.yaml: cannot read"),
    (("plans", "create", "-f", "/nonexistent/p.yaml"), 2, "/nonexistent/p.yaml: cannot read"),
    (("groups", "list", "--output", "xml"), 2, "'xml' is not one of 'table', 'json'"),
    (("drill", "shop", "--poll-interval", "0"), 2, "--poll-interval"),
    (("demo", "--speed", "fast"), 2, "'fast' is not a valid float"),
    (("status", "--storage", "s3://bucket"), 2, "--storage 's3://bucket' is not one of"),
    (("status", "--storage", "memory", "--db", "x.db"), 2, "give --storage or --db, not both"),
    (("groups", "apply", "pg-x", "--timeout", "-1"), 2, "--timeout"),
    (("executions", "list", "--limit", "0"), 2, "--limit"),
    (("report", EXECUTION_ID, "--format", "pdf"), 2, "'pdf' is not one of"),
    (("terminate",), 2, "Missing argument 'EXECUTION'"),
]


@pytest.mark.parametrize(("args", "status", "expected"), WITHOUT_STORAGE)
def test_usage_errors(args: tuple[str, ...], status: int, expected: str) -> None:
    result = invoke(*args)

    assert result.status == status
    line = result.one_line_error()
    assert expected in line
    assert line.startswith("drs-orchestration")


def test_a_command_group_alone_shows_its_help_as_a_usage_error() -> None:
    result = invoke("groups")

    assert result.status == 2
    assert "Commands:" in result.err
    assert "create" in result.err
    assert "Traceback" not in result.err


# Against a stored plan and drill, names and IDs that are not there.
WITH_SHOP: list[tuple[tuple[str, ...], int, str]] = [
    (("plans", "show", "nosuch"), 1, "no recovery plan 'nosuch' in"),
    (("plans", "show", "rp-" + "0" * 20), 1, "recovery plans stored: 'shop'"),
    (("groups", "status", "nosuch"), 1, "no protection group 'nosuch'"),
    (("status", EXECUTION_ID), 1, f"no execution '{EXECUTION_ID}'"),
    (("report", EXECUTION_ID), 1, f"no execution '{EXECUTION_ID}'"),
    (("cancel", EXECUTION_ID), 1, f"no execution '{EXECUTION_ID}'"),
    (("executions", "list", "--plan", "nosuch"), 1, "no recovery plan 'nosuch'"),
    (("plans", "pause-before", "shop", "nosuch"), 2, "has no wave 'nosuch'"),
    (("pause", EXECUTION_ID), 1, f"no execution '{EXECUTION_ID}'"),
    (("cache", "show", "s-1"), 2, "is not a DRS source server ID"),
]
WITH_SHOP_AWS: list[tuple[tuple[str, ...], int, str]] = [
    (("drill", "nosuch"), 1, "no recovery plan 'nosuch'"),
    (("preflight", "nosuch"), 1, "no recovery plan 'nosuch'"),
    (("resume", EXECUTION_ID), 1, f"no execution '{EXECUTION_ID}'"),
    (("step", EXECUTION_ID), 1, f"no execution '{EXECUTION_ID}'"),
    (("terminate", EXECUTION_ID), 1, f"no execution '{EXECUTION_ID}'"),
    (("terminate", "not-an-id"), 1, "no execution 'not-an-id'"),
    (("match", "--group", "nosuch"), 1, "no protection group 'nosuch'"),
    (("groups", "drift", "nosuch", "--remote"), 1, "no protection group 'nosuch'"),
    (("cache", "sync", "--target", "mars-1"), 2, "mars-1"),
]


@pytest.fixture
def stored_shop(sim: DrsSimulator, tmp_path: Path) -> None:
    shop(sim, tmp_path)


@pytest.mark.parametrize(("args", "status", "expected"), WITH_SHOP)
def test_names_and_ids_that_are_not_stored(
    stored_shop: None, args: tuple[str, ...], status: int, expected: str
) -> None:
    result = invoke(*args)

    assert result.status == status
    assert expected in result.one_line_error()


@pytest.mark.parametrize(("args", "status", "expected"), WITH_SHOP_AWS)
def test_names_and_ids_that_are_not_stored_on_aws_commands(
    stored_shop: None, args: tuple[str, ...], status: int, expected: str
) -> None:
    result = aws(*args)

    assert result.status == status
    assert expected in result.one_line_error()


def test_aws_refusing_is_a_backend_error(sim: DrsSimulator, tmp_path: Path) -> None:
    shop(sim, tmp_path)
    sim.faults.server_error(rate=1.0, operations="DescribeSourceServers")

    result = aws("preflight", "shop")

    assert result.status == 3
    assert "DescribeSourceServers" in result.one_line_error()


def test_an_unknown_aws_profile_is_a_backend_error(stored_shop: None) -> None:
    result = invoke("drill", "shop", "--profile", "no-such-profile")

    assert result.status == 3
    assert "no-such-profile" in result.one_line_error()


def test_a_report_that_cannot_be_written(stored_shop: None, sim: DrsSimulator) -> None:
    drill = aws("drill", "shop", "--output", "json")
    execution_id = drill.json()["executionId"]

    result = invoke("report", execution_id, "-o", "/nonexistent/dir/r.html")

    assert result.status == 2
    assert "/nonexistent/dir/r.html" in result.one_line_error()


def test_as_a_real_process_through_python_dash_m(tmp_path: Path) -> None:
    helped = subprocess.run(
        [sys.executable, "-m", "drs_orchestration", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr
    for command in ("groups", "plans", "drill", "recover", "terminate", "report", "Exit status"):
        assert command in helped.stdout

    bad = subprocess.run(
        [sys.executable, "-m", "drs_orchestration", "plans", "create", "-f", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 1, bad.stderr
    assert "Traceback" not in bad.stderr
    assert bad.stdout == ""

    plan = write(tmp_path / "p.yaml", "name: p\nwaves: []\n")
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "drs_orchestration",
            "plans",
            "create",
            "-f",
            str(plan),
            "--storage",
            f"sqlite://{tmp_path / 'x.db'}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("drs-orchestration plans create: ")
    assert len(refused.stderr.splitlines()) == 1, refused.stderr


def test_shell_completion_completes_commands() -> None:
    import os

    env = {
        **os.environ,
        "_DRS_ORCHESTRATION_COMPLETE": "bash_complete",
        "COMP_WORDS": "drs-orchestration groups cr",
        "COMP_CWORD": "2",
    }

    result = subprocess.run(
        [sys.executable, "-m", "drs_orchestration"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["plain,create"]
