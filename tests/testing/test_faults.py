"""Injected throttling, server errors, latency and launch failures, and what the call log shows."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from sim_helpers import REGION, START, run_drill, simulated_state

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient


def test_half_throttled_calls_all_succeed_with_the_retry_policy(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    servers = [bare_sim.add_source_server(hostname=f"s{n}") for n in range(10)]
    bare_sim.faults.throttle(rate=0.5, seed=7)
    policy = RetryPolicy(max_attempts=30, sleep=lambda _: None)

    for server in servers:
        policy.call(bare_drs.get_launch_configuration, sourceServerID=server)
    job = policy.call(bare_drs.start_recovery, sourceServers=[{"sourceServerID": servers[0]}])

    assert job["job"]["status"] == "PENDING"
    gets = bare_sim.calls.of("GetLaunchConfiguration")
    assert bare_sim.calls.count("GetLaunchConfiguration", succeeded=True) == 10
    throttled = [c for c in gets if c.error_code == "ThrottlingException"]
    assert throttled
    assert all(c.injected for c in throttled)
    assert len(gets) == 10 + len(throttled)
    assert bare_sim.calls.count("StartRecovery", succeeded=True) == 1
    bare_sim.faults.clear()
    assert len(bare_drs.describe_jobs()["items"]) == 1


def test_throttling_is_reproducible_with_a_seed() -> None:
    def pattern() -> list[str | None]:
        with mock_drs(start=START, seed=3) as sim:
            drs = SimulatedClientFactory(sim).client("drs", REGION)
            sim.faults.throttle(rate=0.5)
            for _ in range(20):
                with contextlib.suppress(ClientError):
                    drs.describe_jobs()
            return [c.error_code for c in sim.calls]

    first = pattern()
    assert first == pattern()
    assert {None, "ThrottlingException"} == set(first)


def test_throttle_next_hits_exactly_n_calls_of_one_operation(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    bare_sim.faults.throttle_next(2, operation="DescribeJobs")
    bare_drs.describe_source_servers()
    for _ in range(2):
        with pytest.raises(bare_drs.exceptions.ThrottlingException) as caught:
            bare_drs.describe_jobs()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    bare_drs.describe_jobs()
    assert [c.error_code for c in bare_sim.calls.of("DescribeJobs")] == [
        "ThrottlingException",
        "ThrottlingException",
        None,
    ]


def test_server_errors_500_and_raw_503(bare_drs: DrsClient, bare_sim: DrsSimulator) -> None:
    bare_sim.faults.server_error(times=1)
    with pytest.raises(bare_drs.exceptions.InternalServerException) as internal:
        bare_drs.describe_jobs()
    assert internal.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

    bare_sim.faults.server_error(status=503, operations={"DescribeJobs"}, times=1)
    with pytest.raises(ClientError) as unavailable:
        bare_drs.describe_jobs()
    assert unavailable.value.response["Error"]["Code"] == "503"
    assert unavailable.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    policy = RetryPolicy(sleep=lambda _: None)
    bare_sim.faults.server_error(rate=1.0, times=3)
    assert policy.call(bare_drs.describe_jobs)["items"] == []
    assert [c.error_code for c in bare_sim.calls.of("DescribeJobs", injected=True)] == [
        "InternalServerException",
        "503",
        "InternalServerException",
        "InternalServerException",
        "InternalServerException",
    ]


def test_latency_is_real_and_callers_overlap(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    # Ten calls of 0.5 s take 5 s one after the other; overlapping, about 0.5 s. The upper
    # bound leaves room for a loaded CI machine while still ruling out serialised calls.
    bare_sim.faults.latency(0.5)
    bare_drs.describe_jobs()  # warm the client up outside the measurement
    errors: list[BaseException] = []

    def call() -> None:
        try:
            bare_drs.describe_jobs()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(10)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    assert not errors
    assert 0.5 <= elapsed < 3.0
    assert bare_sim.calls.count("DescribeJobs") == 11


def test_latency_can_be_drawn_per_operation(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    bare_sim.faults.latency(lambda rng: rng.uniform(0.05, 0.06), operations="DescribeJobs")
    # The plan's decisions say which calls wait and how long; wall time on a shared
    # machine only bounds the delayed call from below.
    assert bare_sim.faults.decide("DescribeSourceServers").delay == 0.0
    assert 0.05 <= bare_sim.faults.decide("DescribeJobs").delay <= 0.06
    started = time.monotonic()
    bare_drs.describe_jobs()
    assert time.monotonic() - started >= 0.05


def test_clear_removes_every_fault(bare_sim: DrsSimulator, bare_drs: DrsClient) -> None:
    server = bare_sim.add_source_server(hostname="x")
    bare_sim.faults.throttle(rate=1.0)
    bare_sim.faults.fail_launch(server)
    bare_sim.faults.clear()
    run_drill(bare_drs, [server])
    bare_sim.advance_until_idle()
    job = bare_drs.describe_jobs()["items"][0]
    assert job["participatingServers"][0]["launchStatus"] == "LAUNCHED"


def test_fault_rules_name_real_operations_and_sane_rates(bare_sim: DrsSimulator) -> None:
    with pytest.raises(ValueError, match="StartRecovry"):
        bare_sim.faults.throttle(operations={"StartRecovry"})
    with pytest.raises(ValueError, match="rate"):
        bare_sim.faults.throttle(rate=1.5)
    with pytest.raises(ValueError, match="500 or 503"):
        bare_sim.faults.server_error(status=502)  # type: ignore[arg-type]


def test_fail_launch_can_be_limited_to_a_number_of_launches(
    bare_sim: DrsSimulator, bare_drs: DrsClient
) -> None:
    server = bare_sim.add_source_server(hostname="x")
    bare_sim.faults.fail_launch(server, reason="capacity", times=1)
    for expected in ("FAILED", "LAUNCHED"):
        run_drill(bare_drs, [server])
        bare_sim.advance_until_idle()
        latest = bare_drs.describe_jobs(maxResults=1)["items"][0]
        assert latest["participatingServers"][0]["launchStatus"] == expected


@pytest.mark.parametrize(
    "operation", ["StartRecovery", "UpdateLaunchConfiguration", "TerminateRecoveryInstances"]
)
def test_a_throttled_call_leaves_the_simulator_unchanged(
    sim: DrsSimulator, drs: DrsClient, operation: str
) -> None:
    launched, running, idle = (sim.add_source_server(hostname=f"s{n}") for n in range(3))
    run_drill(drs, [launched])
    sim.advance_until_idle()
    instance = drs.describe_recovery_instances()["items"][0]["recoveryInstanceID"]
    run_drill(drs, [running])
    sim.clock.advance(3600)  # transitions fall due, to be applied by the next call that runs
    calls = {
        "StartRecovery": lambda: run_drill(drs, [idle], is_drill=False, tags={"k": "v"}),
        "UpdateLaunchConfiguration": lambda: drs.update_launch_configuration(
            sourceServerID=idle, copyPrivateIp=True, targetInstanceTypeRightSizingMethod="NONE"
        ),
        "TerminateRecoveryInstances": lambda: drs.terminate_recovery_instances(
            recoveryInstanceIDs=[instance]
        ),
    }
    before = simulated_state(sim)
    sim.faults.throttle(1.0, operation)
    for _ in range(3):
        with pytest.raises(drs.exceptions.ThrottlingException):
            calls[operation]()
    assert simulated_state(sim) == before
    assert sim.calls.count(operation, injected=True) == 3

    sim.faults.clear()
    calls[operation]()
    assert simulated_state(sim) != before  # the same call, let through, does change it
