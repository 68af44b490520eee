"""The failback operations of the DRS gateway, and the failback models.

Each gateway call goes through the shared retry and error boundary: the
reads are retried after a server error, ``ReverseReplication`` and
``StartFailbackLaunch`` (no client token) are sent once after an ambiguous
failure. Every ``failback.state`` the installed DRS model knows maps to a
phase.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import botocore.session
import pytest
from moto import mock_aws

from drs_orchestration.aws import NON_IDEMPOTENT_OPERATIONS, RetryPolicy
from drs_orchestration.aws.drs import DrsGateway, parse_drs_duration
from drs_orchestration.errors import AwsApiError
from drs_orchestration.models import (
    Failback,
    FailbackPhase,
    FailbackState,
)
from drs_orchestration.models.failback import (
    DRS_FAILBACK_STATES,
    aggregate_phase,
    phase_of_drs_failback_state,
)
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs

REGION = "us-east-1"
ORIGIN = "us-west-2"
RETRY = RetryPolicy(max_attempts=4, initial_wait_s=0.0, max_wait_s=0.0, sleep=lambda _: None)


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[DrsSimulator]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws(), mock_drs() as simulator:
        yield simulator


def _gateway(sim: DrsSimulator, region: str = REGION) -> DrsGateway:
    return DrsGateway(SimulatedClientFactory(sim), region, retry=RETRY)


def _recovered(sim: DrsSimulator) -> tuple[str, str]:
    drs = _gateway(sim)
    server = sim.add_source_server(
        hostname="app", source_instance_id="i-0123456789abcdef0", origin_region=ORIGIN
    )
    drs.start_recovery([{"sourceServerID": server}], is_drill=False)
    sim.advance_until_idle()
    (instance,) = drs.describe_recovery_instances()
    return server, str(instance["recoveryInstanceID"])


def test_the_failback_operations_that_start_something_are_never_resent_blindly() -> None:
    for operation in ("ReverseReplication", "StartFailbackLaunch", "TerminateRecoveryInstances"):
        assert ("drs", operation) in NON_IDEMPOTENT_OPERATIONS


def test_reverse_replication_after_an_ambiguous_500_is_sent_once(sim: DrsSimulator) -> None:
    _, instance = _recovered(sim)
    sim.faults.server_error(operations="ReverseReplication", times=1)

    with pytest.raises(AwsApiError) as caught:
        _gateway(sim).reverse_replication(instance)

    assert caught.value.maybe_applied is True
    assert sim.calls.count("ReverseReplication") == 1


def test_reverse_replication_after_throttling_is_retried_and_answers_the_arn(
    sim: DrsSimulator,
) -> None:
    server, instance = _recovered(sim)
    sim.faults.throttle_next(2, "ReverseReplication")

    arn = _gateway(sim).reverse_replication(instance)

    assert sim.calls.count("ReverseReplication") == 3
    assert f":drs:{ORIGIN}:" in arn
    (origin,) = _gateway(sim, ORIGIN).describe_source_servers()
    assert origin["arn"] == arn
    assert origin["reversedDirectionSourceServerArn"].endswith(server)


def test_start_failback_launch_after_an_ambiguous_500_is_sent_once(sim: DrsSimulator) -> None:
    _, instance = _recovered(sim)
    sim.connect_failback_client(instance)
    sim.advance(sim.timings.reverse_replication)
    sim.faults.server_error(operations="StartFailbackLaunch", times=1)

    with pytest.raises(AwsApiError) as caught:
        _gateway(sim).start_failback_launch([instance], tags={"k": "v"})

    assert caught.value.maybe_applied is True
    assert sim.calls.count("StartFailbackLaunch") == 1
    with pytest.raises(ValueError, match="at least one"):
        _gateway(sim).start_failback_launch([])


def test_reads_and_settings_are_retried_after_a_server_error(sim: DrsSimulator) -> None:
    server, instance = _recovered(sim)
    drs = _gateway(sim)
    for operation in (
        "DescribeLaunchConfigurationTemplates",
        "GetFailbackReplicationConfiguration",
        "UpdateFailbackReplicationConfiguration",
    ):
        sim.faults.server_error(operations=operation, times=1)

    (template,) = drs.launch_configuration_templates()
    drs.update_failback_replication_configuration(instance, {"bandwidthThrottling": 10})
    config = drs.get_failback_replication_configuration(instance)

    assert template["launchIntoSourceInstance"] is False
    assert drs.launch_configuration_templates([template["launchConfigurationTemplateID"]]) == [
        template
    ]
    assert config["bandwidthThrottling"] == 10
    assert sim.calls.count("DescribeLaunchConfigurationTemplates") == 3
    assert sim.calls.count("UpdateFailbackReplicationConfiguration") == 2
    assert server


def test_stop_disconnect_delete_and_stop_failback_go_through_the_gateway(
    sim: DrsSimulator,
) -> None:
    server, instance = _recovered(sim)
    drs = _gateway(sim)
    back = drs.reverse_replication(instance).rsplit("/", 1)[1]
    origin = _gateway(sim, ORIGIN)

    stopped = origin.stop_replication(back)
    drs.stop_failback(instance)
    drs.disconnect_recovery_instance(instance)
    drs.delete_recovery_instance(instance)

    assert drs.describe_recovery_instances() == []
    assert stopped["sourceServerID"] == back
    assert stopped["dataReplicationInfo"]["dataReplicationState"] == "STOPPED"
    assert [c.operation for c in sim.calls[-5:]] == [
        "StopReplication",
        "StopFailback",
        "DisconnectRecoveryInstance",
        "DeleteRecoveryInstance",
        "DescribeRecoveryInstances",
    ]
    assert server
    ec2 = drs.ec2()
    assert (ec2.region, ec2.account, ec2.retry) == (REGION, None, RETRY)


def test_every_drs_failback_state_maps_to_a_phase() -> None:
    model = botocore.session.get_session().get_service_model("drs")
    states = model.shape_for("FailbackState").metadata["enum"]

    assert set(states) <= set(DRS_FAILBACK_STATES)
    assert phase_of_drs_failback_state("FAILBACK_READY_FOR_LAUNCH") is FailbackPhase.READY
    assert phase_of_drs_failback_state("FAILBACK_IN_PROGRESS") is (
        FailbackPhase.REVERSE_REPLICATING
    )
    assert phase_of_drs_failback_state("FAILBACK_IN_PROGRESS", job_id="drsjob-0") is (
        FailbackPhase.LAUNCHING
    )
    assert phase_of_drs_failback_state("FAILBACK_COMPLETED") is FailbackPhase.COMPLETED
    assert phase_of_drs_failback_state("FAILBACK_ERROR") is FailbackPhase.FAILED
    # Unknown to this library: never ready, never failed.
    assert phase_of_drs_failback_state("FAILBACK_SOMETHING_NEW") is (
        FailbackPhase.REVERSE_REPLICATING
    )
    assert phase_of_drs_failback_state(None) is FailbackPhase.REVERSE_REPLICATING


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ([], FailbackPhase.NOT_STARTED),
        (
            [FailbackPhase.READY, FailbackPhase.REVERSE_REPLICATING],
            FailbackPhase.REVERSE_REPLICATING,
        ),
        ([FailbackPhase.READY, FailbackPhase.LAUNCHING], FailbackPhase.LAUNCHING),
        ([FailbackPhase.FAILED, FailbackPhase.READY], FailbackPhase.READY),
        ([FailbackPhase.FAILED, FailbackPhase.COMPLETED], FailbackPhase.FAILED),
        ([FailbackPhase.COMPLETED, FailbackPhase.COMPLETED], FailbackPhase.COMPLETED),
    ],
)
def test_the_phase_of_a_failback_follows_its_servers(
    phases: list[FailbackPhase], expected: FailbackPhase
) -> None:
    assert aggregate_phase(phases) is expected
    failback = Failback(
        execution_id="ex-0123456789abcdefghij",
        servers=[
            FailbackState(
                recovery_instance_id=f"i-0123456789abcdef{i}",
                execution_id="ex-0123456789abcdefghij",
                wave_name="app",
                source_server_id=f"s-0123456789abcdef{i}",
                region=REGION,
                phase=phase,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            for i, phase in enumerate(phases)
        ],
    )
    assert failback.phase is expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT1M30S", 90.0), ("P1DT1H", 90000.0), ("2026-01-01T00:00:00Z", None), (None, None)],
)
def test_lag_is_read_defensively(text: str | None, seconds: float | None) -> None:
    # Source servers report an ISO 8601 duration; the model types a recovery
    # instance's lagDuration as a date-time: that reads as unknown.
    assert parse_drs_duration(text) == seconds
