"""``failback``: a real recovery through the CLI, then its failback, on the simulator and moto.

The servers originated in EC2 in ``us-west-2`` and replicate into
``us-east-1``; the origin goes down, ``recover`` fails them over, and the
``failback`` commands bring them home into their original instances,
re-protect them and clear the failover away.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from drs_orchestration.services.failback import FailbackCoordinator, FailbackStepResult
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.cli.conftest import REGION, Result, aws, invoke, write

ORIGIN = "us-west-2"
AMI = "ami-04681a1dbd79675a5"
"""moto's Amazon Linux 2 image (HVM, x86_64, EBS): the matcher checks its platform."""
UNKNOWN = "ex-" + "0" * 20

GROUPS = """\
groups:
  - {name: database, region: us-east-1, selection: {tags: {Tier: database}}}
  - {name: app, region: us-east-1, selection: {tags: {Tier: app}}}
"""
PLAN = """\
name: shop
waves:
  - {name: database, protectionGroups: [database]}
  - {name: app, protectionGroups: [app], dependsOn: [database]}
"""


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch, drs_sim: DrsSimulator) -> DrsSimulator:
    # moto's catalogue images carry the platform, architecture and virtualization type
    # the matcher's checks read (launching back into the original instances).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    return drs_sim


def _ec2(region: str = ORIGIN) -> Any:
    return boto3.client("ec2", region_name=region)


def _state(instance_id: str, region: str) -> str:
    found = _ec2(region).describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(found[0]["Instances"][0]["State"]["Name"])


def _servers(sim: DrsSimulator, tmp_path: Path) -> dict[str, str]:
    """EC2 instances in the origin replicating into the recovery region; original by server."""
    originals: dict[str, str] = {}
    for tier, count in (("database", 1), ("app", 2)):
        for index in range(1, count + 1):
            name = f"{tier}-{index}"
            instance = _ec2().run_instances(
                ImageId=AMI,
                InstanceType="m5.large",
                MinCount=1,
                MaxCount=1,
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [
                            {"Key": "Name", "Value": name},
                            # The failback launches back into this instance: allow DRS to.
                            {"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"},
                        ],
                    }
                ],
            )["Instances"][0]
            sid = sim.add_source_server(
                region=REGION,
                hostname=name,
                tags={"Tier": tier},
                source_instance_id=instance["InstanceId"],
                origin_region=ORIGIN,
                private_ip=instance["PrivateIpAddress"],
            )
            originals[sid] = instance["InstanceId"]
    assert aws("groups", "create", "-f", write(tmp_path / "g.yaml", GROUPS)).status == 0
    assert invoke("plans", "create", "-f", write(tmp_path / "p.yaml", PLAN)).status == 0
    return originals


def _recovered(sim: DrsSimulator, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The origin lost and the plan recovered through the CLI: (execution ID, originals)."""
    originals = _servers(sim, tmp_path)
    sim.outage(server_ids=list(originals))
    _ec2().stop_instances(InstanceIds=list(originals.values()))
    recovered = aws("recover", "shop", "--yes", "--output", "json")
    assert recovered.status == 0, recovered
    assert recovered.json()["status"] == "COMPLETED"
    return recovered.json()["executionId"], originals


def _phases(result: Result) -> dict[str, str]:
    return {s["sourceServerId"]: s["phase"] for s in result.json()["servers"]}


def test_a_recovery_failed_back_end_to_end(sim: DrsSimulator, tmp_path: Path) -> None:
    execution_id, originals = _recovered(sim, tmp_path)
    none_yet = invoke("failback", "status", execution_id)
    assert none_yet.status == 1
    assert f"'drs-orchestration failback start {execution_id}'" in none_yet.one_line_error()

    started = aws("failback", "start", execution_id)
    assert started.status == 0, started
    assert len(re.findall(r"in AWS\s+NOT_STARTED", started.out)) == 3
    assert f"next: 'drs-orchestration failback run {execution_id}' (3 servers" in started.err

    # Replicating back until caught up, with the milestones on stderr as they happen.
    ready = aws("failback", "run", execution_id, "--output", "json")
    assert ready.status == 0, ready
    assert ready.json()["phase"] == "READY"
    assert set(_phases(ready).values()) == {"READY"}
    assert ready.err.count("reverse started: replicating back to s-") == 3
    assert "database-1 (" in ready.err
    assert set(ready.json()["next"].values()) == {
        f"drs-orchestration failback launch {execution_id}"
    }
    shown = invoke("failback", "status", execution_id)
    assert shown.status == 0
    assert f"failback of {execution_id} ('shop'): READY" in shown.out
    rows = [line for line in shown.out.splitlines() if "database-1" in line]
    assert "in AWS" in rows[0]
    assert "CONTINUOUS, lag 5s" in rows[0]
    assert "failback launch" in rows[0]

    # A failback drill: into the originals only when asked; then drill instances beside them.
    overwrite = aws("failback", "launch", execution_id, "--drill", "--into-original")
    assert overwrite.status == 2
    line = overwrite.one_line_error()
    assert "pass --drill-into-original to drill into them anyway" in line
    assert "drill_into_original" not in line
    assert all(original in line for original in originals.values())
    drill = aws("failback", "launch", execution_id, "--drill")
    assert drill.status == 0, drill
    assert "Launch back" not in drill.err  # a drill does not ask
    drilled = aws("failback", "run", execution_id, "--output", "json").json()
    for server in drilled["servers"]:
        assert server["phase"] == "COMPLETED"
        assert server["launch"]["drill"] is True
        assert server["failbackEc2InstanceId"] != originals[server["sourceServerId"]]

    # The real launch back asks, naming the execution and the server count.
    declined = aws("failback", "launch", execution_id, "--into-original", input="n\n")
    assert declined.status == 1
    assert (
        f"Launch back 3 servers of execution {execution_id} (plan 'shop') into their original "
        "instances in us-west-2 as a REAL FAILBACK" in declined.err
    )
    assert declined.err.splitlines()[-1].endswith("not started: not confirmed")
    no_answer = aws("failback", "launch", execution_id, "--into-original")
    assert no_answer.status == 2
    assert "pass --yes" in no_answer.err.splitlines()[-1]
    launched = aws("failback", "launch", execution_id, "--into-original", input="y\n")
    assert launched.status == 0, launched
    assert len(re.findall(r"in AWS\s+LAUNCHING\s+CONTINUOUS", launched.out)) == 3
    back = aws("failback", "run", execution_id, "--output", "json")
    assert back.status == 0, back
    for server in back.json()["servers"]:
        sid = server["sourceServerId"]
        assert server["phase"] == "COMPLETED"
        assert server["launch"]["drill"] is False
        assert server["failbackEc2InstanceId"] == originals[sid]
        assert server["launchedIntoOriginal"] is True
        assert _state(originals[sid], ORIGIN) == "running"
        assert back.json()["next"][sid].endswith(f"failback reprotect {execution_id}")
    recovery_instances = [s["ec2InstanceId"] for s in back.json()["servers"]]

    # After-care: re-protect, then clean up (asks, naming what goes).
    assert aws("failback", "reprotect", execution_id).status == 0
    kept = aws("failback", "cleanup", execution_id, input="n\n")
    assert kept.status == 1
    assert (
        f"Clean up the failover of execution {execution_id}: stop the replication of 3 "
        "temporary source servers in us-west-2 and terminate 3 recovery instances in us-east-1?"
        in kept.err
    )
    assert all(_state(i, REGION) == "running" for i in recovery_instances)
    cleaned = aws("failback", "cleanup", execution_id, "--yes")
    assert cleaned.status == 0, cleaned
    done = aws("failback", "run", execution_id, "--output", "json")
    assert done.status == 0, done
    for server in done.json()["servers"]:
        for step in ("reprotect", "stopReplication", "terminate"):
            assert server[step]["doneAt"], (step, server[step])
    assert set(done.json()["next"].values()) == {None}
    assert all(_state(i, REGION) == "terminated" for i in recovery_instances)
    table = invoke("failback", "status", execution_id)
    assert table.status == 0
    assert table.out.count("re-protect: done") == 3
    assert table.out.count("terminate: done") == 3
    assert "next:" not in table.err


def test_a_drill_fails_back_only_with_drill_ok_and_then_fails_in_drs(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    _servers(sim, tmp_path)
    execution_id = aws("drill", "shop", "--output", "json").json()["executionId"]

    refused = aws("failback", "start", execution_id)

    assert refused.status == 2
    line = refused.one_line_error()
    assert line.startswith("drs-orchestration failback start: ")
    assert f"execution {execution_id} is a drill" in line
    assert "pass --drill-ok to try anyway" in line
    assert "drill_ok" not in line
    assert invoke("failback", "status", execution_id).status == 1

    started = aws("failback", "start", execution_id, "--drill-ok")
    assert started.status == 0, started
    # DRS refuses to reverse a drill instance's replication: each server fails, and says so.
    failed = aws("failback", "run", execution_id)
    assert failed.status == 1
    assert failed.out.count("FAILED") >= 3
    assert "errors and notes" in failed.out
    assert "drill instances" in failed.out
    assert f"next: 'drs-orchestration failback start {execution_id}'" in failed.err
    assert "Traceback" not in failed.err
    status = invoke("failback", "status", execution_id, "--output", "json")
    assert status.status == 1
    assert set(_phases(status).values()) == {"FAILED"}


def test_refusals_are_one_line_with_the_documented_status(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    execution_id, originals = _recovered(sim, tmp_path)
    sid = next(iter(originals))
    other = "s-" + "0" * 17

    cases: list[tuple[tuple[str, ...], int, str]] = [
        (("failback", "start", UNKNOWN), 1, f"no execution '{UNKNOWN}'"),
        (("failback", "status", UNKNOWN), 1, f"no execution '{UNKNOWN}'"),
        (("failback", "run", UNKNOWN), 1, f"no execution '{UNKNOWN}'"),
        (("failback", "start", execution_id, "--server", "web-1"), 2, "not a DRS source server"),
        (("failback", "start", execution_id, "--server", other), 2, "is not a server of"),
        (("failback", "launch", execution_id, "--yes"), 1, "has no failback: start it with"),
        (
            ("failback", "cleanup", execution_id, "--no-stop-replication", "--no-terminate"),
            2,
            "leave nothing to clean up",
        ),
        (("failback", "acknowledge-ip", execution_id, sid), 2, "Missing option '--by'"),
        (("failback", "configure-replication", execution_id), 2, "give at least one setting"),
        (
            ("failback", "run", execution_id, "--detach", "--storage", "memory"),
            2,
            "--detach needs storage another process can read",
        ),
    ]
    for args, status, expected in cases:
        # status reads storage only, and takes no AWS options.
        result = invoke(*args) if args[1] == "status" else aws(*args)
        assert result.status == status, (args, result)
        assert expected in result.one_line_error(), args

    assert aws("failback", "start", execution_id).status == 0
    after_start: list[tuple[tuple[str, ...], int, str]] = [
        (("failback", "launch", execution_id, "--yes"), 2, "is NOT_STARTED, not READY"),
        (
            ("failback", "launch", execution_id, "--pair", "nonsense"),
            2,
            "give SOURCE_SERVER=INSTANCE",
        ),
        (("failback", "reprotect", execution_id), 2, "it has not been launched back"),
        (("failback", "cleanup", execution_id, "--yes"), 2, "it has not been launched back"),
        (
            ("failback", "acknowledge-ip", execution_id, sid, "--by", "me"),
            2,
            "there is no mismatch to acknowledge",
        ),
        (("failback", "acknowledge-ip", execution_id, other, "--by", "me"), 1, "not found"),
        (("failback", "replication", execution_id, other), 1, "failback of source server"),
    ]
    for args, status, expected in after_start:
        result = aws(*args)
        assert result.status == status, (args, result)
        assert expected in result.one_line_error(), args

    # A failback needs its execution to have ended.
    pending = aws("recover", "shop", "--yes", "--detach").out.strip()
    running = aws("failback", "start", pending)
    assert running.status == 1
    assert f"execution {pending} is still PENDING" in running.one_line_error()


def test_step_detach_settings_stop_and_start_again(sim: DrsSimulator, tmp_path: Path) -> None:
    execution_id, originals = _recovered(sim, tmp_path)
    sid = next(iter(originals))
    assert aws("failback", "start", execution_id).status == 0

    stepped = aws("failback", "step", execution_id, "--output", "json")
    assert stepped.status == 0
    assert stepped.json()["progressed"] is True
    assert stepped.json()["pending"] is True
    text = aws("failback", "step", execution_id)
    assert text.out.startswith(f"failback of {execution_id}: ")
    assert "the step" in text.out
    detached = aws("failback", "run", execution_id, "--detach")
    assert detached.status == 0
    assert "not running" in detached.err
    assert f"'drs-orchestration failback status {execution_id}'" in detached.err

    settings = aws("failback", "replication", execution_id, sid, "--output", "json").json()
    assert settings["bandwidthThrottling"] == 0
    changed = aws(
        "failback",
        "configure-replication",
        execution_id,
        "--bandwidth-throttling",
        "100",
        "--use-private-ip",
    )
    assert changed.status == 0, changed
    assert "settings of 3 servers" in changed.out
    settings = aws("failback", "replication", execution_id, sid, "--output", "json").json()
    assert settings["bandwidthThrottling"] == 100
    assert settings["usePrivateIP"] is True
    assert "bandwidthThrottling" in aws("failback", "replication", execution_id, sid).out

    stopped = aws("failback", "stop", execution_id, "--reason", "change window closed")
    assert stopped.status == 0, stopped
    status = invoke("failback", "status", execution_id)
    assert status.status == 1
    assert status.out.count("FailbackStopped") == 3
    assert "failback stopped on request: change window closed" in status.out
    assert f"next: 'drs-orchestration failback start {execution_id}'" in status.err

    again = aws("failback", "start", execution_id)
    assert again.status == 0, again
    ready = aws("failback", "run", execution_id, "--output", "json")
    assert ready.status == 0, ready
    assert set(_phases(ready).values()) == {"READY"}


def test_an_interrupted_failback_run_keeps_its_state(
    sim: DrsSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id, _ = _recovered(sim, tmp_path)
    assert aws("failback", "start", execution_id).status == 0
    step = FailbackCoordinator.step
    calls = {"n": 0}

    def interrupted(self: FailbackCoordinator, execution_id: str) -> FailbackStepResult:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return step(self, execution_id)

    monkeypatch.setattr(FailbackCoordinator, "step", interrupted)
    stopped = aws("failback", "run", execution_id)
    monkeypatch.setattr(FailbackCoordinator, "step", step)

    assert stopped.status == 130
    line = stopped.err.strip().splitlines()[-1]
    assert f"interrupted; the failback of {execution_id} keeps its state" in line
    assert f"'drs-orchestration failback run {execution_id}'" in line
    assert "Traceback" not in stopped.err
    assert "REVERSE_REPLICATING" in invoke("failback", "status", execution_id).out
    finished = aws("failback", "run", execution_id, "--output", "json")
    assert finished.status == 0, finished
    assert set(_phases(finished).values()) == {"READY"}


def test_a_failover_that_lost_its_ip_waits_for_an_acknowledgement(
    sim: DrsSimulator, tmp_path: Path
) -> None:
    originals = _servers(sim, tmp_path)
    app = [sid for sid, _ in originals.items()][1:]
    standbys = {}
    for index, _ in enumerate(app, start=1):
        standbys[index] = _standby(f"app-{index}-dr")
    paired = aws("match", "--group", "app", "--suffix", "-dr", "--apply", "--output", "json")
    assert paired.status == 0, paired
    # Someone points app-1 at another instance behind the library's back: DRS launches into
    # that one, and the failover keeps neither the paired instance nor its IP.
    SimulatedClientFactory(sim).client("drs", REGION).update_launch_configuration(
        sourceServerID=app[0],
        launchIntoInstanceProperties={"launchIntoEC2InstanceID": _standby("stray")},
    )
    sim.outage(server_ids=list(originals))
    execution_id = aws("recover", "shop", "--yes", "--output", "json").json()["executionId"]

    started = aws("failback", "start", execution_id)

    assert started.status == 0, started
    assert "PrivateIPMismatch" in started.out
    hint = f"'drs-orchestration failback acknowledge-ip {execution_id} {app[0]} --by NAME'"
    assert f"next: {hint}" in started.err
    waiting = aws("failback", "run", execution_id, "--output", "json")
    assert waiting.status == 0, waiting  # waiting for a request, not failed
    phases = _phases(waiting)
    assert phases.pop(app[0]) == "NOT_STARTED"
    assert set(phases.values()) == {"READY"}

    accepted = aws(
        "failback",
        "acknowledge-ip",
        execution_id,
        app[0],
        "--by",
        "ops lead",
        "--reason",
        "the stray standby is fine",
        "--output",
        "json",
    )
    assert accepted.status == 0, accepted
    record = next(s for s in accepted.json()["servers"] if s["sourceServerId"] == app[0])
    assert record["ipAcknowledgement"]["acknowledgedBy"] == "ops lead"
    ready = aws("failback", "run", execution_id, "--output", "json")
    assert set(_phases(ready).values()) == {"READY"}


def _standby(name: str) -> str:
    """A stopped instance in the recovery region that DRS may launch into."""
    instance = _ec2(REGION).run_instances(
        ImageId=AMI,
        InstanceType="m5.large",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "Name", "Value": name},
                    {"Key": "AWSDRS", "Value": "AllowLaunchingIntoThisInstance"},
                ],
            }
        ],
    )["Instances"][0]["InstanceId"]
    _ec2(REGION).stop_instances(InstanceIds=[instance])
    return str(instance)
