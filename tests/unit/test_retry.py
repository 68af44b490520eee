from __future__ import annotations

import math
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from moto import mock_aws

from drs_orchestration.aws import RetryPolicy, is_retryable, translate_aws_errors
from drs_orchestration.errors import ThrottledError, ValidationError
from tests.http_faults import HttpFaults, json_error

NO_BOTOCORE_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def dynamodb() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1", config=NO_BOTOCORE_RETRIES)


def _policy(sleeps: list[float], attempts: int = 5) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, initial_wait_s=0.5, max_wait_s=4, sleep=sleeps.append)


@pytest.mark.parametrize(
    "answer",
    [
        lambda: json_error("ThrottlingException"),
        lambda: json_error("ProvisionedThroughputExceededException"),
        lambda: json_error("InternalServerError", status=500),
        lambda: json_error("SomethingUnmodelled", status=503),
        lambda: ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
    ids=["throttling", "throughput", "500", "503", "connection-closed"],
)
def test_transient_errors_are_retried_until_success(dynamodb, answer) -> None:  # type: ignore[no-untyped-def]
    faults = HttpFaults(dynamodb.meta.events, "dynamodb", "ListTables").then(
        answer(), answer(), answer()
    )
    sleeps: list[float] = []
    result = _policy(sleeps).call(dynamodb.list_tables)
    assert result["TableNames"] == []
    assert faults.attempts == 4
    assert len(sleeps) == 3
    assert all(0.5 <= s <= 4.5 for s in sleeps)


@pytest.mark.parametrize(
    "code", ["ValidationException", "AccessDeniedException", "ResourceNotFoundException"]
)
def test_permanent_errors_are_not_retried(dynamodb, code: str) -> None:  # type: ignore[no-untyped-def]
    faults = HttpFaults(dynamodb.meta.events, "dynamodb", "ListTables").then(json_error(code))
    sleeps: list[float] = []
    with pytest.raises(ClientError) as err:
        _policy(sleeps).call(dynamodb.list_tables)
    assert err.value.response["Error"]["Code"] == code
    assert faults.attempts == 1
    assert sleeps == []


def test_exhausted_budget_reraises_the_last_error_and_translates(dynamodb) -> None:  # type: ignore[no-untyped-def]
    HttpFaults(dynamodb.meta.events, "dynamodb", "ListTables").then(
        *[json_error("ThrottlingException") for _ in range(10)]
    )
    sleeps: list[float] = []
    with (
        pytest.raises(ThrottledError) as err,
        translate_aws_errors("dynamodb", "ListTables", region="us-east-1"),
    ):
        _policy(sleeps, attempts=3).call(dynamodb.list_tables)
    assert len(sleeps) == 2
    assert err.value.aws_code == "ThrottlingException"
    assert err.value.http_status == 429


def test_backoff_grows_and_is_capped() -> None:
    sleeps: list[float] = []
    calls = 0

    def always_throttled() -> None:
        nonlocal calls
        calls += 1
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "X")

    policy = RetryPolicy(max_attempts=8, initial_wait_s=1, max_wait_s=5, sleep=sleeps.append)
    with pytest.raises(ClientError):
        policy.call(always_throttled)
    assert calls == 8
    assert len(sleeps) == 7
    assert max(sleeps) <= 6
    # exponential 1, 2, 4, then capped at 5, each plus at most 1 of jitter
    assert 1 <= sleeps[0] <= 2
    assert 2 <= sleeps[1] <= 3
    assert 4 <= sleeps[2] <= 5
    assert all(5 <= s <= 6 for s in sleeps[3:])


def test_total_time_bounds_retries() -> None:
    calls = 0

    def fail() -> None:
        nonlocal calls
        calls += 1
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "X")

    # real (tiny) sleeps: stop_after_delay measures elapsed wall time
    policy = RetryPolicy(max_attempts=100, initial_wait_s=0.01, max_wait_s=0.02, max_total_s=0.1)
    with pytest.raises(ClientError):
        policy.call(fail)
    assert 2 <= calls < 100


def test_is_retryable_and_policy_validation() -> None:
    assert is_retryable(ClientError({"Error": {"Code": "ThrottlingException"}}, "X"))
    assert not is_retryable(ClientError({"Error": {"Code": "ConflictException"}}, "X"))
    assert not is_retryable(ValueError("x"))
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    assert RetryPolicy.no_retry().max_attempts == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", 0),
        ("initial_wait_s", -0.1),
        ("max_wait_s", math.nan),
        ("max_total_s", 0.0),
        ("max_total_s", math.inf),
        ("unreachable_attempts", 0),
    ],
)
def test_policy_fields_are_validated_by_name(field: str, value: float) -> None:
    with pytest.raises(ValidationError) as err:
        RetryPolicy(**{field: value})  # type: ignore[arg-type]
    assert err.value.problems[0]["field"] == field
    assert field in err.value.message


def test_an_unreachable_endpoint_has_its_own_short_budget() -> None:
    calls = 0

    def unreachable() -> None:
        nonlocal calls
        calls += 1
        raise EndpointConnectionError(endpoint_url="https://drs.invalid")

    sleeps: list[float] = []
    policy = RetryPolicy(max_attempts=8, unreachable_attempts=2, sleep=sleeps.append)
    with pytest.raises(EndpointConnectionError):
        policy.call(unreachable)
    assert calls == 2
    assert len(sleeps) == 1


def test_a_non_idempotent_call_is_resent_only_when_it_had_no_effect() -> None:
    answers = [
        ClientError({"Error": {"Code": "ThrottlingException"}}, "StartRecovery"),
        EndpointConnectionError(endpoint_url="https://drs.us-east-1.amazonaws.com"),
        ClientError(
            {
                "Error": {"Code": "InternalServerException"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "StartRecovery",
        ),
    ]
    calls = 0

    def start() -> None:
        nonlocal calls
        calls += 1
        raise answers[calls - 1]

    sleeps: list[float] = []
    with pytest.raises(ClientError) as err:
        _policy(sleeps).retrying(idempotent=False)(start)
    assert err.value.response["Error"]["Code"] == "InternalServerException"
    assert calls == 3  # throttled and not connected: re-sent; the 500: raised at once
    assert len(sleeps) == 2


def test_quota_refusals_are_never_retried() -> None:
    calls = 0

    def start() -> None:
        nonlocal calls
        calls += 1
        raise ClientError(
            {
                "Error": {"Code": "ServiceQuotaExceededException"},
                "ResponseMetadata": {"HTTPStatusCode": 402},
            },
            "StartRecovery",
        )

    for idempotent in (True, False):
        calls = 0
        with pytest.raises(ClientError):
            _policy([]).retrying(idempotent=idempotent)(start)
        assert calls == 1


def test_call_timeout_bound_is_the_smaller_of_attempts_and_total_time() -> None:
    policy = RetryPolicy(max_attempts=8, initial_wait_s=0.5, max_wait_s=20, max_total_s=120)
    assert policy.call_timeout_bound_s(70) == 120 + 70
    short = RetryPolicy(max_attempts=2, initial_wait_s=1, max_wait_s=4, max_total_s=120)
    assert short.call_timeout_bound_s(10) == 2 * 10 + 1 * (4 + 1)
    with pytest.raises(ValidationError, match="request_timeout_s"):
        policy.call_timeout_bound_s(-1)


def test_no_attempt_starts_after_the_total_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake monotonic clock (tenacity measures elapsed time with time.monotonic):
    # each attempt takes 2 s and each wait lasts what the policy asks.
    now = [1000.0]
    starts: list[float] = []
    monkeypatch.setattr(time, "monotonic", lambda: now[0])

    def slow_and_throttled() -> None:
        starts.append(now[0])
        now[0] += 2.0
        raise ClientError({"Error": {"Code": "ThrottlingException"}}, "X")

    def sleep(seconds: float) -> None:
        now[0] += seconds

    policy = RetryPolicy(
        max_attempts=100, initial_wait_s=1, max_wait_s=1, max_total_s=10, sleep=sleep
    )
    with pytest.raises(ClientError):
        policy.call(slow_and_throttled)
    # attempts every 3-4 s (2 s of work, a wait of 1 s plus up to 1 s of jitter)
    assert 3 <= len(starts) <= 4
    assert starts[-1] - starts[0] < 10
    assert now[0] - starts[0] <= policy.call_timeout_bound_s(2.0)


def test_not_implemented_is_not_retried() -> None:
    error = ClientError(
        {"Error": {"Code": "NotImplementedException"}, "ResponseMetadata": {"HTTPStatusCode": 501}},
        "CreateRecoveryPlan",
    )
    assert not is_retryable(error)
