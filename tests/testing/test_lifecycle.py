"""Jobs move PENDING → STARTED → COMPLETED on the simulated clock, with launches in moto's EC2."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sim_helpers import job_of, log_events, run_drill

from drs_orchestration.testing import DrsSimulator

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient
    from mypy_boto3_ec2 import EC2Client


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_three_server_drill_completes_with_three_running_instances(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    servers = [sim.add_source_server(hostname=f"app-{n}") for n in range(3)]

    job = run_drill(drs, servers, tags={"execution": "ex-1"})
    assert job["status"] == "PENDING"
    assert job["initiatedBy"] == "START_DRILL"
    assert job["type"] == "LAUNCH"
    assert {p["launchStatus"] for p in job["participatingServers"]} == {"PENDING"}

    sim.advance(10)
    assert job_of(drs, job["jobID"])["status"] == "STARTED"

    sim.advance(900)
    done = job_of(drs, job["jobID"])
    assert done["status"] == "COMPLETED"
    assert "endDateTime" in done
    assert done["tags"] == {"execution": "ex-1"}
    assert [p["launchStatus"] for p in done["participatingServers"]] == ["LAUNCHED"] * 3

    instances = drs.describe_recovery_instances()["items"]
    assert len(instances) == 3
    assert {i["sourceServerID"] for i in instances} == set(servers)
    assert all(i["isDrill"] and i["ec2InstanceState"] == "RUNNING" for i in instances)
    ids = [i["ec2InstanceID"] for i in instances]
    reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
    assert states == ["running"] * 3


def test_job_log_has_every_phase_in_order_with_realistic_spacing(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server = sim.add_source_server(hostname="db-1")
    job = run_drill(drs, [server])
    sim.advance_until_idle()

    items = log_events(drs, job["jobID"])
    events = [i["event"] for i in items]
    assert events == [
        "JOB_START",
        "SNAPSHOT_START",
        "SNAPSHOT_END",
        "CONVERSION_START",
        "CONVERSION_END",
        "LAUNCH_START",
        "JOB_END",
    ]
    times = {i["event"]: _ts(i["logDateTime"]) for i in items}
    assert times == dict(sorted(times.items(), key=lambda kv: kv[1]))
    assert 20 <= (times["SNAPSHOT_END"] - times["SNAPSHOT_START"]).total_seconds() <= 40
    assert 100 <= (times["CONVERSION_END"] - times["CONVERSION_START"]).total_seconds() <= 260
    conversion = next(i for i in items if i["event"] == "CONVERSION_START")["eventData"]
    assert conversion["sourceServerID"] == server
    assert conversion["conversionServerID"].startswith("i-")
    launch = next(i for i in items if i["event"] == "LAUNCH_START")["eventData"]
    recovery = drs.describe_recovery_instances()["items"][0]
    assert launch["targetInstanceID"] == recovery["ec2InstanceID"]


def test_forced_failure_completes_the_job_with_one_failed_server(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    ok, bad, also_ok = (sim.add_source_server(hostname=f"s{n}") for n in range(3))
    sim.faults.fail_launch(bad, reason="InsufficientInstanceCapacity")

    job = run_drill(drs, [ok, bad, also_ok])
    sim.advance_until_idle()

    done = job_of(drs, job["jobID"])
    assert done["status"] == "COMPLETED"
    statuses = {p["sourceServerID"]: p["launchStatus"] for p in done["participatingServers"]}
    assert statuses == {ok: "LAUNCHED", bad: "FAILED", also_ok: "LAUNCHED"}
    failed = [i for i in log_events(drs, job["jobID"]) if i["event"] == "LAUNCH_FAILED"]
    assert len(failed) == 1
    assert failed[0]["eventData"] == {
        "sourceServerID": bad,
        "rawError": "InsufficientInstanceCapacity",
    }
    assert {i["sourceServerID"] for i in drs.describe_recovery_instances()["items"]} == {
        ok,
        also_ok,
    }
    server = drs.describe_source_servers(filters={"sourceServerIDs": [bad]})["items"][0]
    assert server["lastLaunchResult"] == "FAILED"
    assert server["lifeCycle"]["lastLaunch"]["status"] == "FAILED"


def test_relaunch_replaces_the_previous_recovery_instance(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    server = sim.add_source_server(hostname="web")
    run_drill(drs, [server])
    sim.advance_until_idle()
    first = drs.describe_recovery_instances()["items"][0]

    run_drill(drs, [server], is_drill=False)
    sim.advance_until_idle()

    instances = drs.describe_recovery_instances()["items"]
    assert len(instances) == 1
    second = instances[0]
    assert second["recoveryInstanceID"] != first["recoveryInstanceID"]
    assert second["isDrill"] is False
    old = ec2.describe_instances(InstanceIds=[first["ec2InstanceID"]])["Reservations"]
    assert old[0]["Instances"][0]["State"]["Name"] == "terminated"
    described = drs.describe_source_servers()["items"][0]
    assert described["recoveryInstanceId"] == second["recoveryInstanceID"]
    assert described["lifeCycle"]["lastLaunch"]["initiated"]["type"] == "RECOVERY"
    assert described["lastLaunchResult"] == "SUCCEEDED"


def test_terminate_recovery_instances_runs_a_terminate_job(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    servers = [sim.add_source_server(hostname=f"t{n}") for n in range(2)]
    run_drill(drs, servers)
    sim.advance_until_idle()
    instances = drs.describe_recovery_instances()["items"]

    job = drs.terminate_recovery_instances(
        recoveryInstanceIDs=[i["recoveryInstanceID"] for i in instances]
    )["job"]
    assert job["type"] == "TERMINATE"
    assert job["initiatedBy"] == "TERMINATE_RECOVERY_INSTANCES"
    sim.advance_until_idle()

    done = job_of(drs, job["jobID"])
    assert done["status"] == "COMPLETED"
    assert {p["launchStatus"] for p in done["participatingServers"]} == {"TERMINATED"}
    assert drs.describe_recovery_instances()["items"] == []
    events = [i["event"] for i in log_events(drs, job["jobID"])]
    assert events.count("CLEANUP_START") == 2
    assert events.count("CLEANUP_END") == 2
    reservations = ec2.describe_instances(InstanceIds=[i["ec2InstanceID"] for i in instances])[
        "Reservations"
    ]
    assert {i["State"]["Name"] for r in reservations for i in r["Instances"]} == {"terminated"}
    assert "recoveryInstanceId" not in drs.describe_source_servers()["items"][0]


def test_recovery_mode_fast_skips_conversion(sim: DrsSimulator, drs: DrsClient) -> None:
    server = sim.add_source_server(hostname="fast")
    drs.update_launch_configuration(sourceServerID=server, recoveryMode="FAST")
    job = run_drill(drs, [server])
    sim.advance_until_idle()
    events = [i["event"] for i in log_events(drs, job["jobID"])]
    assert "CONVERSION_START" not in events
    assert events[-2:] == ["LAUNCH_START", "JOB_END"]


def test_launch_disposition_stopped_leaves_the_instance_stopped(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server = sim.add_source_server(hostname="cold")
    drs.update_launch_configuration(sourceServerID=server, launchDisposition="STOPPED")
    run_drill(drs, [server])
    sim.advance_until_idle()
    assert drs.describe_recovery_instances()["items"][0]["ec2InstanceState"] == "STOPPED"


def test_recovery_instance_is_pending_while_launching(sim: DrsSimulator, drs: DrsClient) -> None:
    server = sim.add_source_server(hostname="slow")
    job = run_drill(drs, [server])
    launch_start = None
    while launch_start is None:
        sim.advance(5)
        events = log_events(drs, job["jobID"])
        launch_start = next((e for e in events if e["event"] == "LAUNCH_START"), None)
    instance = drs.describe_recovery_instances()["items"][0]
    assert instance["ec2InstanceState"] == "PENDING"
    running = job_of(drs, job["jobID"])
    assert running["participatingServers"][0]["launchStatus"] == "IN_PROGRESS"
    assert (
        running["participatingServers"][0]["recoveryInstanceID"] == instance["recoveryInstanceID"]
    )


def test_timing_variation_is_reproducible_with_a_seed() -> None:
    from moto import mock_aws
    from sim_helpers import START

    from drs_orchestration.testing import SimulatedClientFactory, mock_drs

    def end_time() -> str:
        with mock_aws(), mock_drs(start=START, seed=42) as simulator:
            drs = SimulatedClientFactory(simulator).client("drs", "us-east-1")
            server = simulator.add_source_server(hostname="seeded")
            job = run_drill(drs, [server])
            simulator.advance_until_idle()
            return str(job_of(drs, job["jobID"])["endDateTime"])

    assert end_time() == end_time()
