"""The live view: per-wave bars and server rows, kept current from events and stored executions."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from drs_orchestration.cli.progress import MAX_SERVER_ROWS, FailbackProgress, LiveProgress
from drs_orchestration.events import FailbackProgressed, ServerFailed
from drs_orchestration.models import (
    Execution,
    Failback,
    FailbackPhase,
    FailbackState,
    ServerOutcome,
    WaveRun,
)
from drs_orchestration.models.executions import ServerLaunchStatus, WaveStatus
from drs_orchestration.models.readiness import ServerReadiness
from drs_orchestration.services.waves import WaveExecutor
from drs_orchestration.testing import DrsSimulator
from tests.cli.conftest import aws, invoke, shop
from tests.ids import server_id

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def _execution(waves: int, servers: int) -> Execution:
    runs = []
    for w in range(waves):
        ids = [server_id(f"{w}-{i}") for i in range(servers)]
        runs.append(
            WaveRun(
                wave_name=f"wave-{w}",
                region="us-east-1",
                server_ids=ids,
                servers={sid: ServerOutcome(source_server_id=sid) for sid in ids},
            )
        )
    return Execution(plan_id="rp-" + "p" * 20, plan_name="big", waves=runs)


def _rendered(view: LiveProgress | FailbackProgress) -> str:
    out = io.StringIO()
    Console(file=out, width=160, force_terminal=False).print(view.render())
    return out.getvalue()


def test_a_large_plan_shows_the_servers_of_the_waves_in_flight() -> None:
    execution = _execution(waves=2, servers=20)
    view = LiveProgress(execution, Console(file=io.StringIO()))
    assert f"... and {40 - MAX_SERVER_ROWS} more servers" in _rendered(view)

    second = execution.waves[1]
    second.status = WaveStatus.MONITORING
    first_sid = second.server_ids[0]
    outcome = second.servers[first_sid]
    outcome.status = ServerLaunchStatus.LAUNCHED
    outcome.readiness = ServerReadiness(
        source_server_id=first_sid,
        state="CONTINUOUS",
        hostname="zeta-host",
        ready=True,
        reason="replicating",
        checked_at=NOW,
    )
    view.update_from(execution)

    rows = view.server_rows()
    assert {wave for wave, _, _ in rows} == {"wave-1"}
    assert len(rows) == 20
    assert (("wave-1", f"zeta-host ({first_sid})", "LAUNCHED")) in rows
    text = _rendered(view)
    assert "... and 20 more servers" in text
    assert "monitoring" in text


def test_events_update_a_server_and_name_it_in_the_log() -> None:
    execution = _execution(waves=1, servers=2)
    log = io.StringIO()
    view = LiveProgress(execution, Console(file=log, width=200), {server_id("0-1"): "db-2"})

    view(
        ServerFailed(
            at=NOW,
            execution_id=execution.execution_id,
            wave_name="wave-0",
            source_server_id=server_id("0-1"),
            reason="no recovery point",
            skipped=True,
        )
    )

    assert ("wave-0", f"db-2 ({server_id('0-1')})", "SKIPPED") in view.server_rows()
    assert "db-2" in log.getvalue()
    assert "skipped: no recovery point" in log.getvalue()


def test_a_failback_view_shows_each_phase_and_names_servers_in_its_log() -> None:
    execution_id = "ex-" + "e" * 20
    states = [
        FailbackState(
            recovery_instance_id=f"i-{index:017x}",
            execution_id=execution_id,
            wave_name="app",
            source_server_id=server_id(f"f-{index}"),
            region="us-east-1",
        )
        for index in range(2)
    ]
    log = io.StringIO()
    view = FailbackProgress(
        Failback(execution_id=execution_id, servers=states),
        Console(file=log, width=200),
        {server_id("f-0"): "app-1"},
    )
    assert "0/2" in _rendered(view)

    ready = states[0].model_copy(
        update={
            "phase": FailbackPhase.READY,
            "replication_state": "CONTINUOUS",
            "lag_seconds": 5.0,
        }
    )
    view.update_from(Failback(execution_id=execution_id, servers=[ready, states[1]]))
    view(
        FailbackProgressed(
            at=NOW,
            execution_id=execution_id,
            source_server_id=ready.source_server_id,
            recovery_instance_id=ready.recovery_instance_id,
            phase="READY",
            action="ready",
            message="CONTINUOUS with lag 5 s",
        )
    )

    text = _rendered(view)
    assert "1/2" in text
    assert "CONTINUOUS, lag 5s" in text
    assert f"app-1 ({server_id('f-0')})" in text
    assert f"app-1 ({server_id('f-0')}) ready: CONTINUOUS with lag 5 s" in log.getvalue()


def test_an_interrupted_drill_keeps_its_state_and_resume_finishes_it(
    sim: DrsSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop(sim, tmp_path)
    step = WaveExecutor.step
    calls = {"n": 0}

    def interrupted(self: WaveExecutor, execution_id: str) -> object:
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return step(self, execution_id)

    monkeypatch.setattr(WaveExecutor, "step", interrupted)
    stopped = aws("drill", "shop")
    monkeypatch.setattr(WaveExecutor, "step", step)

    assert stopped.status == 130
    line = stopped.err.strip().splitlines()[-1]
    assert "interrupted; execution ex-" in line
    execution_id = line.split("execution ")[1].split()[0]
    assert f"'drs-orchestration resume {execution_id}'" in line
    assert invoke("status", execution_id, "--output", "json").json()["status"] == "RUNNING"

    resumed = aws("resume", execution_id, "--output", "json")
    assert resumed.status == 0, resumed
    assert resumed.json()["status"] == "COMPLETED"
