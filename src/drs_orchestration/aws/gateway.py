"""What every service gateway shares: one retry policy, one error boundary, paginated reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from drs_orchestration.aws.errors import translate_aws_errors
from drs_orchestration.aws.retry import RetryPolicy

if TYPE_CHECKING:
    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.models.account import AccountContext

__all__ = ["ServiceGateway"]

T = TypeVar("T")


def _fetch_page(paginator: Any, params: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = paginator.paginate(
        **params, PaginationConfig=config
    ).build_full_result()
    return result


class ServiceGateway:
    """Base of the per-service gateways: calls in one region and account.

    Every call is retried by :attr:`retry` and translated by
    :func:`~drs_orchestration.aws.errors.translate_aws_errors` with the
    account, region and resource IDs it concerned.
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
        with translate_aws_errors(
            self.service,
            operation,
            region=self.region,
            account_id=self.account_id,
            resource_ids=resource_ids,
        ):
            return self.retry.call(fn, **params)

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
            page = self._call(
                operation,
                _fetch_page,
                resource_ids=resource_ids,
                paginator=paginator,
                params=params,
                config=config,
            )
            items.extend(page.get(result_key, []))
            token = page.get("NextToken")
            if not token:
                return items
