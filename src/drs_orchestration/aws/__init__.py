"""AWS access: client factories, the retry policy, error translation and the DRS quotas.

This package is the only place in the library that talks to AWS.
"""

from drs_orchestration.aws.clients import (
    AssumeRoleClientFactory,
    ClientFactory,
    SessionClientFactory,
    default_config,
    library_session,
    parse_aws_timestamp,
    request_timeout_bound_s,
)
from drs_orchestration.aws.errors import (
    RETRYABLE_ERROR_CODES,
    is_retryable,
    may_have_applied,
    translate_aws_errors,
)
from drs_orchestration.aws.quotas import DrsQuotas
from drs_orchestration.aws.retry import NON_IDEMPOTENT_OPERATIONS, RetryPolicy

__all__ = [
    "NON_IDEMPOTENT_OPERATIONS",
    "RETRYABLE_ERROR_CODES",
    "AssumeRoleClientFactory",
    "ClientFactory",
    "DrsQuotas",
    "RetryPolicy",
    "SessionClientFactory",
    "default_config",
    "is_retryable",
    "library_session",
    "may_have_applied",
    "parse_aws_timestamp",
    "request_timeout_bound_s",
    "translate_aws_errors",
]
