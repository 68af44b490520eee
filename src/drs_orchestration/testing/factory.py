"""``SimulatedClientFactory``: a :class:`~drs_orchestration.aws.ClientFactory` for tests.

It hands out real boto3 clients (``drs``, ``ec2``, ``sts``, ``dynamodb``...)
with fake credentials, so DRS calls reach the simulator and the rest reach
moto. Clients are configured exactly as the production factories configure
them (:func:`~drs_orchestration.aws.default_config`: botocore's own retries
off, the library's :class:`~drs_orchestration.aws.RetryPolicy` the one
layer that retries), so tests see what production does and never sleep
through botocore's backoff.

For an :class:`~drs_orchestration.models.AccountContext` of another
account, the credentials are ones the simulator (and moto, when active)
attribute to that account: moto STS ``AssumeRole`` into the context's role
when moto is active, simulator-issued keys otherwise.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, overload

from botocore.config import Config

from drs_orchestration.aws.clients import check_region, default_config
from drs_orchestration.errors import CrossAccountError
from drs_orchestration.models.account import AccountContext
from drs_orchestration.testing.ec2 import DEFAULT_CREDENTIALS, Credentials, moto_active
from drs_orchestration.testing.handler import active_simulator
from drs_orchestration.testing.service import DEFAULT_ACCOUNT_ID

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_drs import DrsClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sts import STSClient

    from drs_orchestration.testing.simulator import DrsSimulator

__all__ = ["SimulatedClientFactory"]


class SimulatedClientFactory:
    """Clients for tests against the DRS simulator (and moto), cached per service, region, account.

    Args:
        sim: The simulator that issues credentials for other accounts (default:
            the one active when a client is first requested).
        config: botocore config merged over the defaults, as for
            :class:`~drs_orchestration.aws.SessionClientFactory`.

    Examples:
        >>> factory = SimulatedClientFactory(sim)
        >>> drs = factory.client("drs", "us-east-1")
        >>> other = factory.client("drs", "us-east-1", AccountContext(
        ...     account_id="222222222222", role_name="DRSOrchestrationRole"))
    """

    def __init__(self, sim: DrsSimulator | None = None, *, config: Config | None = None) -> None:
        self._sim = sim
        self._config = default_config(config)
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str, tuple[str, str | None, str | None] | None], Any] = {}
        self._credentials: dict[tuple[str, str | None, str | None], Credentials] = {}

    @property
    def config(self) -> Config:
        """The botocore config every client gets."""
        return self._config

    @overload
    def client(
        self, service: Literal["drs"], region: str, account: AccountContext | None = None
    ) -> DrsClient: ...
    @overload
    def client(
        self, service: Literal["ec2"], region: str, account: AccountContext | None = None
    ) -> EC2Client: ...
    @overload
    def client(
        self, service: Literal["sts"], region: str, account: AccountContext | None = None
    ) -> STSClient: ...
    @overload
    def client(
        self, service: Literal["dynamodb"], region: str, account: AccountContext | None = None
    ) -> DynamoDBClient: ...
    def client(
        self, service: str, region: str, account: AccountContext | None = None
    ) -> BaseClient:
        """Return a cached client for ``service`` in ``region``, acting in ``account``.

        Raises:
            ValidationError: if ``region`` is empty.
            CrossAccountError: for another account when neither a simulator nor
                moto is active to issue its credentials.
        """
        check_region(region)
        key = (service, region, account.cache_key() if account else None)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
            credentials = self._credentials_for(account)
            created = credentials.session(region).client(service, config=self._config)  # type: ignore[call-overload]
            self._clients[key] = created
            return created  # type: ignore[no-any-return]

    def _credentials_for(self, account: AccountContext | None) -> Credentials:
        if account is None or (
            account.account_id == DEFAULT_ACCOUNT_ID and account.resolved_role_arn is None
        ):
            return DEFAULT_CREDENTIALS
        key = account.cache_key()
        cached = self._credentials.get(key)
        if cached is not None:
            return cached
        if moto_active():
            fresh = self._assume_in_moto(account)
        else:
            sim = self._sim or active_simulator()
            if sim is None:
                raise CrossAccountError(
                    f"cannot make credentials for account {account.account_id}: no DRS simulator "
                    "is active and moto's mock_aws() is not either",
                    details={"accountId": account.account_id},
                )
            fresh = sim.credentials_for(account.account_id)
        self._credentials[key] = fresh
        return fresh

    def _assume_in_moto(self, account: AccountContext) -> Credentials:
        sts = DEFAULT_CREDENTIALS.session("us-east-1").client("sts", config=self._config)
        role_arn = account.resolved_role_arn or (
            f"arn:{account.partition}:iam::{account.account_id}:role/drs-simulator"
        )
        kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": account.session_name}
        if account.external_id is not None:
            kwargs["ExternalId"] = account.external_id
        issued = sts.assume_role(**kwargs)["Credentials"]
        return Credentials(issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"])
