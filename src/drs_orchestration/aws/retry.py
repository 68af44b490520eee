"""The retry policy for AWS calls, built from tenacity strategies.

This is the only layer that retries an AWS request: botocore's own retries
are off (:func:`~drs_orchestration.aws.clients.default_config`), so one
logical call makes at most ``max_attempts`` HTTP requests and every wait goes
through the injectable ``sleep``.

Retried: what :func:`~drs_orchestration.aws.errors.is_retryable` says —
throttling, 429, 5xx except 501, connection errors — with exponential
backoff and jitter, bounded by attempts and total time. Never retried:
validation, access, not-found, conflict and quota errors (retrying them only
delays the real answer). An endpoint that cannot be reached at all (DNS
failure, connection refused or timed out) gets a short budget of its own,
``unreachable_attempts``, so a wrong region or a missing network fails in
seconds.

A non-idempotent operation (:data:`NON_IDEMPOTENT_OPERATIONS`) is retried
only after failures that prove the request had no effect (throttling, or no
connection); any other retryable failure is raised at once with
``maybe_applied=True``, for the caller to look for the effect instead of
sending the request again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import tenacity
from botocore.exceptions import ClientError

from drs_orchestration.aws.errors import (
    RETRYABLE_ERROR_CODES,
    THROTTLING_ERROR_CODES,
    is_endpoint_unreachable,
    is_retryable,
    may_have_applied,
)
from drs_orchestration.errors import AwsApiError, ValidationError

__all__ = [
    "NON_IDEMPOTENT_OPERATIONS",
    "RETRYABLE_ERROR_CODES",
    "THROTTLING_ERROR_CODES",
    "RetryPolicy",
    "is_idempotent",
    "is_retryable",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

NON_IDEMPOTENT_OPERATIONS: frozenset[tuple[str, str]] = frozenset(
    {
        # Each starts a DRS job and takes no client token: a request sent twice
        # can make two jobs (two launches, two terminations, two reversals).
        ("drs", "StartRecovery"),
        ("drs", "TerminateRecoveryInstances"),
        ("drs", "ReverseReplication"),
        ("drs", "StartFailbackLaunch"),
    }
)
"""(service, operation) pairs the library never re-sends after an ambiguous failure."""


def is_idempotent(service: str, operation: str) -> bool:
    """Whether sending this operation twice has the effect of sending it once."""
    return (service, operation) not in NON_IDEMPOTENT_OPERATIONS


def _safe_to_resend(error: BaseException) -> bool:
    return is_retryable(error) and not may_have_applied(error)


class _stop_when_unreachable(tenacity.stop.stop_base):  # noqa: N801 - tenacity's naming
    """Stop once ``attempts`` were made and the last one could not reach the endpoint."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        return (
            error is not None
            and is_endpoint_unreachable(error)
            and retry_state.attempt_number >= self.attempts
        )


def _describe(error: BaseException | None) -> tuple[str | None, str | None, str]:
    """(service, operation, error code) of a failed attempt, as far as the error tells."""
    if isinstance(error, AwsApiError):
        return error.service, error.operation, error.aws_code
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code") or "Unknown")
        return None, error.operation_name, code
    return None, None, type(error).__name__


def _check(name: str, value: float, *, minimum: float, inclusive: bool = True) -> None:
    ok = math.isfinite(value) and (value >= minimum if inclusive else value > minimum)
    if not ok:
        bound = f"at least {minimum:g}" if inclusive else f"greater than {minimum:g}"
        raise ValidationError.for_field(name, value, f"must be finite and {bound}")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for transient AWS errors.

    Attributes:
        max_attempts: Attempts in total, the first included (one HTTP request each).
        initial_wait_s: Base of the exponential backoff.
        max_wait_s: Cap on the exponential part of one wait (jitter adds up to
            ``initial_wait_s`` on top).
        max_total_s: No attempt starts later than this after the first one.
        sleep: How to wait; tests pass a no-op or a fake clock's sleep.
        unreachable_attempts: Attempts in total once the endpoint cannot be
            reached at all (DNS failure, connection refused or timed out).

    Raises:
        ValidationError: naming the field, for a value out of range.

    Examples:
        >>> policy = RetryPolicy(max_attempts=5)
        >>> jobs = policy.call(drs.describe_jobs, filters={"jobIDs": [job_id]})
    """

    max_attempts: int = 8
    initial_wait_s: float = 0.5
    max_wait_s: float = 20.0
    max_total_s: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    unreachable_attempts: int = 3

    def __post_init__(self) -> None:
        _check("max_attempts", self.max_attempts, minimum=1)
        _check("initial_wait_s", self.initial_wait_s, minimum=0)
        _check("max_wait_s", self.max_wait_s, minimum=0)
        _check("max_total_s", self.max_total_s, minimum=0, inclusive=False)
        _check("unreachable_attempts", self.unreachable_attempts, minimum=1)

    def retrying(self, *, idempotent: bool = True) -> tenacity.Retrying:
        """A fresh tenacity ``Retrying`` implementing this policy (re-raises the last error).

        Args:
            idempotent: ``False`` for an operation that must not be sent twice:
                only failures proving the request had no effect are retried.
        """
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_retryable if idempotent else _safe_to_resend),
            stop=tenacity.stop_any(
                tenacity.stop_after_attempt(self.max_attempts),
                tenacity.stop_before_delay(self.max_total_s),
                _stop_when_unreachable(self.unreachable_attempts),
            ),
            # Exponential growth keeps a floor under each wait; the random part spreads
            # concurrent callers so they do not retry in lockstep.
            wait=tenacity.wait_exponential(multiplier=self.initial_wait_s, max=self.max_wait_s)
            + tenacity.wait_random(0, self.initial_wait_s),
            sleep=self.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)``, retrying transient AWS errors per this policy."""
        return self.retrying()(fn, *args, **kwargs)

    def call_timeout_bound_s(self, request_timeout_s: float) -> float:
        """The longest one logical call can last, from its first request's start to its end.

        This is how long after a call began one of its requests can still reach
        AWS: every attempt lasts at most ``request_timeout_s`` (see
        :func:`~drs_orchestration.aws.clients.request_timeout_bound_s`), no
        attempt starts after ``max_total_s``, and waits between attempts are at
        most ``max_wait_s + initial_wait_s``.

        Args:
            request_timeout_s: The longest one HTTP request can stay in flight.
        """
        _check("request_timeout_s", request_timeout_s, minimum=0)
        longest_wait = self.max_wait_s + self.initial_wait_s
        by_attempts = self.max_attempts * request_timeout_s + (self.max_attempts - 1) * longest_wait
        by_time = self.max_total_s + request_timeout_s
        return min(by_attempts, by_time)

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        service, operation, code = _describe(error)
        sleep_s = round(state.upcoming_sleep, 3)
        logger.warning(
            "retrying %s %s after %s (attempt %d of %d failed; waiting %.3f s)",
            service or "aws",
            operation or "call",
            code,
            state.attempt_number,
            self.max_attempts,
            sleep_s,
            extra={
                "awsService": service,
                "awsOperation": operation,
                "awsErrorCode": code,
                "attempt": state.attempt_number,
                "maxAttempts": self.max_attempts,
                "sleepSeconds": sleep_s,
            },
        )
