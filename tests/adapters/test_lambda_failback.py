"""Failing back through the adapter: a recovery, replication back, the launch home, after-care.

The world is the failback tests' own (``tests/failback/conftest.py``): EC2
instances in the origin region replicating into the recovery region, moto
serving EC2 and the simulator DRS; only the orchestrator is the adapter's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from drs_orchestration import MemoryStorage
from drs_orchestration.adapters.aws_lambda import LambdaAdapter
from drs_orchestration.services.failback.context import FailbackContext
from drs_orchestration.testing import SimulatedClientFactory, mock_drs
from tests.failback.conftest import FAST, ORIGIN, RECOVERY, World

from .conftest import invoke, make_adapter
from .events import USER_ARN

Answer = dict[str, Any]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, LambdaAdapter]]:
    # moto's catalogue images carry what the matcher checks before launching into originals.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    with mock_aws(), mock_drs(timings=FAST) as sim:
        storage = MemoryStorage()
        adapter = make_adapter(sim, storage)
        yield World(sim, SimulatedClientFactory(sim), storage, adapter.orchestrator), adapter


def step_failback(world: World, adapter: LambdaAdapter, transport: str, eid: str) -> Answer:
    """Step until no work is left (``pending`` false), waiting a poll interval when told to."""
    for _ in range(300):
        status, step = invoke(adapter, transport, "step_failback", executionId=eid)
        assert status == 200, step
        assert set(step) == {"executionId", "phase", "servers", "errors", "progressed", "pending"}
        if not step["pending"]:
            return dict(step)
        if not step["progressed"]:
            world.sim.advance(30)
    raise AssertionError("the failback kept having work to do")


def recover_through_the_api(
    world: World, adapter: LambdaAdapter, transport: str, tiers: dict[str, list[str]]
) -> str:
    """Groups and a plan (a wave per tier), the origin lost, a RECOVERY run to its end."""
    waves = []
    for tier, servers in tiers.items():
        status, group = invoke(
            adapter, transport, "create_protection_group",
            name=tier, region=RECOVERY, serverIds=servers,
        )  # fmt: skip
        assert status == 201, group
        waves.append({"name": tier, "protectionGroupIds": [group["groupId"]]})
    status, plan = invoke(adapter, transport, "create_recovery_plan", name="shop", waves=waves)
    assert status == 201, plan
    everything = [sid for servers in tiers.values() for sid in servers]
    world.sim.outage(server_ids=everything)
    for sid in everything:
        world.ec2(ORIGIN).stop_instances(InstanceIds=[world.originals[sid]])
    status, started = invoke(
        adapter, transport, "start_execution", planId=plan["planId"], executionType="RECOVERY"
    )
    assert status == 201, started
    for _ in range(200):
        status, step = invoke(
            adapter, transport, "step_execution", executionId=started["executionId"]
        )
        if step["finished"]:
            break
        if not step["progressed"]:
            world.sim.advance(30)
    assert (step["executionType"], step["status"]) == ("RECOVERY", "COMPLETED")
    return str(started["executionId"])


def test_an_in_aws_failback_runs_end_to_end_through_the_api(
    world: tuple[World, LambdaAdapter],
) -> None:
    w, adapter = world
    api = "rest-v1"
    db, app = w.servers(1, tier="database"), w.servers(1, tier="app")
    everything = db + app
    eid = recover_through_the_api(w, adapter, api, {"database": db, "app": app})

    status, body = invoke(adapter, api, "get_failback", executionId=eid)
    assert (status, body["error"]) == (404, "NotFound")

    status, started = invoke(adapter, api, "start_failback", executionId=eid)
    assert status == 200, started
    assert started == {
        "executionId": eid,
        "phase": "NOT_STARTED",
        "servers": dict.fromkeys(everything, "NOT_STARTED"),
        "errors": {},
    }
    claim = w.storage.claims.find(FailbackContext.claim_key(eid))
    assert claim is not None
    assert claim.details["startedBy"] == USER_ARN  # the caller, as for start_execution
    assert w.sim.calls.count("ReverseReplication") == 0  # starting records, DRS is untouched

    ready = step_failback(w, adapter, api, eid)
    assert (ready["phase"], ready["servers"]) == ("READY", dict.fromkeys(everything, "READY"))
    assert w.sim.calls.count("ReverseReplication") == len(everything)

    status, settings = invoke(
        adapter, api, "get_failback_replication_configuration",
        executionId=eid, sourceServerId=db[0],
    )  # fmt: skip
    assert status == 200, settings
    assert settings["sourceServerId"] == db[0]
    assert settings["recoveryInstanceId"].startswith("i-")
    assert (settings["bandwidthThrottling"], settings["usePrivateIp"]) == (0, False)
    status, changed = invoke(
        adapter, api, "configure_failback_replication",
        executionId=eid, servers=db, bandwidthThrottling=100, usePrivateIp=True,
    )  # fmt: skip
    assert (status, changed) == (
        200,
        {"executionId": eid, "settings": {"bandwidthThrottling": 100, "usePrivateIp": True}},
    )
    _, settings = invoke(
        adapter, api, "get_failback_replication_configuration",
        executionId=eid, sourceServerId=db[0],
    )  # fmt: skip
    assert (settings["bandwidthThrottling"], settings["usePrivateIp"]) == (100, True)
    _, untouched = invoke(
        adapter, api, "get_failback_replication_configuration",
        executionId=eid, sourceServerId=app[0],
    )  # fmt: skip
    assert untouched["bandwidthThrottling"] == 0

    status, launching = invoke(adapter, api, "launch_failback", executionId=eid, intoOriginal=True)
    assert (status, launching["phase"]) == (200, "LAUNCHING")
    done = step_failback(w, adapter, api, eid)
    assert (done["phase"], done["servers"], done["errors"]) == (
        "COMPLETED",
        dict.fromkeys(everything, "COMPLETED"),
        {},
    )

    status, failback = invoke(adapter, api, "get_failback", executionId=eid)
    assert (status, failback["phase"]) == (200, "COMPLETED")
    for state in failback["servers"]:
        original = w.originals[state["sourceServerId"]]
        assert state["failbackEc2InstanceId"] == original  # back into the original instance
        assert state["launchedIntoOriginal"] is True
        assert state["launch"]["intoOriginal"] is True
        assert w.ec2_instance(original, ORIGIN)["State"]["Name"] == "running"
    launched = {s["sourceServerId"]: s["launch"]["executionId"] for s in failback["servers"]}
    status, back = invoke(adapter, api, "get_execution", executionId=launched[db[0]])
    assert (status, back["executionType"], back["status"]) == (200, "RECOVERY", "COMPLETED")
    assert [wave["waveName"] for wave in back["waves"]] == ["database", "app"]

    status, _ = invoke(adapter, api, "reprotect", executionId=eid)
    assert status == 200
    step_failback(w, adapter, api, eid)
    status, _ = invoke(adapter, api, "cleanup_failback", executionId=eid, terminate=True)
    assert status == 200
    step_failback(w, adapter, api, eid)
    _, failback = invoke(adapter, api, "get_failback", executionId=eid)
    for state in failback["servers"]:
        assert state["reprotect"]["doneAt"]
        assert state["stopReplication"]["doneAt"]
        assert state["terminate"]["doneAt"]
        assert w.ec2_instance(state["ec2InstanceId"])["State"]["Name"] == "terminated"
        replication = w.source_server(state["sourceServerId"])["dataReplicationInfo"]
        assert replication["dataReplicationState"] == "CONTINUOUS"  # re-protected


def test_failback_requests_are_refused_naming_the_field(
    world: tuple[World, LambdaAdapter],
) -> None:
    w, adapter = world
    servers = w.servers(1)
    [sid] = servers
    eid = w.fail_over({"app": servers}, drill=True).execution_id
    direct = "direct"

    for operation in ("get_failback", "step_failback", "launch_failback", "reprotect"):
        status, body = invoke(adapter, direct, operation, executionId=eid)
        assert (status, body["error"]) == (404, "NotFound"), operation
        assert body["details"]["key"] == eid

    status, body = invoke(adapter, direct, "start_failback", executionId=eid)
    assert (status, body["error"]) == (400, "Validation")
    [problem] = body["details"]["problems"]
    assert (problem["field"], problem["value"]) == ("drillOk", False)  # as the caller names it
    assert "is a drill" in problem["message"]

    status, body = invoke(
        adapter, direct, "start_failback", executionId=eid, drillOk=True,
        servers=["s-0000000000000000a"],
    )  # fmt: skip
    assert (status, body["details"]["problems"][0]["field"]) == (400, "servers.0")
    status, body = invoke(
        adapter, direct, "start_failback", executionId=eid, drillOk=True, intoOriginal=True
    )
    assert (status, body["details"]["problems"][0]["field"]) == (400, "intoOriginal")

    status, started = invoke(adapter, direct, "start_failback", executionId=eid, drillOk=True)
    assert (status, started["phase"]) == (200, "NOT_STARTED")

    status, body = invoke(adapter, direct, "launch_failback", executionId=eid, servers=[sid])
    assert (status, body["details"]["problems"][0]["field"]) == (400, "servers.0")
    assert "not READY" in body["details"]["problems"][0]["message"]
    status, body = invoke(adapter, direct, "cleanup_failback", executionId=eid)
    assert (status, body["details"]["problems"][0]["field"]) == (400, "servers.0")
    assert "not been launched back" in body["details"]["problems"][0]["message"]

    status, body = invoke(
        adapter, direct, "acknowledge_ip_mismatch", executionId=eid, sourceServerId=sid
    )
    assert (status, body["details"]["problems"][0]["field"]) == (400, "acknowledgedBy")
    # Over HTTP the caller acknowledges; this server kept its identity, so there is nothing to.
    status, body = invoke(
        adapter, "http-v2", "acknowledge_ip_mismatch", executionId=eid, sourceServerId=sid
    )
    assert (status, body["details"]["problems"][0]["field"]) == (400, "sourceServerId")
    status, body = invoke(
        adapter, "http-v2", "acknowledge_ip_mismatch",
        executionId=eid, sourceServerId="s-0000000000000000a",
    )  # fmt: skip
    assert (status, body["error"]) == (404, "NotFound")

    status, body = invoke(
        adapter, direct, "get_failback_replication_configuration",
        executionId=eid, sourceServerId="s-0000000000000000a",
    )  # fmt: skip
    assert (status, body["error"], body["details"]["key"]) == (
        404,
        "NotFound",
        "s-0000000000000000a",
    )
    status, body = invoke(adapter, direct, "configure_failback_replication", executionId=eid)
    assert (status, body["details"]["problems"][0]["field"]) == (400, "settings")
    status, body = invoke(
        adapter, direct, "configure_failback_replication", executionId=eid,
        internetProtocol="IPV5",
    )  # fmt: skip
    assert (status, body["details"]["problems"][0]["field"]) == (400, "internetProtocol")

    status, stopped = invoke(
        adapter, direct, "stop_failback", executionId=eid, reason="wrong window"
    )
    assert status == 200, stopped
    assert (stopped["phase"], stopped["servers"], stopped["errors"]) == (
        "FAILED",
        {sid: "FAILED"},
        {sid: "FailbackStopped"},
    )
    status, body = invoke(adapter, direct, "stop_failback", executionId=eid)
    assert (status, body["details"]["problems"][0]["field"]) == (400, "servers.0")
    _, failback = invoke(adapter, direct, "get_failback", executionId=eid)
    assert "wrong window" in failback["servers"][0]["error"]["message"]
    assert w.sim.calls.count("StopFailback") == 0  # nothing was replicating back yet
