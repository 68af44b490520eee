"""``drs-orchestration demo`` and ``status`` in a temporary directory (fast simulated time)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from drs_orchestration.cli import main
from drs_orchestration.cli.extras import MissingExtraError, require


def test_demo_runs_a_drill_and_status_reads_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("DRS_ORCHESTRATION_DB", raising=False)
    monkeypatch.delenv("DRS_ORCHESTRATION_STORAGE", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)

    assert main(["demo", "--speed", "2000"]) == 0

    out = capsys.readouterr().out
    # The default storage is the per-user SQLite file, which status reads without options.
    default = tmp_path / "state" / "drs-orchestration" / "drs-orchestration.db"
    assert str(default) in out.replace("\n", "")
    assert default.exists()
    assert "database -> app -> web" in out
    assert "drill RTO (start to last server launched)" in out
    assert "fast path" in out
    assert "status: COMPLETED" in out
    execution_id = re.search(r"drs-orchestration status (ex-[0-9a-z]{20})", out)
    assert execution_id is not None

    assert main(["status", execution_id[1]]) == 0
    shown = capsys.readouterr().out
    for wave in ("database", "app", "web"):
        assert f"wave {wave} (completed, fast path)" in shown
    assert "LAUNCHED" in shown

    # Captured output has no terminal: every server's row keeps its IDs whole.
    for server_id in re.findall(r"s-[0-9a-f]{17}", out):
        assert server_id in shown
    assert re.search(r"i-[0-9a-f]{17}", shown)

    assert main(["status", execution_id[1], "--json"]) == 0
    stored = json.loads(capsys.readouterr().out)
    assert stored["status"] == "COMPLETED"
    assert [w["waveName"] for w in stored["waves"]] == ["database", "app", "web"]
    servers = [o for w in stored["waves"] for o in w["servers"].values()]
    assert len(servers) == 12
    assert all(o["status"] == "LAUNCHED" and o["ec2InstanceId"] for o in servers)
    assert all(o["phases"]["launchEnd"] for o in servers)


def test_status_names_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "ex-00000000000000000000", "--db", str(tmp_path / "none.db")]) == 1
    assert "no database at" in capsys.readouterr().err

    from drs_orchestration.storage import SqliteStorage

    with SqliteStorage(tmp_path / "empty.db"):
        pass
    assert main(["status", "ex-00000000000000000000", "--db", str(tmp_path / "empty.db")]) == 1
    assert "no execution 'ex-00000000000000000000'" in capsys.readouterr().err


def test_demo_without_its_extras_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)

    assert main(["demo"]) == 2
    assert 'pip install "drs-orchestration[sim,cli]"' in capsys.readouterr().err


def test_demo_refuses_a_speed_that_is_not_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--speed", "0"]) == 2
    assert "--speed must be positive" in capsys.readouterr().err


def test_require_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtraError, match=r'pip install "drs-orchestration\[cli\]"'):
        require("a_module_that_is_not_installed", extras="cli")
