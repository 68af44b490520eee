"""What the simulator answers round-trips through the library's own models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sim_helpers import REGION, log_events, run_drill

from drs_orchestration.models import (
    JobRecord,
    JobStatus,
    LaunchSettings,
    PhaseTimes,
    RecoveryInstanceRecord,
    ServerLaunchStatus,
    ServerOutcome,
)
from drs_orchestration.testing import DrsSimulator

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient
    from mypy_boto3_ec2 import EC2Client


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_launch_configuration_round_trips_through_launch_settings(
    sim: DrsSimulator, drs: DrsClient
) -> None:
    server = sim.add_source_server(hostname="web")
    drs.update_launch_configuration(
        sourceServerID=server,
        copyPrivateIp=True,
        targetInstanceTypeRightSizingMethod="NONE",
        licensing={"osByol": True},
    )
    config = dict(drs.get_launch_configuration(sourceServerID=server))
    config.pop("ResponseMetadata")
    wire = {k: v for k, v in config.items() if k not in ("sourceServerID", "ec2LaunchTemplateID")}
    settings = LaunchSettings.parse(wire)
    assert settings.drs_fields() == wire


def test_jobs_logs_and_instances_round_trip_through_execution_models(
    sim: DrsSimulator, drs: DrsClient, ec2: EC2Client
) -> None:
    servers = [sim.add_source_server(hostname=f"app-{n}") for n in range(2)]
    job = run_drill(drs, servers)
    sim.advance_until_idle()
    described = drs.describe_jobs(filters={"jobIDs": [job["jobID"]]})["items"][0]

    record = JobRecord(
        chunk_index=0,
        idempotency_key="ex-1/wave-1/0",
        server_ids=[p["sourceServerID"] for p in described["participatingServers"]],
        region=REGION,
        job_id=described["jobID"],
        status=JobStatus(described["status"]),
        started_at=_ts(described["creationDateTime"]),
        ended_at=_ts(described["endDateTime"]),
    )
    assert JobRecord.parse(record.to_wire()) == record

    events = log_events(drs, job["jobID"])
    instances = {i["sourceServerID"]: i for i in drs.describe_recovery_instances()["items"]}
    for participant in described["participatingServers"]:
        server_id = participant["sourceServerID"]
        mine = [e for e in events if e.get("eventData", {}).get("sourceServerID") == server_id]
        phases = PhaseTimes.parse(
            {e["event"].lower(): _ts(e["logDateTime"]) for e in mine}
            | {
                "job_start": _ts(events[0]["logDateTime"]),
                "job_end": _ts(events[-1]["logDateTime"]),
            }
        )
        outcome = ServerOutcome(
            source_server_id=server_id,
            status=ServerLaunchStatus(participant["launchStatus"]),
            job_id=described["jobID"],
            recovery_instance_id=participant["recoveryInstanceID"],
            ec2_instance_id=instances[server_id]["ec2InstanceID"],
            phases=phases,
        )
        assert ServerOutcome.parse(outcome.to_wire()) == outcome
        assert outcome.phases.conversion_end is not None

    for item in instances.values():
        reservation = ec2.describe_instances(InstanceIds=[item["ec2InstanceID"]])
        instance = reservation["Reservations"][0]["Instances"][0]
        cached = RecoveryInstanceRecord(
            source_server_id=item["sourceServerID"],
            recovery_instance_id=item["recoveryInstanceID"],
            ec2_instance_id=item["ec2InstanceID"],
            region=REGION,
            is_drill=item["isDrill"],
            job_id=item["jobID"],
            ec2_instance_state=item["ec2InstanceState"],
            instance_type=instance["InstanceType"],
            private_ip=instance["PrivateIpAddress"],
            subnet_id=instance["SubnetId"],
            launch_time=instance["LaunchTime"],
            name_tag={t["Key"]: t["Value"] for t in instance["Tags"]}["Name"],
            source_hostname=item["recoveryInstanceProperties"]["identificationHints"]["hostname"],
            origin_environment=item["originEnvironment"],
        )
        assert RecoveryInstanceRecord.parse(cached.to_wire()) == cached
