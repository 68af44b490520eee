"""Drills and recoveries end to end through the CLI on the simulator: run, read back, clean up."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3

from drs_orchestration.testing import DrsSimulator
from tests.cli.conftest import REGION, aws, invoke, shop, write

EXECUTION = re.compile(r"ex-[0-9a-z]{20}")


def _ids(names: dict[str, str]) -> dict[str, str]:
    return {hostname: sid for sid, hostname in names.items()}


def _instance_states(instance_ids: list[str]) -> dict[str, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    found = ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}


def test_a_drill_read_back_reported_and_cleaned_up(sim: DrsSimulator, tmp_path: Path) -> None:
    names = shop(sim, tmp_path)

    drill = aws("drill", "shop")

    assert drill.status == 0, drill
    [execution_id] = set(EXECUTION.findall(drill.err))
    assert "status: COMPLETED" in drill.out
    assert "drill RTO (start to last server launched)" in drill.out
    # Milestones went to stderr while the drill ran.
    assert "wave database completed: 2 launched, 0 failed, 0 skipped" in drill.err

    # status without an ID: the latest execution; servers by host name, in the demo's order.
    status = invoke("status")
    assert status.status == 0
    assert status.out.startswith(f"shop: drill {execution_id}")
    shown = re.findall(r"^\s+((?:database|app|web)-\d)\s", status.out, re.M)
    assert shown == ["database-1", "database-2", "app-1", "app-2", "web-1", "web-2", "web-3"]
    for sid in names:
        assert sid in status.out

    stored = invoke("status", execution_id, "--output", "json").json()
    assert stored["executionId"] == execution_id
    assert stored["status"] == "COMPLETED"
    outcomes = [o for w in stored["waves"] for o in w["servers"].values()]
    assert {o["readiness"]["hostname"] for o in outcomes} == set(names.values())
    instances = [o["ec2InstanceId"] for o in outcomes]

    listed = invoke("executions", "list", "--output", "json").json()
    assert [e["executionId"] for e in listed] == [execution_id]
    table = invoke("executions", "list", "--plan", "shop")
    assert execution_id in table.out
    assert "COMPLETED" in table.out

    # The evidence report: to stdout as Markdown, to a file as HTML, as JSON with its numbers.
    markdown = invoke("report", execution_id, "--format", "md")
    assert markdown.status == 0
    assert execution_id in markdown.out
    html = invoke("report", execution_id, "-o", tmp_path / "drill.html", "--chart", "none")
    assert html.status == 0
    assert (tmp_path / "drill.html").read_text().startswith("<!DOCTYPE html>")
    evidence = invoke("report", execution_id, "--format", "json").json()
    assert evidence["serversLaunched"] == 7
    assert evidence["servers" + "Total"] == 7

    # terminate is a dry run unless --yes.
    dry = aws("terminate", execution_id, "--output", "json")
    assert dry.status == 0, dry
    assert {i["status"] for i in dry.json()["instances"]} == {"WOULD_TERMINATE"}
    assert set(_instance_states(instances).values()) == {"running"}
    done = aws("terminate", execution_id, "--yes")
    assert done.status == 0, done
    assert done.out.count("TERMINATED") == 7
    assert set(_instance_states(instances).values()) <= {"terminated", "shutting-down"}


def test_recover_asks_naming_the_plan_and_its_server_count(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    shop(sim, tmp_path)

    declined = aws("recover", "shop", input="n\n")

    assert declined.status == 1
    assert "launch 7 servers in 3 waves in us-east-1 as a REAL RECOVERY" in declined.err
    assert "Recover plan 'shop'" in declined.err
    assert "recovery of 'shop' not started: not confirmed" in declined.err.splitlines()[-1]
    assert invoke("executions", "list", "--output", "json").json() == []

    no_answer = aws("recover", "shop")  # stdin closed: nobody can answer
    assert no_answer.status == 2
    assert "pass --yes" in no_answer.err.splitlines()[-1]

    confirmed = aws("recover", "shop", "--output", "json", input="y\n")
    assert confirmed.status == 0, confirmed
    recovery = confirmed.json()
    assert recovery["executionType"] == "RECOVERY"
    assert recovery["status"] == "COMPLETED"

    # A recovery's instances are production: terminate refuses them.
    refused = aws("terminate", recovery["executionId"], "--yes")
    assert refused.status == 1
    line = refused.one_line_error()
    assert "not a drill" in line
    # The library's keyword argument, said as the command's option.
    assert "pass --include-recovery" in line
    assert "include_recovery=True" not in line


def test_recover_with_yes_and_a_failed_server_exits_1(sim: DrsSimulator, tmp_path: Path) -> None:
    ids = _ids(shop(sim, tmp_path))
    sim.faults.fail_launch(ids["app-2"])

    result = aws("recover", "shop", "--yes")

    assert result.status == 1
    assert "status: PARTIAL" in result.out
    row, note = [line for line in result.out.splitlines() if line.strip().startswith("app-2")]
    assert "FAILED" in row
    assert "injected fault" in note


def test_a_plan_that_pauses_before_a_wave_then_resume(sim: DrsSimulator, tmp_path: Path) -> None:
    shop(sim, tmp_path)
    assert invoke("plans", "pause-before", "shop", "web").status == 0
    assert invoke("plans", "show", "shop", "--output", "json").json()["waves"][2]["pauseBefore"]

    paused = aws("drill", "shop", "--output", "json")

    assert paused.status == 0
    assert paused.json()["status"] == "PAUSED"
    assert paused.json()["pausedBefore"] == "web"
    execution_id = paused.json()["executionId"]
    assert f"release it with 'drs-orchestration resume {execution_id}'" in paused.err

    resumed = aws("resume", execution_id, "--output", "json")
    assert resumed.status == 0, resumed
    assert resumed.json()["status"] == "COMPLETED"
    assert [w["status"] for w in resumed.json()["waves"]] == ["COMPLETED"] * 3

    again = aws("resume", execution_id)
    assert again.status == 1
    assert "has ended (COMPLETED): nothing to resume" in again.one_line_error()

    assert invoke("plans", "pause-before", "shop", "web", "--off").status == 0
    assert not invoke("plans", "show", "shop", "--output", "json").json()["waves"][2]["pauseBefore"]
    missing = invoke("plans", "pause-before", "shop", "nosuch")
    assert missing.status == 2
    assert "has no wave 'nosuch' (waves: database, app, web)" in missing.one_line_error()


def test_pause_a_running_execution_before_its_next_wave(sim: DrsSimulator, tmp_path: Path) -> None:
    shop(sim, tmp_path)
    execution_id = aws("drill", "shop", "--detach").out.strip()
    while invoke("status", execution_id, "--output", "json").json()["waves"][0]["status"] == (
        "PENDING"
    ):
        assert aws("step", execution_id).status == 0

    paused = invoke("pause", execution_id)

    assert paused.status == 0, paused
    assert "it stops before wave 'app' as PAUSED" in paused.out
    assert f"release it with 'drs-orchestration resume {execution_id}'" in paused.err
    marked = invoke("pause", execution_id, "--output", "json").json()
    assert marked["status"] == "RUNNING"
    assert [w["pauseBefore"] for w in marked["waves"]] == [False, True, False]
    in_flight = invoke("pause", execution_id, "--before", "database")
    assert in_flight.status == 1
    assert "wave 'database' has already started" in in_flight.one_line_error()
    unknown = invoke("pause", execution_id, "--before", "nosuch")
    assert unknown.status == 2
    assert "has no wave 'nosuch' (waves: database, app, web)" in unknown.one_line_error()

    # The process running it (here: resume) stops before the wave, and says how to go on.
    ran = aws("resume", execution_id, "--output", "json")
    assert ran.status == 0, ran
    assert ran.json()["status"] == "PAUSED"
    assert ran.json()["pausedBefore"] == "app"
    assert [w["status"] for w in ran.json()["waves"]] == ["COMPLETED", "PENDING", "PENDING"]
    again = invoke("pause", execution_id)
    assert again.out.strip() == f"{execution_id} is paused before wave 'app'"

    done = aws("resume", execution_id, "--output", "json")
    assert done.json()["status"] == "COMPLETED"
    ended = invoke("pause", execution_id)
    assert ended.status == 1
    assert "has ended (COMPLETED): nothing to pause" in ended.one_line_error()
    # The plan was never changed.
    plan = invoke("plans", "show", "shop", "--output", "json").json()
    assert not any(w.get("pauseBefore") for w in plan["waves"])


def test_pause_names_the_plan_command_when_given_a_plan(sim: DrsSimulator, tmp_path: Path) -> None:
    shop(sim, tmp_path)

    by_name = invoke("pause", "shop")
    assert by_name.status == 1
    line = by_name.one_line_error()
    assert "no execution 'shop'" in line
    assert "'drs-orchestration plans pause-before PLAN WAVE'" in line

    old_form = invoke("pause", "shop", "web")
    assert old_form.status == 2
    assert "unexpected extra argument (web)" in old_form.one_line_error()


def test_detach_then_step_cancel_and_resume(sim: DrsSimulator, tmp_path: Path) -> None:
    shop(sim, tmp_path)

    started = aws("drill", "shop", "--detach")

    assert started.status == 0, started
    execution_id = started.out.strip()
    assert EXECUTION.fullmatch(execution_id)
    # Nothing else can reach the in-process simulator, so no runner was started.
    assert "not running" in started.err
    assert invoke("status", execution_id, "--output", "json").json()["status"] == "PENDING"

    stepped = aws("step", execution_id, "--output", "json")
    assert stepped.status == 0
    assert stepped.json()["progressed"] is True
    assert stepped.json()["execution"]["status"] == "RUNNING"
    text = aws("step", execution_id)
    assert text.out.startswith(f"{execution_id}: RUNNING; the step")

    cancelled = invoke("cancel", execution_id, "--reason", "change freeze")
    assert cancelled.status == 0
    assert "CANCELLED at its next step" in cancelled.out

    ended = aws("resume", execution_id, "--output", "json")
    assert ended.status == 1
    assert ended.json()["status"] == "CANCELLED"
    assert ended.json()["cancelRequest"]["reason"] == "change freeze"

    late = invoke("cancel", execution_id)
    assert late.status == 1
    assert late.one_line_error().startswith("drs-orchestration cancel: ")


def test_detach_spawns_a_runner_with_the_same_storage_and_aws_options(
    sim: DrsSimulator, tmp_path: Path, monkeypatch: object
) -> None:
    from drs_orchestration.cli import follow
    from drs_orchestration.cli.options import CliOptions
    from drs_orchestration.cli.runtime import Runtime

    rt = Runtime(
        CliOptions(db=Path("rel/dr.db"), profile="dr-admin", region="eu-west-1"), command="x"
    )

    command = follow.runner_command(rt, "ex-" + "a" * 20, poll_interval=5)

    assert command[1:5] == ["-m", "drs_orchestration", "resume", "ex-" + "a" * 20]
    assert command[command.index("--storage") + 1] == f"sqlite://{Path('rel/dr.db').resolve()}"
    assert command[command.index("--profile") + 1] == "dr-admin"
    assert command[command.index("--region") + 1] == "eu-west-1"
    assert command[command.index("--poll-interval") + 1] == "5"
    failback = follow.runner_command(
        rt, "ex-" + "a" * 20, poll_interval=30, command=("failback", "run")
    )
    assert failback[1:6] == ["-m", "drs_orchestration", "failback", "run", "ex-" + "a" * 20]

    memory = aws("drill", "x", "--detach", "--storage", "memory")
    assert memory.status == 2
    assert "--detach needs storage another process can read" in memory.one_line_error()


def test_preflight_as_a_drill_and_as_a_recovery_after_an_outage(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    ids = _ids(shop(sim, tmp_path))

    healthy = aws("preflight", "shop")
    assert healthy.status == 0, healthy
    assert "a drill of 'shop' would launch 7 of 7 servers" in healthy.out
    assert "database-1" in healthy.out

    sim.advance(3600)
    sim.outage(server_ids=[ids["web-1"], ids["web-2"]])

    as_drill = aws("preflight", "shop", "--output", "json")
    assert as_drill.status == 1
    assert set(as_drill.json()["waves"][2]["servers"][0]) >= {"state", "ready", "reason"}
    not_ready = {
        s["sourceServerId"]
        for w in as_drill.json()["waves"]
        for s in w["servers"]
        if not s["ready"]
    }
    assert not_ready == {ids["web-1"], ids["web-2"]}

    as_recovery = aws("preflight", "shop", "--recovery")
    assert as_recovery.status == 0, as_recovery
    assert "a recovery of 'shop' would launch 7 of 7 servers" in as_recovery.out
    assert "STALLED" in as_recovery.out


def test_cache_sync_show_and_for_execution(sim: DrsSimulator, tmp_path: Path) -> None:
    ids = _ids(shop(sim, tmp_path))
    never = invoke("cache", "show")
    assert "never synced" in never.out
    drill = aws("drill", "shop", "--output", "json")
    execution_id = drill.json()["executionId"]

    synced = aws("cache", "sync", "--output", "json")
    assert synced.status == 0, synced
    assert synced.json()["targets"][0]["instances"] == 7

    one = invoke("cache", "show", ids["web-1"], "--output", "json").json()
    assert [r["sourceServerId"] for r in one["records"]] == [ids["web-1"]]
    assert one["records"][0]["sourceExecutionId"] == execution_id
    assert one["misses"] == []
    table = invoke("cache", "show")
    assert "last sync" in table.out
    assert table.out.count(execution_id) == 7

    miss = invoke("cache", "show", "s-" + "0" * 17)
    assert miss.status == 1
    assert "not in the cache: s-00000000000000000" in miss.err

    mine = invoke("cache", "for-execution", execution_id, "--output", "json").json()
    assert sorted(r["sourceServerId"] for r in mine) == sorted(ids.values())
    bad = invoke("cache", "for-execution", "nope")
    assert bad.status == 2
    assert "is not an execution ID" in bad.one_line_error()


def test_the_simulated_clients_need_an_active_simulator(tmp_path: Path) -> None:
    result = aws("groups", "create", "-f", write(tmp_path / "g.yaml", "name: a\n"))

    assert result.status == 2 or "selection" in result.err
    write(tmp_path / "ok.yaml", "name: a\nregion: us-east-1\nselection: {tags: {A: b}}\n")
    refused = aws("groups", "create", "-f", tmp_path / "ok.yaml")
    assert refused.status == 2
    assert "--clients simulated is for tests" in refused.one_line_error()
    assert json.loads(invoke("groups", "list", "--output", "json").out) == []
