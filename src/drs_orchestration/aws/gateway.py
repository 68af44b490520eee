"""What every service gateway shares: one retry policy, one error boundary, paginated reads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from drs_orchestration.aws.errors import translate_aws_errors
from drs_orchestration.aws.retry import RetryPolicy, is_idempotent
from drs_orchestration.errors import AwsApiError

if TYPE_CHECKING:
    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.models.account import AccountContext

__all__ = ["ServiceGateway"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _fetch_page(paginator: Any, params: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = paginator.paginate(
        **params, PaginationConfig=config
    ).build_full_result()
    return result


class ServiceGateway:
    """Base of the per-service gateways: calls in one region and account.

    Every attempt is translated by
    :func:`~drs_orchestration.aws.errors.translate_aws_errors` (with the
    account, region and resource IDs it concerned) and the call is retried
    by :attr:`retry` on the translated error's ``retryable``. A
    non-idempotent operation
    (:data:`~drs_orchestration.aws.retry.NON_IDEMPOTENT_OPERATIONS`) is
    re-sent only after failures that prove it had no effect; otherwise its
    error is raised at once with ``maybe_applied=True``.
    """

    service: str = ""

    def __init__(
        self,
        clients: ClientFactory,
        region: str,
        account: AccountContext | None = None,
        *,
        retry: RetryPolicy | None = None,
        page_size: int = 200,
    ) -> None:
        self._clients = clients
        self.region = region
        self.account = account
        self.retry = retry or RetryPolicy()
        self.page_size = page_size

    @property
    def account_id(self) -> str | None:
        """The account ID, when an account context was given."""
        return self.account.account_id if self.account else None

    def _client(self) -> Any:
        return self._clients.client(self.service, self.region, self.account)  # type: ignore[call-overload]

    def _call(
        self,
        operation: str,
        fn: Callable[..., T],
        /,
        resource_ids: Sequence[str] = (),
        **params: Any,
    ) -> T:
        """Call the client method ``fn`` with the API parameters ``params``, retried."""
        return self._retried(
            operation, fn, resource_ids, self._with_idempotency_tokens(operation, params)
        )

    def _retried(
        self,
        operation: str,
        fn: Callable[..., T],
        resource_ids: Sequence[str],
        params: dict[str, Any],
    ) -> T:
        def attempt() -> T:
            with translate_aws_errors(
                self.service,
                operation,
                region=self.region,
                account_id=self.account_id,
                resource_ids=resource_ids,
            ):
                return fn(**params)

        idempotent = is_idempotent(self.service, operation)
        try:
            return self.retry.retrying(idempotent=idempotent)(attempt)
        except AwsApiError as exc:
            if not idempotent and exc.retryable and exc.maybe_applied:
                logger.warning(
                    "%s %s may have taken effect; not sending it again",
                    self.service,
                    operation,
                    extra={
                        "awsService": self.service,
                        "awsOperation": operation,
                        "awsErrorCode": exc.aws_code,
                        "region": self.region,
                        "accountId": self.account_id,
                        "resourceIds": list(resource_ids),
                    },
                )
            raise

    def _with_idempotency_tokens(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        # botocore fills an operation's idempotency token itself, but afresh on every
        # client call: retried here, each attempt would be a new request to AWS. One
        # token per logical call keeps the retries of, e.g., CreateLaunchTemplateVersion
        # from creating a version per attempt.
        model = self._client().meta.service_model
        if operation not in model.operation_names:
            return params
        shape = model.operation_model(operation).input_shape
        if shape is None:
            return params
        tokens = {
            name: str(uuid.uuid4())
            for name, member in shape.members.items()
            if member.metadata.get("idempotencyToken") and name not in params
        }
        return {**params, **tokens} if tokens else params

    def _paginate(
        self,
        operation: str,
        method: str,
        result_key: str,
        resource_ids: Sequence[str] = (),
        **params: Any,
    ) -> list[Any]:
        # One page per attempt: botocore's paginator resumes from the encoded token
        # of the last good page, so a throttled page is retried alone instead of
        # restarting a long listing.
        paginator = self._client().get_paginator(method)
        items: list[Any] = []
        token: str | None = None
        while True:
            config: dict[str, Any] = {"MaxItems": self.page_size, "PageSize": self.page_size}
            if token is not None:
                config["StartingToken"] = token
            page = self._retried(
                operation,
                _fetch_page,
                resource_ids,
                {"paginator": paginator, "params": params, "config": config},
            )
            items.extend(page.get(result_key, []))
            token = page.get("NextToken")
            if not token:
                return items
