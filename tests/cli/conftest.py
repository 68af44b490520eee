"""Running the command line in-process, through its own entry point, against the DRS simulator.

``invoke`` calls :func:`drs_orchestration.cli.main` (the console script's
function, with its one-line error handling) inside click's stream isolation,
so stdout, stderr and stdin are the command's own. AWS commands get the
hidden ``--clients simulated``: the simulator and moto are active in this
process, and the simulator's clock moves whenever the command waits.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from drs_orchestration.cli import main
from drs_orchestration.testing import DrsSimulator

REGION = "us-east-1"
TIERS = (("database", 2), ("app", 2), ("web", 3))


@dataclass
class Result:
    """What a command did: its exit status and what it printed."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def one_line_error(self) -> str:
        """The error, asserting it is one line with no traceback."""
        lines = self.err.strip("\n").splitlines()
        assert self.status != 0, self
        assert len(lines) == 1, self.err
        assert "Traceback" not in self.err
        return lines[0]


def invoke(*args: object, input: str | None = None) -> Result:
    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        status = main([str(a) for a in args])
        sys.stdout.flush()
        sys.stderr.flush()
    return Result(status, out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture(autouse=True)
def _wide_and_own_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Wide output (IDs whole), and a SQLite file of the test's own as the default storage."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("DRS_ORCHESTRATION_DB", raising=False)
    path = tmp_path / "dr.db"
    monkeypatch.setenv("DRS_ORCHESTRATION_STORAGE", f"sqlite://{path}")
    return path


@pytest.fixture
def sim(drs_sim: DrsSimulator) -> DrsSimulator:
    return drs_sim


def aws(*args: object, input: str | None = None) -> Result:
    """A command that calls AWS, on the simulator."""
    return invoke(*args, "--clients", "simulated", input=input)


def seed(sim: DrsSimulator, tiers: tuple[tuple[str, int], ...] = TIERS) -> dict[str, str]:
    """Replicating servers tagged App=shop and Tier=<tier>; host name by server ID."""
    names: dict[str, str] = {}
    for tier, count in tiers:
        for i in range(1, count + 1):
            hostname = f"{tier}-{i}"
            sid = sim.add_source_server(
                region=REGION, hostname=hostname, tags={"App": "shop", "Tier": tier}
            )
            names[sid] = hostname
    return names


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GROUPS_YAML = """\
groups:
  - name: database
    region: us-east-1
    selection: {tags: {App: shop, Tier: database}}
    launchSettings: {copyPrivateIp: true, copyTags: true}
    serverOverrides:
      database-1: {targetInstanceTypeRightSizingMethod: NONE, instanceType: r6i.xlarge}
  - name: app
    region: us-east-1
    selection: {tags: {App: shop, Tier: app}}
    launchSettings: {copyTags: true}
  - name: web
    region: us-east-1
    selection: {tags: {App: shop, Tier: web}}
    launchSettings: {copyTags: true, targetInstanceTypeRightSizingMethod: BASIC}
"""

PLAN_YAML = """\
name: shop
failurePolicy: continue
waves:
  - {name: database, protectionGroups: [database]}
  - {name: app, protectionGroups: [app], dependsOn: [database]}
  - {name: web, protectionGroups: [web], dependsOn: [app]}
"""


def shop(sim: DrsSimulator, tmp_path: Path) -> dict[str, str]:
    """Seeded servers, the three groups and the plan 'shop', created through the CLI."""
    names = seed(sim)
    created = aws("groups", "create", "-f", write(tmp_path / "groups.yaml", GROUPS_YAML))
    assert created.status == 0, created
    planned = invoke("plans", "create", "-f", write(tmp_path / "plan.yaml", PLAN_YAML))
    assert planned.status == 0, planned
    return names
