"""What DRS launches from, in a drill and in a real disaster: snapshots, outages, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import REGION, START, log_events, run_drill

from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from drs_orchestration.testing.service import parse_datetime

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient

STATES = [
    "CONTINUOUS",
    "INITIATING",
    "INITIAL_SYNC",
    "BACKLOG",
    "CREATING_SNAPSHOT",
    "RESCAN",
    "PAUSED",
    "STALLED",
    "STOPPED",
    "DISCONNECTED",
]


def snapshots_of(drs: DrsClient, server_id: str) -> list[dict[str, Any]]:
    pages = drs.get_paginator("describe_recovery_snapshots").paginate(sourceServerID=server_id)
    return [s for page in pages for s in page["items"]]


def server_item(drs: DrsClient, server_id: str) -> dict[str, Any]:
    items = drs.describe_source_servers(filters={"sourceServerIDs": [server_id]})["items"]
    return dict(items[0])


def instance_of(drs: DrsClient, server_id: str) -> dict[str, Any]:
    items = drs.describe_recovery_instances(filters={"sourceServerIDs": [server_id]})["items"]
    assert len(items) == 1
    return dict(items[0])


def events_of(drs: DrsClient, job_id: str, server_id: str) -> list[str]:
    return [
        e["event"]
        for e in log_events(drs, job_id)
        if e.get("eventData", {}).get("sourceServerID") == server_id
    ]


@pytest.mark.parametrize("is_drill", [True, False])
def test_after_an_outage_stalled_servers_launch_from_their_latest_snapshot(
    sim: DrsSimulator, drs: DrsClient, is_drill: bool
) -> None:
    servers = [sim.add_source_server(hostname=f"app-{n}") for n in range(3)]
    sim.advance(25 * 60)
    before = {s: snapshots_of(drs, s)[-1] for s in servers}
    assert sim.outage(region=REGION) == servers
    sim.advance(3 * 3600)  # hours into the disaster: no snapshot since the outage

    for server in servers:
        assert snapshots_of(drs, server)[-1] == before[server]
    job = run_drill(drs, servers, is_drill=is_drill)
    sim.advance_until_idle()

    for server in servers:
        events = events_of(drs, job["jobID"], server)
        assert "USING_PREVIOUS_SNAPSHOT" in events
        assert "SNAPSHOT_START" not in events
        assert "SNAPSHOT_END" not in events
        instance = instance_of(drs, server)
        assert instance["isDrill"] is is_drill
        assert instance["jobID"] == job["jobID"]
        assert instance["pointInTimeSnapshotDateTime"] == before[server]["timestamp"]
        assert parse_datetime(instance["pointInTimeSnapshotDateTime"]) < START + timedelta(
            minutes=25
        )
    statuses = {p["launchStatus"] for p in drs.describe_jobs()["items"][0]["participatingServers"]}
    assert statuses == {"LAUNCHED"}


def test_an_outage_stalls_replication_the_way_a_lost_site_does(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db", lag="PT30S")
    bare_sim.advance(60)
    outage_at = bare_sim.now()
    assert bare_sim.outage(server_ids=[server]) == [server]
    bare_sim.advance(600)

    item = server_item(bare_drs, server)
    info = item["dataReplicationInfo"]
    assert info["dataReplicationState"] == "STALLED"
    assert info["dataReplicationError"] == {"error": "AGENT_NOT_SEEN"}
    assert info["lagDuration"] == "PT10M30S"  # the lag it had, growing from the outage
    assert parse_datetime(item["lifeCycle"]["lastSeenByServiceDateTime"]) == outage_at
    latest = parse_datetime(snapshots_of(bare_drs, server)[-1]["timestamp"])
    assert latest <= outage_at
    bare_sim.advance(3600)
    assert parse_datetime(snapshots_of(bare_drs, server)[-1]["timestamp"]) == latest


def test_an_outage_hits_only_the_servers_it_names(bare_sim: DrsSimulator) -> None:
    east = bare_sim.add_source_server(region="us-east-1", hostname="east")
    west = bare_sim.add_source_server(region="us-west-2", hostname="west")
    other = bare_sim.add_source_server(region="us-east-1", hostname="o", account_id="210987654321")
    gone = bare_sim.add_source_server(region="us-east-1", hostname="gone")
    bare_sim.set_replication_state(gone, "STOPPED")

    assert bare_sim.outage(region="us-east-1", account_id="123456789012") == [east]
    assert bare_sim.find_server(west).replication.state == "CONTINUOUS"
    assert bare_sim.find_server(other).replication.state == "CONTINUOUS"
    assert bare_sim.find_server(gone).replication.state == "STOPPED"
    assert bare_sim.outage(region="us-east-1") == [other]  # east is already stalled
    assert bare_sim.outage(server_ids=[west], error="UNSTABLE_NETWORK") == [west]
    assert bare_sim.find_server(west).replication.error == "UNSTABLE_NETWORK"
    with pytest.raises(KeyError, match="s-00000000000000000"):
        bare_sim.outage(server_ids=["s-00000000000000000"])
    with pytest.raises(ValueError, match="DataReplicationErrorString"):
        bare_sim.outage(error="SITE_ON_FIRE")


def test_a_server_still_in_initial_sync_launches_once_it_has_a_snapshot(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(
        hostname="new", replication_state="INITIAL_SYNC", stuck=True
    )
    with pytest.raises(bare_drs.exceptions.ConflictException, match="INITIAL_SYNC"):
        run_drill(bare_drs, [server], is_drill=False)
    seeded = bare_sim.add_recovery_snapshot(server, START - timedelta(minutes=5))
    assert [s["snapshotID"] for s in snapshots_of(bare_drs, server)] == [seeded]
    job = run_drill(bare_drs, [server], is_drill=False)
    bare_sim.advance_until_idle()
    assert "USING_PREVIOUS_SNAPSHOT" in events_of(bare_drs, job["jobID"], server)
    assert parse_datetime(instance_of(bare_drs, server)["pointInTimeSnapshotDateTime"]) == (
        START - timedelta(minutes=5)
    )


@pytest.mark.parametrize("state", ["STOPPED", "DISCONNECTED"])
def test_stopped_and_disconnected_servers_lose_their_snapshots(
    bare_sim: DrsSimulator, bare_drs: DrsClient, state: str
) -> None:
    server = bare_sim.add_source_server(hostname="db")
    snapshot_id = snapshots_of(bare_drs, server)[-1]["snapshotID"]
    bare_sim.set_replication_state(server, state)
    assert snapshots_of(bare_drs, server) == []
    for entry in (
        {"sourceServerID": server},
        {"sourceServerID": server, "recoverySnapshotID": snapshot_id},
    ):
        with pytest.raises(bare_drs.exceptions.ConflictException, match=state):
            bare_drs.start_recovery(sourceServers=[entry], isDrill=False)
    bare_sim.set_replication_state(server, "CONTINUOUS")
    bare_sim.advance(1200)
    assert snapshot_id not in {s["snapshotID"] for s in snapshots_of(bare_drs, server)}


def test_a_continuous_server_takes_an_on_demand_snapshot(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db")
    job = run_drill(bare_drs, [server])
    bare_sim.advance_until_idle()
    log = [e for e in log_events(bare_drs, job["jobID"]) if e["event"] == "SNAPSHOT_END"]
    assert "USING_PREVIOUS_SNAPSHOT" not in events_of(bare_drs, job["jobID"], server)
    instance = instance_of(bare_drs, server)
    assert instance["pointInTimeSnapshotDateTime"] == log[0]["logDateTime"]
    assert instance["isDrill"] is True


def test_snapshots_resume_when_replication_does(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="db")
    bare_sim.outage(server_ids=[server])
    stalled_latest = snapshots_of(bare_drs, server)[-1]["timestamp"]
    bare_sim.advance(2 * 3600)
    bare_sim.set_replication_state(server, "CONTINUOUS")
    bare_sim.advance(1800)
    times = [parse_datetime(s["timestamp"]) for s in snapshots_of(bare_drs, server)]
    resumed = START + timedelta(hours=2)
    assert any(t > resumed for t in times)
    assert not any(parse_datetime(stalled_latest) < t < resumed for t in times)


# -- the property: StartRecovery accepts exactly the servers the model says ------------------

SNAPSHOT_SOURCES = ["none", "seeded", "history"]
REPLICATED_BEFORE = {"CONTINUOUS", "BACKLOG", "RESCAN", "CREATING_SNAPSHOT", "PAUSED", "STALLED"}


def has_recovery_point(state: str, source: str) -> bool:
    """The seeding contract: which seeded servers hold a recovery snapshot."""
    if state in ("STOPPED", "DISCONNECTED"):
        return False
    return source == "seeded" or (source == "history" and state in REPLICATED_BEFORE)


def launchable(state: str, has_snapshot: bool) -> bool:
    """DRS's rule, as the simulator documents it."""
    if state in ("STOPPED", "DISCONNECTED"):
        return False
    return state == "CONTINUOUS" or has_snapshot


@pytest.fixture(scope="module")
def shared_drs() -> Iterator[DrsClient]:
    """One client for every example: it talks to whichever simulator is active."""
    with mock_drs(start=START) as sim:
        yield SimulatedClientFactory(sim).client("drs", REGION)


@given(
    servers=st.lists(
        st.tuples(st.sampled_from(STATES), st.sampled_from(SNAPSHOT_SOURCES)),
        min_size=1,
        max_size=6,
    ),
    is_drill=st.booleans(),
)
def test_start_recovery_accepts_exactly_the_servers_the_model_says(
    shared_drs: DrsClient, servers: list[tuple[str, str]], is_drill: bool
) -> None:
    drs = shared_drs
    with mock_drs(start=START) as sim:
        ids = []
        for state, source in servers:
            sid = sim.add_source_server(
                replication_state=state,
                stuck=True,
                replicating_since=START - timedelta(days=2) if source == "history" else START,
                recovery_snapshots=[START - timedelta(minutes=7)] if source == "seeded" else (),
            )
            ids.append(sid)
        accepted: dict[str, str] = {}
        for sid, (state, source) in zip(ids, servers, strict=True):
            expected_snapshot = has_recovery_point(state, source)
            assert bool(snapshots_of(drs, sid)) is expected_snapshot, (state, source)
            refusal = None
            try:
                job = run_drill(drs, [sid], is_drill=is_drill)
            except drs.exceptions.ConflictException as refused:
                refusal = str(refused)
            else:
                accepted[sid] = job["jobID"]
            assert (refusal is None) is launchable(state, expected_snapshot), (state, source)
            assert refusal is None or state in refusal
        sim.advance_until_idle()
        for sid, (state, _) in zip(ids, servers, strict=True):
            if sid not in accepted:
                continue
            events = events_of(drs, accepted[sid], sid)
            assert ("USING_PREVIOUS_SNAPSHOT" in events) is (state != "CONTINUOUS")
            instance = instance_of(drs, sid)
            assert instance["isDrill"] is is_drill
            if state != "CONTINUOUS":
                latest = snapshots_of(drs, sid)[-1]["timestamp"]
                assert instance["pointInTimeSnapshotDateTime"] == latest
