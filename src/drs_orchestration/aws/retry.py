"""The retry policy for AWS calls, built from tenacity strategies.

Retried: throttling, ``InternalServerException`` and other 5xx answers, and
connection errors, with exponential backoff and jitter, bounded by attempts
and total time. Never retried: validation, access, not-found and conflict
errors (retrying them only delays the real answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import tenacity
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

__all__ = ["RETRYABLE_ERROR_CODES", "THROTTLING_ERROR_CODES", "RetryPolicy", "is_retryable"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

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
"""AWS error codes that mean "slow down"."""

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

_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
)


def is_retryable(error: BaseException) -> bool:
    """Return whether an AWS call that raised ``error`` is worth retrying."""
    if isinstance(error, _CONNECTION_ERRORS):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        # 501 means "not implemented": asking again cannot help.
        return code in RETRYABLE_ERROR_CODES or (status >= 500 and status != 501) or status == 429
    return False


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    logger.warning(
        "retrying AWS call after a transient error",
        extra={
            "attempt": state.attempt_number,
            "awsErrorCode": code or type(error).__name__,
            "sleepSeconds": round(state.upcoming_sleep, 3),
        },
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient AWS errors.

    Attributes:
        max_attempts: Attempts in total, the first included.
        initial_wait_s: Base of the exponential backoff.
        max_wait_s: Cap on the exponential part of one wait (jitter adds up to
            ``initial_wait_s`` on top).
        max_total_s: Give up once this much time has passed since the first attempt.
        sleep: How to wait; tests pass a no-op or a fake clock's sleep.

    Example:
        >>> policy = RetryPolicy(max_attempts=5)
        >>> jobs = policy.call(drs.describe_jobs, filters={"jobIDs": [job_id]})
    """

    max_attempts: int = 8
    initial_wait_s: float = 0.5
    max_wait_s: float = 20.0
    max_total_s: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (got {self.max_attempts})")
        if self.initial_wait_s < 0 or self.max_wait_s < 0 or self.max_total_s <= 0:
            raise ValueError("waits must be non-negative and max_total_s positive")

    def retrying(self) -> tenacity.Retrying:
        """A fresh tenacity ``Retrying`` implementing this policy (re-raises the last error)."""
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_retryable),
            stop=tenacity.stop_after_attempt(self.max_attempts)
            | tenacity.stop_after_delay(self.max_total_s),
            # Exponential growth keeps a floor under each wait; the random part spreads
            # concurrent callers so they do not retry in lockstep.
            wait=tenacity.wait_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s)
            + tenacity.wait_random(0, self.initial_wait_s),
            sleep=self.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)``, retrying transient AWS errors per this policy."""
        return self.retrying()(fn, *args, **kwargs)

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)
