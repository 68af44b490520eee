"""Tags by ARN, point-in-time snapshots, extended servers and staging accounts, the call log."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sim_helpers import START, log_events, run_drill

from drs_orchestration.testing import DrsSimulator

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient


def test_tags_on_jobs_servers_and_recovery_instances(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="web", tags={"app": "shop"})
    job = run_drill(bare_drs, [server], tags={"execution": "ex-1", "wave": "1"})
    bare_sim.advance_until_idle()
    instance = bare_drs.describe_recovery_instances()["items"][0]
    server_arn = bare_drs.describe_source_servers()["items"][0]["arn"]

    assert bare_drs.list_tags_for_resource(resourceArn=job["arn"])["tags"] == {
        "execution": "ex-1",
        "wave": "1",
    }
    bare_drs.tag_resource(resourceArn=job["arn"], tags={"wave": "2", "owner": "dr"})
    bare_drs.untag_resource(resourceArn=job["arn"], tagKeys=["execution"])
    assert bare_drs.describe_jobs()["items"][0]["tags"] == {"wave": "2", "owner": "dr"}

    bare_drs.tag_resource(resourceArn=instance["arn"], tags={"execution": "ex-1"})
    assert bare_drs.describe_recovery_instances()["items"][0]["tags"] == {"execution": "ex-1"}
    assert bare_drs.list_tags_for_resource(resourceArn=server_arn)["tags"] == {"app": "shop"}

    with pytest.raises(bare_drs.exceptions.ResourceNotFoundException):
        bare_drs.list_tags_for_resource(
            resourceArn="arn:aws:drs:us-east-1:123456789012:job/drsjob-00000000000000000"
        )
    with pytest.raises(bare_drs.exceptions.ResourceNotFoundException):
        bare_drs.list_tags_for_resource(resourceArn=server_arn.replace("us-east-1", "eu-west-1"))


def test_point_in_time_snapshots_follow_the_retention_policy(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db")
    items = bare_drs.get_paginator("describe_recovery_snapshots").paginate(sourceServerID=server)
    snapshots = [s for page in items for s in page["items"]]
    # Every 10 minutes in the last hour, hourly for a day, daily for a week.
    assert 30 <= len(snapshots) <= 36
    times = [s["timestamp"] for s in snapshots]
    assert times == sorted(times)
    again = bare_drs.describe_recovery_snapshots(sourceServerID=server, order="DESC")["items"]
    assert [s["snapshotID"] for s in again] == [s["snapshotID"] for s in reversed(snapshots)]
    assert all(len(s["ebsSnapshots"]) == 1 for s in snapshots)

    cutoff = (START - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = bare_drs.describe_recovery_snapshots(
        sourceServerID=server, filters={"fromDateTime": cutoff}
    )["items"]
    assert 6 <= len(recent) <= 9


def test_a_server_still_syncing_has_no_snapshots_yet(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="new", replication_state="INITIAL_SYNC")
    assert bare_drs.describe_recovery_snapshots(sourceServerID=server)["items"] == []
    bare_sim.advance(bare_sim.timings.replication_catch_up + 600)
    assert bare_drs.describe_recovery_snapshots(sourceServerID=server)["items"]


def test_recovering_from_a_snapshot_uses_it(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    server = bare_sim.add_source_server(hostname="db")
    seeded = bare_sim.add_recovery_snapshot(server, START - timedelta(minutes=3))
    listed = bare_drs.describe_recovery_snapshots(sourceServerID=server, order="DESC")["items"]
    assert listed[0]["snapshotID"] == seeded

    job = bare_drs.start_recovery(
        sourceServers=[{"sourceServerID": server, "recoverySnapshotID": seeded}], isDrill=True
    )["job"]
    bare_sim.advance_until_idle()
    events = [e["event"] for e in log_events(bare_drs, job["jobID"])]
    assert "USING_PREVIOUS_SNAPSHOT" in events
    assert "SNAPSHOT_START" not in events
    instance = bare_drs.describe_recovery_instances()["items"][0]
    assert instance["pointInTimeSnapshotDateTime"] == listed[0]["timestamp"]

    with pytest.raises(
        bare_drs.exceptions.ValidationException, match="Recovery snapshot not found"
    ):
        bare_drs.start_recovery(
            sourceServers=[
                {"sourceServerID": server, "recoverySnapshotID": "pit-00000000000000000"}
            ]
        )


def test_extended_servers_and_staging_accounts(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    local = bare_sim.add_source_server(hostname="local")
    extended = bare_sim.add_source_server(hostname="ext", staging_account_id="210987654321")
    bare_sim.add_source_server(hostname="ext2", staging_account_id="210987654321")
    bare_sim.add_source_server(hostname="ext3", staging_account_id="310987654321")

    accounts = bare_drs.list_staging_accounts()["accounts"]
    assert accounts == [{"accountID": "210987654321"}, {"accountID": "310987654321"}]
    by_id = {s["sourceServerID"]: s for s in bare_drs.describe_source_servers()["items"]}
    assert by_id[local]["stagingArea"] == {
        "status": "NOT_EXTENDED",
        "stagingAccountID": "123456789012",
    }
    assert by_id[extended]["stagingArea"]["status"] == "EXTENDED"
    assert (
        ":210987654321:source-server/" in by_id[extended]["stagingArea"]["stagingSourceServerArn"]
    )
    filtered = bare_drs.describe_source_servers(filters={"stagingAccountIDs": ["310987654321"]})
    assert [
        s["sourceProperties"]["identificationHints"]["hostname"] for s in filtered["items"]
    ] == ["ext3"]


def test_the_call_log_records_what_was_asked(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    server = bare_sim.add_source_server(hostname="web")
    bare_drs.update_launch_configuration(sourceServerID=server, copyTags=True)
    with pytest.raises(bare_drs.exceptions.ResourceNotFoundException):
        bare_drs.get_launch_configuration(sourceServerID="s-00000000000000000")
    bare_sim.advance(30)
    bare_drs.describe_jobs()

    assert len(bare_sim.calls) == 3
    update = bare_sim.calls.of("UpdateLaunchConfiguration")[0]
    assert update.params == {"sourceServerID": server, "copyTags": True}
    assert (update.region, update.account_id, update.at) == ("us-east-1", "123456789012", START)
    assert update.succeeded
    failed = bare_sim.calls.errors()
    assert [(c.operation, c.error_code, c.injected) for c in failed] == [
        ("GetLaunchConfiguration", "ResourceNotFoundException", False)
    ]
    assert bare_sim.calls[-1].at == START + timedelta(seconds=30)
    assert bare_sim.calls.operations()["DescribeJobs"] == 1
    assert bare_sim.calls.count(succeeded=False) == 1
    bare_sim.calls.clear()
    assert bare_sim.calls.count() == 0
