from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from drs_orchestration.aws import (
    SessionClientFactory,
    is_retryable,
    may_have_applied,
    translate_aws_errors,
)
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.errors import (
    AwsAccessDeniedError,
    AwsApiError,
    AwsConflictError,
    AwsResourceNotFoundError,
    AwsValidationError,
    ConcurrentModificationError,
    ServiceQuotaExceededError,
    ThrottledError,
    ValidationError,
)
from drs_orchestration.testing import mock_drs


def _client_error(code: str, status: int = 400, message: str = "boom") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"RequestId": "req-123", "HTTPStatusCode": status},
        },
        "StartRecovery",
    )


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("ThrottlingException", ThrottledError),
        ("RequestLimitExceeded", ThrottledError),
        ("AccessDeniedException", AwsAccessDeniedError),
        ("UnauthorizedOperation", AwsAccessDeniedError),
        ("ResourceNotFoundException", AwsResourceNotFoundError),
        ("InvalidInstanceID.NotFound", AwsResourceNotFoundError),
        ("ConflictException", AwsConflictError),
        ("ServiceQuotaExceededException", ServiceQuotaExceededError),
        ("ValidationException", AwsValidationError),
        ("InvalidParameterCombination", AwsValidationError),
        ("UninitializedAccountException", AwsApiError),
        ("InternalServerException", AwsApiError),
    ],
)
def test_codes_map_to_library_errors(code: str, cls: type[AwsApiError]) -> None:
    with (
        pytest.raises(AwsApiError) as err,
        translate_aws_errors(
            "drs",
            "StartRecovery",
            region="eu-west-1",
            account_id="111122223333",
            resource_ids=["s-abc"],
        ),
    ):
        raise _client_error(code)
    assert type(err.value) is cls
    assert err.value.aws_code == code
    assert err.value.request_id == "req-123"
    assert err.value.operation == "StartRecovery"
    assert err.value.region == "eu-west-1"
    assert err.value.account_id == "111122223333"
    assert err.value.resource_ids == ["s-abc"]
    assert isinstance(err.value.__cause__, ClientError)
    assert "111122223333/eu-west-1" in err.value.message


def test_param_validation_and_connection_errors() -> None:
    with pytest.raises(AwsValidationError) as err, translate_aws_errors("drs", "StartRecovery"):
        raise ParamValidationError(report="Unknown parameter in sourceServers[0]")
    assert "Unknown parameter" in err.value.message
    with (
        pytest.raises(AwsApiError) as conn,
        translate_aws_errors("ec2", "DescribeInstances", region="us-east-1"),
    ):
        raise EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com")
    assert conn.value.aws_code == "EndpointConnectionError"


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(KeyError), translate_aws_errors("drs", "DescribeJobs"):
        raise KeyError("x")


def _status_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "StartRecovery"
    )


ENDPOINT = "https://drs.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("error", "retryable", "maybe_applied"),
    [
        (_status_error("ThrottlingException", 429), True, False),
        (_status_error("RequestLimitExceeded", 503), True, False),
        (_status_error("SomethingUnmodelled", 429), True, False),
        (_status_error("InternalServerException", 500), True, True),
        (_status_error("503", 503), True, True),
        (_status_error("NotImplementedException", 501), False, True),
        (_status_error("ServiceQuotaExceededException", 402), False, False),
        (_status_error("ConflictException", 409), False, False),
        (_status_error("ValidationException", 400), False, False),
        (EndpointConnectionError(endpoint_url=ENDPOINT), True, False),
        (ConnectTimeoutError(endpoint_url=ENDPOINT), True, False),
        (ReadTimeoutError(endpoint_url=ENDPOINT), True, True),
        (ConnectionClosedError(endpoint_url=ENDPOINT), True, True),
        (ResponseParserError("truncated"), False, True),
        (IncompleteReadError(actual_bytes=1, expected_bytes=2), False, True),
        (ParamValidationError(report="bad"), False, False),
        (NoCredentialsError(), False, False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_retryable_and_maybe_applied_are_decided_once_and_kept_on_the_error(
    error: Exception, retryable: bool, maybe_applied: bool
) -> None:
    assert is_retryable(error) is retryable
    assert may_have_applied(error) is maybe_applied
    with pytest.raises(AwsApiError) as err, translate_aws_errors("drs", "StartRecovery"):
        raise error
    assert err.value.retryable is retryable
    assert err.value.maybe_applied is maybe_applied
    # the policy's classifier reads the translated error's own decision
    assert is_retryable(err.value) is retryable
    assert may_have_applied(err.value) is maybe_applied
    assert err.value.to_dict()["details"]["retryable"] is retryable


def test_library_errors_keep_their_own_retryable() -> None:
    assert ThrottledError("x", aws_code="X", operation="Op", service="drs").retryable is True
    assert AwsApiError("x", aws_code="X", operation="Op", service="drs").retryable is False
    # re-sending a write with a stale expected version cannot succeed: the caller re-reads
    assert not is_retryable(
        ConcurrentModificationError("g", "k", expected_version=1, actual_version=2)
    )
    assert not is_retryable(ValidationError("x"))


def test_no_region_names_the_setting() -> None:
    with pytest.raises(ValidationError) as err, translate_aws_errors("dynamodb", "GetItem"):
        raise NoRegionError()
    assert err.value.problems[0]["field"] == "region"
    assert "AWS_REGION" in err.value.message
    assert isinstance(err.value.__cause__, NoRegionError)


def test_missing_credentials_name_what_to_configure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    with mock_drs():
        drs = DrsGateway(SessionClientFactory(boto3.Session()), "eu-west-1")
        with pytest.raises(AwsAccessDeniedError) as err:
            drs.describe_jobs()
    assert err.value.aws_code == "NoCredentials"
    assert "AWS_PROFILE" in err.value.message
    assert "eu-west-1" in err.value.message
    assert err.value.retryable is False
