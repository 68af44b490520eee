"""One retry layer: HTTP requests per logical call, counted in both client factories.

The production factory runs over a real boto3 session whose DRS requests the
simulator answers at botocore's ``before-send`` seam; the simulated factory
must configure retries the same way, so both count the same requests and
sleep only through the policy's injected ``sleep``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import boto3
import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from moto import mock_aws

from drs_orchestration.aws import (
    AssumeRoleClientFactory,
    ClientFactory,
    RetryPolicy,
    SessionClientFactory,
    default_config,
)
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.errors import AwsApiError, ThrottledError
from drs_orchestration.models import AccountContext
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory, mock_drs
from tests.http_faults import HttpFaults

REGION = "us-east-1"

FACTORIES: dict[str, Callable[[], ClientFactory]] = {
    "session": lambda: SessionClientFactory(boto3.Session(region_name=REGION)),
    "simulated": SimulatedClientFactory,
}


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> ClientFactory:
    return FACTORIES[request.param]()


@pytest.fixture
def sim() -> Iterator[DrsSimulator]:
    with mock_drs() as simulator:
        yield simulator


def _gateway(factory: ClientFactory, sleeps: list[float], attempts: int = 5) -> DrsGateway:
    policy = RetryPolicy(max_attempts=attempts, initial_wait_s=0.5, sleep=sleeps.append)
    return DrsGateway(factory, REGION, retry=policy)


def _start(drs: DrsGateway, sim: DrsSimulator) -> str:
    server = sim.add_source_server(region=REGION, hostname="web-1")
    return drs.start_recovery([{"sourceServerID": server}], is_drill=True)["jobID"]


class TestRequestsPerLogicalCall:
    def test_throttled_then_ok_makes_n_plus_one_requests_and_sleeps_only_injected(
        self, factory: ClientFactory, sim: DrsSimulator
    ) -> None:
        sim.faults.throttle_next(2, "DescribeJobs")
        sleeps: list[float] = []
        assert _gateway(factory, sleeps).describe_jobs() == []
        assert sim.calls.count("DescribeJobs") == 3
        # every wait went through the injected sleep: botocore retried nothing itself
        assert len(sleeps) == 2

    def test_fully_throttled_call_makes_exactly_max_attempts_requests(
        self, factory: ClientFactory, sim: DrsSimulator
    ) -> None:
        sim.faults.throttle(1.0, "DescribeJobs")
        sleeps: list[float] = []
        with pytest.raises(ThrottledError) as err:
            _gateway(factory, sleeps, attempts=3).describe_jobs()
        assert sim.calls.count("DescribeJobs") == 3
        assert len(sleeps) == 2
        assert err.value.retryable is True
        assert err.value.maybe_applied is False

    def test_a_5xx_read_is_retried(self, factory: ClientFactory, sim: DrsSimulator) -> None:
        sim.faults.server_error(status=503, operations="DescribeJobs", times=2)
        sleeps: list[float] = []
        assert _gateway(factory, sleeps).describe_jobs() == []
        assert sim.calls.count("DescribeJobs") == 3

    def test_retry_warnings_name_service_operation_error_attempt_and_sleep(
        self, factory: ClientFactory, sim: DrsSimulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        sim.faults.throttle_next(1, "DescribeJobs")
        sleeps: list[float] = []
        with caplog.at_level(logging.WARNING, logger="drs_orchestration.aws.retry"):
            _gateway(factory, sleeps).describe_jobs()
        (record,) = [r for r in caplog.records if r.name == "drs_orchestration.aws.retry"]
        assert record.__dict__["awsService"] == "drs"
        assert record.__dict__["awsOperation"] == "DescribeJobs"
        assert record.__dict__["awsErrorCode"] == "ThrottlingException"
        assert record.__dict__["attempt"] == 1
        assert record.__dict__["maxAttempts"] == 5
        assert record.__dict__["sleepSeconds"] == round(sleeps[0], 3)
        assert "drs DescribeJobs after ThrottlingException" in record.getMessage()


class TestStartRecoveryIsNeverSentTwice:
    def test_after_an_ambiguous_500_it_is_sent_once(
        self, factory: ClientFactory, sim: DrsSimulator, caplog: pytest.LogCaptureFixture
    ) -> None:
        sim.faults.server_error(operations="StartRecovery", times=1)
        sleeps: list[float] = []
        with pytest.raises(AwsApiError) as err:
            _start(_gateway(factory, sleeps), sim)
        assert sim.calls.count("StartRecovery") == 1
        assert sleeps == []
        assert err.value.retryable is True
        assert err.value.maybe_applied is True
        assert err.value.to_dict()["details"]["maybeApplied"] is True
        assert any("may have taken effect" in r.getMessage() for r in caplog.records)

    def test_after_a_bare_503_it_is_sent_once(
        self, factory: ClientFactory, sim: DrsSimulator
    ) -> None:
        sim.faults.server_error(status=503, operations="StartRecovery", times=1)
        with pytest.raises(AwsApiError) as err:
            _start(_gateway(factory, []), sim)
        assert sim.calls.count("StartRecovery") == 1
        assert err.value.maybe_applied is True

    def test_after_a_429_it_is_retried(self, factory: ClientFactory, sim: DrsSimulator) -> None:
        sim.faults.throttle_next(1, "StartRecovery")
        sleeps: list[float] = []
        job_id = _start(_gateway(factory, sleeps), sim)
        assert [c.error_code for c in sim.calls.of("StartRecovery")] == [
            "ThrottlingException",
            None,
        ]
        assert len(sleeps) == 1
        assert job_id.startswith("drsjob-")

    @pytest.mark.parametrize(
        "lost",
        [
            ReadTimeoutError(endpoint_url="https://drs.us-east-1.amazonaws.com/StartRecovery"),
            ConnectionClosedError(endpoint_url="https://drs.us-east-1.amazonaws.com"),
        ],
        ids=["read-timeout", "connection-closed"],
    )
    def test_after_a_lost_answer_it_is_sent_once(
        self, factory: ClientFactory, sim: DrsSimulator, lost: Exception
    ) -> None:
        drs = _gateway(factory, [])
        faults = HttpFaults(drs.client.meta.events, "drs", "StartRecovery").then(lost)
        with pytest.raises(AwsApiError) as err:
            _start(drs, sim)
        assert faults.attempts == 1
        assert err.value.retryable is True
        assert err.value.maybe_applied is True

    @pytest.mark.parametrize(
        "unsent",
        [
            EndpointConnectionError(endpoint_url="https://drs.us-east-1.amazonaws.com"),
            ConnectTimeoutError(endpoint_url="https://drs.us-east-1.amazonaws.com"),
        ],
        ids=["no-connection", "connect-timeout"],
    )
    def test_after_a_failure_to_connect_it_is_retried(
        self, factory: ClientFactory, sim: DrsSimulator, unsent: Exception
    ) -> None:
        drs = _gateway(factory, [])
        faults = HttpFaults(drs.client.meta.events, "drs", "StartRecovery").then(unsent)
        _start(drs, sim)
        assert faults.attempts == 2
        assert sim.calls.count("StartRecovery", succeeded=True) == 1

    def test_terminate_after_an_ambiguous_500_is_sent_once(
        self, factory: ClientFactory, sim: DrsSimulator
    ) -> None:
        sim.faults.server_error(operations="TerminateRecoveryInstances", times=1)
        with pytest.raises(AwsApiError) as err:
            _gateway(factory, []).terminate_recovery_instances(["i-0123456789abcdef0"])
        assert sim.calls.count("TerminateRecoveryInstances") == 1
        assert err.value.maybe_applied is True


class TestUnreachableEndpoint:
    def test_dns_failure_gives_up_quickly_and_says_so(
        self, factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # No simulator is active: the request really goes to a name that never resolves.
        monkeypatch.setenv("AWS_ENDPOINT_URL_DRS", "https://drs.invalid")
        sleeps: list[float] = []
        drs = _gateway(factory, sleeps, attempts=8)
        attempts = HttpFaults(drs.client.meta.events, "drs", "DescribeJobs")
        began = time.monotonic()
        with pytest.raises(AwsApiError) as err:
            drs.describe_jobs()
        assert attempts.attempts == RetryPolicy().unreachable_attempts == 3
        assert len(sleeps) == 2
        assert sum(sleeps) <= (0.5 + 0.5) + (1.0 + 0.5)
        # each attempt is bounded by the resolver, or by connect_timeout once resolved
        assert time.monotonic() - began < 3 * default_config().connect_timeout
        assert "could not reach the endpoint https://drs.invalid" in err.value.message
        assert "host name did not resolve" in err.value.message
        assert REGION in err.value.message
        assert err.value.retryable is True
        assert err.value.maybe_applied is False


class TestFactoriesConfigureRetriesAlike:
    def test_every_factory_turns_botocore_retries_off_with_the_same_config(self) -> None:
        with mock_aws():
            clients = [
                SessionClientFactory().client("drs", REGION),
                AssumeRoleClientFactory().client(
                    "drs", REGION, AccountContext(account_id="111122223333", role_name="R")
                ),
                SimulatedClientFactory().client("drs", REGION),
            ]
        expected = default_config()
        for client in clients:
            config = client.meta.config
            assert config.retries == {"mode": "standard", "total_max_attempts": 1}
            assert config.retries == expected.retries
            assert config.connect_timeout == expected.connect_timeout == 10
            assert config.read_timeout == expected.read_timeout == 60
            assert config.tcp_keepalive is True
            assert config.user_agent_extra == expected.user_agent_extra
