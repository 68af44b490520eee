from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from drs_orchestration.aws import translate_aws_errors
from drs_orchestration.errors import (
    AwsAccessDeniedError,
    AwsApiError,
    AwsConflictError,
    AwsResourceNotFoundError,
    AwsValidationError,
    ServiceQuotaExceededError,
    ThrottledError,
)


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
