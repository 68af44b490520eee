"""The one place where botocore errors become drs-orchestration errors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ParamValidationError

from drs_orchestration.aws.retry import THROTTLING_ERROR_CODES
from drs_orchestration.errors import (
    AwsAccessDeniedError,
    AwsApiError,
    AwsConflictError,
    AwsResourceNotFoundError,
    AwsValidationError,
    ServiceQuotaExceededError,
    ThrottledError,
)

__all__ = ["error_class_for", "translate_aws_errors"]

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
    region and the resource IDs the call was about; the botocore error stays
    on ``__cause__``.

    Example:
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
        ) from exc
    except NoCredentialsError as exc:
        raise AwsAccessDeniedError(
            f"{service} {operation} in {where}: no AWS credentials found",
            aws_code="NoCredentials",
            operation=operation,
            service=service,
            account_id=account_id,
            region=region,
            resource_ids=resource_ids,
        ) from exc
    except BotoCoreError as exc:
        raise AwsApiError(
            f"{service} {operation} failed in {where}: {type(exc).__name__}: {exc}",
            aws_code=type(exc).__name__,
            operation=operation,
            service=service,
            account_id=account_id,
            region=region,
            resource_ids=resource_ids,
        ) from exc
