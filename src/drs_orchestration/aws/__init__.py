"""AWS access: client factories, the retry policy and error translation.

This package is the only place in the library that talks to AWS.
"""

from drs_orchestration.aws.clients import (
    AssumeRoleClientFactory,
    ClientFactory,
    SessionClientFactory,
    default_config,
)
from drs_orchestration.aws.errors import translate_aws_errors
from drs_orchestration.aws.retry import RETRYABLE_ERROR_CODES, RetryPolicy, is_retryable

__all__ = [
    "RETRYABLE_ERROR_CODES",
    "AssumeRoleClientFactory",
    "ClientFactory",
    "RetryPolicy",
    "SessionClientFactory",
    "default_config",
    "is_retryable",
    "translate_aws_errors",
]
