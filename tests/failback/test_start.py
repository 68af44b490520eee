"""Starting a failback: prerequisites, one failback per execution and per instance, staging.

Includes seed 003's 8.1.8 (cross-account, the role assumed with its external
ID through moto STS) and its staging-account checks (6.5).
"""

from __future__ import annotations

import pytest

from drs_orchestration.errors import ConflictError, NotFoundError, ValidationError
from drs_orchestration.models import AccountContext, FailbackMode, FailbackPhase, FailbackState
from drs_orchestration.storage.claims import claim_id
from tests.failback.conftest import ORIGIN, RECOVERY, World

OTHER = AccountContext(
    account_id="222222222222", role_name="DRSOrchestrationRole", external_id="failback-2026"
)


def test_nothing_is_recorded_before_the_failback_starts(world: World) -> None:
    execution = world.fail_over({"app": world.servers(1)})

    with pytest.raises(NotFoundError, match="failback of execution") as caught:
        world.orch.failback.get(execution.execution_id)
    assert "start_failback" in caught.value.details["hint"]


def test_a_running_execution_cannot_fail_back(world: World) -> None:
    servers = world.servers(1)
    group = world.orch.groups.create("app", RECOVERY, server_ids=servers)
    plan = world.orch.plans.create("p", [{"name": "app", "protectionGroupIds": [group.group_id]}])
    execution = world.orch.waves.start(plan.plan_id, drill=False)

    with pytest.raises(ConflictError, match="still PENDING"):
        world.orch.failback.start_failback(execution.execution_id)


def test_a_drill_fails_back_only_when_asked_and_drs_refuses_its_instances(
    world: World,
) -> None:
    execution = world.fail_over({"app": world.servers(1)}, drill=True)
    coordinator = world.orch.failback

    with pytest.raises(ValidationError, match="drill_ok=True") as caught:
        coordinator.start_failback(execution.execution_id)
    assert caught.value.problems[0]["field"] == "drill_ok"

    coordinator.start_failback(execution.execution_id, drill_ok=True)
    failback = coordinator.run(execution.execution_id)

    (state,) = failback.servers
    assert state.execution_is_drill
    assert state.phase is FailbackPhase.FAILED
    assert state.error is not None
    assert state.error.code == "AwsValidation"
    assert "drill" in state.error.message


def test_unknown_unlaunched_and_terminated_servers_are_named(world: World) -> None:
    servers = world.servers(2)
    world.sim.faults.fail_launch(servers[1], times=1)
    group = world.orch.groups.create("app", RECOVERY, server_ids=servers)
    plan = world.orch.plans.create(
        "p", [{"name": "app", "protectionGroupIds": [group.group_id]}], failure_policy="continue"
    )
    world.sim.outage(server_ids=servers)
    execution = world.orch.waves.run(
        world.orch.waves.start(plan.plan_id, drill=False).execution_id, poll_interval=30
    )
    coordinator = world.orch.failback

    with pytest.raises(ValidationError) as caught:
        coordinator.start_failback(
            execution.execution_id, servers=[servers[1], "s-0000000000000000a"]
        )
    fields = {p["field"]: p["message"] for p in caught.value.problems}
    assert "status FAILED" in fields["servers.0"]
    assert "is not a server of execution" in fields["servers.1"]

    launched = execution.outcomes()[servers[0]]
    world.drs().terminate_recovery_instances(
        recoveryInstanceIDs=[str(launched.recovery_instance_id)]
    )
    world.sim.advance_until_idle()
    with pytest.raises(ValidationError, match="no longer known to DRS"):
        coordinator.start_failback(execution.execution_id)
    assert world.storage.failback_states.list() == []


def test_a_stopped_recovery_instance_must_be_started_first(world: World) -> None:
    servers = world.servers(1)
    execution = world.fail_over({"app": servers})
    instance = str(execution.outcomes()[servers[0]].ec2_instance_id)
    world.ec2().stop_instances(InstanceIds=[instance])

    with pytest.raises(ValidationError, match="is STOPPED: start it"):
        world.orch.failback.start_failback(execution.execution_id)


def test_starting_again_resumes_and_adds_servers_without_touching_recorded_ones(
    world: World,
) -> None:
    servers = world.servers(2)
    execution = world.fail_over({"app": servers})
    coordinator = world.orch.failback
    eid = execution.execution_id

    first = coordinator.start_failback(eid, servers=[servers[0]])
    coordinator.step(eid)  # reverses the first server
    again = coordinator.start_failback(eid)

    assert [s.source_server_id for s in first.servers] == [servers[0]]
    assert [s.source_server_id for s in again.servers] == servers
    assert again.server(servers[0]).phase is FailbackPhase.REVERSE_REPLICATING
    assert again.server(servers[1]).phase is FailbackPhase.NOT_STARTED
    claim = world.storage.claims.get(claim_id("failback", eid))
    assert claim.owner_id == eid
    assert claim.kind == "failback"
    assert len(world.sim.calls.of("ReverseReplication")) == 1


def test_an_instance_failed_back_by_another_execution_is_refused(world: World) -> None:
    servers = world.servers(1)
    execution = world.fail_over({"app": servers})
    instance = str(execution.outcomes()[servers[0]].recovery_instance_id)
    world.storage.failback_states.put(
        FailbackState(
            recovery_instance_id=instance,
            execution_id="ex-aaaaaaaaaaaaaaaaaaaa",
            wave_name="app",
            source_server_id=servers[0],
            region=RECOVERY,
        )
    )

    with pytest.raises(ConflictError, match="ex-aaaaaaaaaaaaaaaaaaaa"):
        world.orch.failback.start_failback(execution.execution_id)


def test_staging_accounts_are_recorded_and_their_consistency_checked(world: World) -> None:
    plain = world.servers(1, tier="db")
    extended = world.servers(1, tier="app", staging_account_id="333333333333")
    execution = world.fail_over({"db": plain, "app": extended})

    failback = world.orch.failback.start_failback(execution.execution_id)

    assert failback.server(plain[0]).staging_account_id == "123456789012"
    assert failback.server(extended[0]).staging_account_id == "333333333333"
    assert failback.staging_accounts == {
        "123456789012": [plain[0]],
        "333333333333": [extended[0]],
    }
    assert failback.staging_consistent is False


def _assumed_roles(account_id: str) -> list[tuple[str, str | None]]:
    """The (role ARN, external ID) of every AssumeRole moto served into ``account_id``."""
    from moto.sts.models import sts_backends

    return [(r.role_arn, r.external_id) for r in sts_backends[account_id]["aws"].assumed_roles]


def test_cross_account_failback_assumes_the_role_with_its_external_id(world: World) -> None:
    servers = world.servers(1, account=OTHER)
    execution = world.fail_over({"app": servers}, account=OTHER)
    coordinator = world.orch.failback
    eid = execution.execution_id

    failback = coordinator.start_failback(eid)
    (state,) = failback.servers
    assert state.account == OTHER
    assert state.mode is FailbackMode.IN_AWS
    failback = coordinator.run(eid)
    (state,) = failback.servers
    assert state.phase is FailbackPhase.READY
    # The recovery ran in account 222222222222; the servers came from the default account.
    assert state.reversed_account_id == "123456789012"
    assert state.reversed_region == ORIGIN
    assert world.sim.calls.of("ReverseReplication")[0].account_id == OTHER.account_id
    back = world.source_server(str(state.reversed_source_server_id), ORIGIN)
    assert back["arn"].split(":")[4] == "123456789012"

    coordinator.launch_failback(eid)
    failback = coordinator.run(eid)
    assert failback.phase is FailbackPhase.COMPLETED
    starts = world.sim.calls.of("StartRecovery", succeeded=True)
    assert (starts[-1].account_id, starts[-1].region) == ("123456789012", ORIGIN)
    role = f"arn:aws:iam::{OTHER.account_id}:role/{OTHER.role_name}"
    assert (role, OTHER.external_id) in _assumed_roles(OTHER.account_id)
