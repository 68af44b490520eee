"""The one place where botocore errors become drs-orchestration errors.

Two facts about a failed AWS request are decided here, once, and kept on the
library error (:class:`~drs_orchestration.errors.AwsApiError`):

- ``retryable`` (:func:`is_retryable`): the same request may succeed later —
  throttling, 429, 5xx except 501, connection errors.
- ``maybe_applied`` (:func:`may_have_applied`): the request may have reached
  AWS and taken effect — a 5xx answer, a read timeout, a connection lost
  mid-request. A throttled request, a refused one (4xx) and one that never
  connected had no effect.

The retry policy and every caller read these instead of classifying again.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from drs_orchestration.errors import (
    AwsAccessDeniedError,
    AwsApiError,
    AwsConflictError,
    AwsResourceNotFoundError,
    AwsValidationError,
    DrsOrchestrationError,
    ServiceQuotaExceededError,
    ThrottledError,
    ValidationError,
)

__all__ = [
    "RETRYABLE_ERROR_CODES",
    "THROTTLING_ERROR_CODES",
    "error_class_for",
    "is_endpoint_unreachable",
    "is_retryable",
    "may_have_applied",
    "translate_aws_errors",
]

THROTTLING_ERROR_CODES: frozenset[str] = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "ProvisionedThroughputExceededException",
    }
)
"""AWS error codes that mean "slow down" (the request was refused, so it had no effect)."""

RETRYABLE_ERROR_CODES: frozenset[str] = THROTTLING_ERROR_CODES | frozenset(
    {
        "InternalServerException",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
"""AWS error codes that mean "try again later"."""

# What botocore's standard retry mode treats as transient: no connection, a
# connection lost or timed out, a proxy or TLS failure, an answer cut short.
_CONNECTION_ERRORS = (BotoConnectionError, HTTPClientError)
# Raised before a byte of the request left this host: no connection could be
# opened (DNS failure, refused, connect timeout), or botocore refused to build,
# sign or route the request.
_NEVER_SENT = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ParamValidationError,
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    NoRegionError,
)

_ACCESS = {
    "AccessDeniedException",
    "AccessDenied",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
}
_VALIDATION = {
    "ValidationException",
    "InvalidParameterValue",
    "InvalidParameter",
    "MissingParameter",
}


def _code_and_status(error: ClientError) -> tuple[str, int]:
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def is_retryable(error: BaseException) -> bool:
    """Return whether a request that raised ``error`` may succeed if made again later.

    Retryable: throttling codes and HTTP 429, other 5xx answers except 501
    (not implemented), and connection errors. A library error answers with
    its own ``retryable`` (decided when it was translated); a botocore error
    is classified here, so both layers share one definition.
    """
    if isinstance(error, DrsOrchestrationError):
        return error.retryable
    if isinstance(error, _CONNECTION_ERRORS):
        return True
    if isinstance(error, ClientError):
        code, status = _code_and_status(error)
        # 501 means "not implemented": asking again cannot help.
        return code in RETRYABLE_ERROR_CODES or (status >= 500 and status != 501) or status == 429
    return False


def may_have_applied(error: BaseException) -> bool:
    """Return whether a request that raised ``error`` may have taken effect in AWS.

    ``False`` only when the failure proves it did not: a throttling answer
    (code or HTTP 429), any other 4xx refusal, or a failure before the
    request was sent (no connection, invalid parameters, no credentials or
    region). A 5xx answer, a read timeout, a connection closed mid-request or
    an unreadable response leave the outcome unknown: ``True``.
    """
    if isinstance(error, AwsApiError):
        return error.maybe_applied
    if isinstance(error, DrsOrchestrationError):
        return False
    if isinstance(error, ClientError):
        code, status = _code_and_status(error)
        if code in THROTTLING_ERROR_CODES or status == 429:
            return False
        return status >= 500 or status == 0
    if isinstance(error, _NEVER_SENT):
        return False
    return isinstance(error, HTTPClientError | BotoCoreError | ResponseParserError)


def is_endpoint_unreachable(error: BaseException) -> bool:
    """Return whether no connection to the AWS endpoint could be opened (DNS, refused, timeout)."""
    cause = error.__cause__ if isinstance(error, AwsApiError) else error
    return isinstance(cause, EndpointConnectionError | ConnectTimeoutError)


def _unreachable_reason(error: BotoCoreError) -> str:
    if isinstance(error, ConnectTimeoutError):
        return "connection timed out"
    cause: BaseException | None = error.kwargs.get("error")
    while cause is not None:
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return "the host name did not resolve"
        cause = cause.__cause__
    return "connection failed"


def error_class_for(aws_code: str) -> type[AwsApiError]:
    """Return the library error class for an AWS error code."""
    if aws_code in THROTTLING_ERROR_CODES:
        return ThrottledError
    if aws_code in _ACCESS:
        return AwsAccessDeniedError
    if aws_code == "ResourceNotFoundException" or aws_code.endswith(".NotFound"):
        return AwsResourceNotFoundError
    if aws_code == "ConflictException":
        return AwsConflictError
    if aws_code == "ServiceQuotaExceededException":
        return ServiceQuotaExceededError
    if aws_code in _VALIDATION or aws_code.startswith("InvalidParameter"):
        return AwsValidationError
    return AwsApiError


@contextmanager
def translate_aws_errors(
    service: str,
    operation: str,
    *,
    region: str | None = None,
    account_id: str | None = None,
    resource_ids: Sequence[str] = (),
) -> Iterator[None]:
    """Turn botocore errors raised inside the block into :class:`AwsApiError` subclasses.

    The library error keeps the AWS error code, request ID, operation, account,
    region and the resource IDs the call was about, and whether the request is
    ``retryable`` and ``maybe_applied``; the botocore error stays on ``__cause__``.
    A missing region becomes a :class:`~drs_orchestration.errors.ValidationError`
    naming the settings that provide one.

    Examples:
        >>> with translate_aws_errors("drs", "StartRecovery", region="us-east-1",
        ...                           resource_ids=server_ids):
        ...     drs.start_recovery(sourceServers=[...], isDrill=True)
    """
    where = "/".join(p for p in (account_id, region) if p) or "default account/region"
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code") or "Unknown")
        message = str(error.get("Message") or exc)
        cls = error_class_for(code)
        raise cls(
            f"{service} {exc.operation_name or operation} failed in {where}: {code}: {message}",
            aws_code=code,
            operation=exc.operation_name or operation,
            service=service,
            request_id=meta.get("RequestId"),
            aws_http_status=meta.get("HTTPStatusCode"),
            account_id=account_id,
            region=region,
            resource_ids=resource_ids,
            retryable=is_retryable(exc),
            maybe_applied=may_have_applied(exc),
        ) from exc
    except ParamValidationError as exc:
        raise AwsValidationError(
            f"{service} {operation}: request rejected by the service model: {exc}",
            aws_code="ParamValidationError",
            operation=operation,
            service=service,
            account_id=account_id,
            region=region,
            resource_ids=resource_ids,
            retryable=False,
        ) from exc
    except NoCredentialsError as exc:
        raise AwsAccessDeniedError(
            f"{service} {operation} in {where}: no AWS credentials found; configure a profile "
            "(AWS_PROFILE), environment variables (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY) or an instance/task role",
            aws_code="NoCredentials",
            operation=operation,
            service=service,
            account_id=account_id,
            region=region,
            resource_ids=resource_ids,
            retryable=False,
        ) from exc
    except NoRegionError as exc:
        raise ValidationError.for_field(
            "region",
            region,
            f"{service} {operation}: no AWS region given; pass a region or set AWS_REGION "
            "(or AWS_DEFAULT_REGION, or a profile's region)",
        ) from exc
    except (EndpointConnectionError, ConnectTimeoutError) as exc:
        endpoint = exc.kwargs.get("endpoint_url") or "its endpoint"
        raise AwsApiError(
            f"{service} {operation} in {where}: could not reach the endpoint {endpoint} "
            f"({_unreachable_reason(exc)}); check the region, the endpoint URL and "
            "network/DNS access",
            aws_code=type(exc).__name__,
            operation=operation,
            service=service,
            account_id=account_id,
            region=region,
            resource_ids=resource_ids,
            retryable=True,
            maybe_applied=False,
        ) from exc
    except (BotoCoreError, ResponseParserError) as exc:
        # An answer botocore could not parse is not a BotoCoreError, but is as much
        # an AWS failure: it must not escape untranslated.
        raise AwsApiError(
            f"{service} {operation} failed in {where}: {type(exc).__name__}: {exc}",
            aws_code=type(exc).__name__,
            operation=operation,
            service=service,
            account_id=account_id,
            region=region,
            resource_ids=resource_ids,
            retryable=is_retryable(exc),
            maybe_applied=may_have_applied(exc),
        ) from exc
