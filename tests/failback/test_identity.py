"""Failover with identity: servers launched into paired instances keep those instances and IPs.

Seed 003's end-to-end scenarios 8.1.1 (discovery → matching → configuration →
recovery → validation), 8.1.3 (failover with IP preservation), 8.1.4
(failback with IP validation and mismatch detection) and 8.1.6 (a drill
into paired instances, identity kept).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from drs_orchestration.errors import ValidationError
from drs_orchestration.models import (
    Execution,
    ExecutionStatus,
    FailbackPhase,
    MatchRules,
    ServerIdentity,
)
from drs_orchestration.services.failback.identity import captured_identity, verified_identity
from tests.failback.conftest import RECOVERY, World
from tests.http_faults import HttpFaults, _RawBody

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _paired_failover(
    world: World,
    count: int,
    *,
    drill: bool = False,
    drift: bool = False,
    before_run: Callable[[], object] | None = None,
) -> tuple[Execution, dict[str, str]]:
    """Servers paired with ``<name>-dr`` standbys in the recovery region, then recovered."""
    servers = world.servers(count)
    standbys = {
        sid: world.instance(f"app-{i}-dr", region=RECOVERY, state="stopped")
        for i, sid in enumerate(servers)
    }
    group = world.orch.groups.create("app", RECOVERY, server_ids=servers)
    report = world.orch.matcher.match(
        group_id=group.group_id, rules=MatchRules(name_suffixes=["-dr"])
    )
    assert {p.source_server_id: p.target_instance_id for p in report.pairs} == standbys
    world.orch.matcher.apply(report)
    if drift:
        # Someone points the first server at another standby behind the library's back:
        # the wave's fast path does not notice, and DRS launches into that one.
        other = world.instance("stray", region=RECOVERY, state="stopped")
        world.drs().update_launch_configuration(
            sourceServerID=servers[0],
            launchIntoInstanceProperties={"launchIntoEC2InstanceID": other},
        )
        standbys = {**standbys, "stray": other}
    plan = world.orch.plans.create(
        "paired", [{"name": "app", "protectionGroupIds": [group.group_id]}]
    )
    if not drill:
        world.sim.outage(server_ids=servers)
    if before_run is not None:
        before_run()
    execution = world.orch.waves.start(plan.plan_id, drill=drill, drill_into_paired_instances=drill)
    done = world.orch.waves.run(execution.execution_id, poll_interval=30)
    assert done.status is ExecutionStatus.COMPLETED, done.error
    return done, standbys


def test_failover_into_paired_instances_keeps_their_ids_and_ips(world: World) -> None:
    execution, standbys = _paired_failover(world, 2)

    for sid, outcome in execution.outcomes().items():
        target = standbys[sid]
        identity = outcome.identity
        assert identity is not None
        assert outcome.ec2_instance_id == target
        assert identity.target_instance_id == target
        assert identity.target_private_ip == world.ip_of(target)
        assert identity.recovery_private_ip == identity.target_private_ip
        assert identity.source_private_ip == world.ip_of(world.originals[sid], "us-west-2")
        assert identity.recovery_ec2_instance_id == target
        assert identity.instance_kept is True
        assert identity.ip_preserved is True
        assert identity.error is None
        assert identity.verified
        assert world.ec2_instance(target)["State"]["Name"] == "running"


def test_a_drill_into_paired_instances_checks_identity_too(world: World) -> None:
    execution, standbys = _paired_failover(world, 1, drill=True)

    (outcome,) = execution.outcomes().values()
    assert execution.is_drill
    assert outcome.identity is not None
    assert outcome.identity.verified
    assert outcome.ec2_instance_id == next(iter(standbys.values()))


def test_a_launch_into_another_instance_is_a_mismatch_that_blocks_failback(world: World) -> None:
    execution, standbys = _paired_failover(world, 2, drift=True)
    first, second = list(execution.outcomes())
    identity = execution.outcomes()[first].identity
    assert identity is not None
    assert identity.instance_kept is False
    assert identity.ip_preserved is False
    assert identity.recovery_ec2_instance_id == standbys["stray"]
    assert identity.error is not None
    assert identity.error.code == "PrivateIPMismatch"
    assert identity.error.details["expectedIp"] == world.ip_of(standbys[first])
    assert identity.error.details["actualIp"] == world.ip_of(standbys["stray"])
    assert "launchIntoInstanceProperties" in identity.error.details["remediation"]
    assert execution.outcomes()[second].identity.verified  # type: ignore[union-attr]

    coordinator = world.orch.failback
    eid = execution.execution_id
    failback = coordinator.start_failback(eid)
    blocked = failback.server(first)
    assert blocked.ip_validated is False
    assert blocked.ip_blocks_failback
    assert blocked.error is not None
    assert blocked.error.code == "PrivateIPMismatch"

    failback = coordinator.run(eid)
    assert failback.server(first).phase is FailbackPhase.NOT_STARTED
    assert failback.server(second).phase is FailbackPhase.READY
    reversed_instances = [
        c.params["recoveryInstanceID"] for c in world.sim.calls.of("ReverseReplication")
    ]
    assert reversed_instances == [failback.server(second).recovery_instance_id]

    with pytest.raises(ValidationError, match="no mismatch to acknowledge"):
        coordinator.acknowledge_ip_mismatch(eid, second, acknowledged_by="ops")
    acknowledged = coordinator.acknowledge_ip_mismatch(
        eid, first, acknowledged_by="ops@example.com", reason="clients use DNS"
    )
    assert acknowledged.ip_acknowledgement is not None
    assert acknowledged.ip_acknowledgement.acknowledged_by == "ops@example.com"
    assert not acknowledged.ip_blocks_failback
    assert acknowledged.error is None

    failback = coordinator.run(eid)
    assert failback.phase is FailbackPhase.READY


def _ec2_error(code: str, status: int) -> AWSResponse:
    body = (
        f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message></Error>"
        "</Errors><RequestID>injected</RequestID></Response>"
    ).encode()
    return AWSResponse("https://injected", status, {}, _RawBody(body))


def test_an_unreadable_target_leaves_the_identity_unverified_and_the_wave_launching(
    world: World,
) -> None:
    faults: list[HttpFaults] = []

    def deny_ec2_reads() -> None:
        events = world.ec2(RECOVERY).meta.events
        faults.append(
            HttpFaults(events, "ec2", "DescribeInstances").then(
                _ec2_error("UnauthorizedOperation", 403)
            )
        )

    execution, _ = _paired_failover(world, 1, before_run=deny_ec2_reads)

    (outcome,) = execution.outcomes().values()
    assert outcome.status.value == "LAUNCHED"
    identity = outcome.identity
    assert identity is not None
    assert identity.target_private_ip is None
    assert identity.verified is False
    assert identity.error is not None
    assert identity.error.code == "AwsAccessDenied"
    assert "not verified" in identity.error.message
    assert faults[0].attempts >= 1


def _identity(**fields: Any) -> ServerIdentity:
    values: dict[str, Any] = {
        "target_instance_id": "i-0123456789abcdef0",
        "source_private_ip": "10.0.0.5",
        "target_private_ip": "10.1.0.5",
        "captured_at": NOW,
    }
    values.update(fields)
    return ServerIdentity(**values)


def test_a_kept_instance_with_its_ip_is_verified() -> None:
    checked = verified_identity(
        _identity(),
        "s-0123456789abcdef0",
        recovery_ec2_instance_id="i-0123456789abcdef0",
        recovery_private_ip="10.1.0.5",
        at=NOW,
    )

    assert checked.verified
    assert checked.error is None
    assert checked.verified_at == NOW


def test_a_kept_instance_with_another_ip_names_both_ips_and_what_to_do() -> None:
    checked = verified_identity(
        _identity(),
        "s-0123456789abcdef0",
        recovery_ec2_instance_id="i-0123456789abcdef0",
        recovery_private_ip="10.1.0.99",
        at=NOW,
    )

    assert checked.instance_kept is True
    assert checked.ip_preserved is False
    assert checked.error is not None
    assert checked.error.code == "PrivateIPMismatch"
    assert "10.1.0.5" in checked.error.message
    assert "10.1.0.99" in checked.error.message
    assert "copyPrivateIp is off" in checked.error.details["remediation"]


def test_a_target_missing_before_the_launch_is_recorded() -> None:
    captured = captured_identity(
        "i-0123456789abcdef0",
        source={
            "sourceProperties": {"networkInterfaces": [{"ips": ["10.0.0.5"], "isPrimary": True}]}
        },
        target=None,
        at=NOW,
    )

    assert captured.source_private_ip == "10.0.0.5"
    assert captured.target_private_ip is None
    assert captured.error is not None
    assert captured.error.code == "TargetNotFound"
