"""Client factories: where boto3 clients come from (session, region, account).

Services never create boto3 clients themselves; they ask a
:class:`ClientFactory`. Swap the factory to change credentials (a profile,
cross-account AssumeRole) or to test against the DRS simulator.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload, runtime_checkable

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from drs_orchestration._version import __version__
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import CrossAccountError, ValidationError
from drs_orchestration.models.account import AccountContext

if TYPE_CHECKING:
    from botocore.client import BaseClient
    from mypy_boto3_drs import DrsClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_sts import STSClient

__all__ = [
    "USER_AGENT_EXTRA",
    "AssumeRoleClientFactory",
    "ClientFactory",
    "SessionClientFactory",
    "check_region",
    "default_config",
    "library_session",
    "parse_aws_timestamp",
    "request_timeout_bound_s",
    "use_fast_timestamps",
]

logger = logging.getLogger(__name__)

USER_AGENT_EXTRA = f"drs-orchestration/{__version__}"


CONNECT_TIMEOUT_S = 10.0
"""Default seconds to open a connection (TCP and TLS) to an AWS endpoint."""
READ_TIMEOUT_S = 60.0
"""Default seconds to wait for (each read of) an AWS answer once the request is sent."""

# botocore's own defaults, for a config that leaves a timeout unset.
_BOTOCORE_TIMEOUT_S = 60.0
# botocore's longest wait between its own retries (standard mode caps at 20 s).
_BOTOCORE_MAX_BACKOFF_S = 20.0
# botocore's attempts when no retry configuration is given (legacy mode: 4 retries).
_BOTOCORE_DEFAULT_ATTEMPTS = 5


def parse_aws_timestamp(value: str | int | float) -> datetime:
    """Parse a timestamp of an AWS response as botocore does, ISO 8601 text without dateutil.

    botocore hands every timestamp to ``dateutil``, which costs about a third
    of parsing an EC2 ``DescribeInstances`` answer. AWS sends ISO 8601 text
    (``2026-11-29T01:29:48.000Z``), which :meth:`datetime.fromisoformat`
    reads to the same instant; anything else (epoch seconds, RFC 822 dates)
    goes to botocore's own parser.
    """
    if isinstance(value, str) and value[4:5] == "-" and value[10:11] in ("T", " "):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    # botocore's stubs say text, but its parser takes epoch numbers too.
    return botocore_parse_timestamp(value)  # type: ignore[arg-type]


def use_fast_timestamps(core: botocore.session.Session) -> botocore.session.Session:
    """Make the clients of ``core`` parse timestamps with :func:`parse_aws_timestamp`.

    Only for sessions the library creates: a session the caller passes in is
    theirs, and its parsing is left as they set it.
    """
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_aws_timestamp
    )
    return core


def library_session(**kwargs: Any) -> boto3.Session:
    """A new boto3 session whose clients parse timestamps with :func:`parse_aws_timestamp`.

    ``kwargs`` are :class:`boto3.Session`'s (profile, region, credentials).

    Examples:
        >>> clients = SessionClientFactory(session=library_session(profile_name="dr"))
    """
    core = kwargs.pop("botocore_session", None) or botocore.session.get_session()
    return boto3.Session(botocore_session=use_fast_timestamps(core), **kwargs)


def default_config(config: Config | None = None) -> Config:
    """Botocore config for every client the library makes, merged under ``config``.

    - ``retries={"total_max_attempts": 1}``: botocore never retries, so the
      library's :class:`~drs_orchestration.aws.retry.RetryPolicy` is the one
      layer that does (its attempts are HTTP requests, its waits go through
      its injectable ``sleep``).
    - ``connect_timeout`` :data:`CONNECT_TIMEOUT_S` (10 s) and ``read_timeout``
      :data:`READ_TIMEOUT_S` (60 s): DRS and EC2 answer in seconds; these bound
      how long one request can stay in flight
      (:func:`request_timeout_bound_s`).
    - ``tcp_keepalive``: a connection silently dropped by a NAT or firewall
      during a long poll is noticed instead of hanging.
    - the user-agent suffix ``drs-orchestration/<version>``.

    Keys set in ``config`` win (``retries`` as a whole, when given).
    """
    base = Config(
        user_agent_extra=USER_AGENT_EXTRA,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        tcp_keepalive=True,
    )
    return base.merge(config) if config is not None else base


def _botocore_attempts(config: Config) -> int:
    # botocore's Config sets its options as attributes the stubs do not declare.
    retries: dict[str, Any] | None = getattr(config, "retries", None)
    if not retries:
        return _BOTOCORE_DEFAULT_ATTEMPTS
    if "total_max_attempts" in retries:
        return max(1, int(retries["total_max_attempts"]))
    if "max_attempts" in retries:
        # botocore's ``max_attempts`` counts retries, not the first attempt.
        return max(1, int(retries["max_attempts"]) + 1)
    return _BOTOCORE_DEFAULT_ATTEMPTS


def request_timeout_bound_s(config: Config) -> float:
    """The longest one client call under ``config`` can keep a request in flight.

    Each botocore attempt waits at most ``connect_timeout`` to connect and
    ``read_timeout`` for the answer (botocore applies it to each read; DRS
    and EC2 answers are small enough to arrive at once), and botocore's own
    retries (off in :func:`default_config`) add attempts and waits of up to
    20 s. With the defaults this is 70 s. A logical call retried by a
    :class:`~drs_orchestration.aws.retry.RetryPolicy` lasts at most
    ``policy.call_timeout_bound_s(request_timeout_bound_s(config))``.

    The executor bounds its claim lease from below with this: until then a
    chunk's ``StartRecovery`` may still reach DRS, so the chunk must not be
    taken over (and started again) before. It bounds how long this host
    waits, not how long AWS may take to act on a request it received; the
    search for a chunk's job by its tags covers that.

    Args:
        config: The botocore config of the client (``factory.config``).
    """
    connect = float(getattr(config, "connect_timeout", None) or _BOTOCORE_TIMEOUT_S)
    read = float(getattr(config, "read_timeout", None) or _BOTOCORE_TIMEOUT_S)
    attempts = _botocore_attempts(config)
    return attempts * (connect + read) + (attempts - 1) * _BOTOCORE_MAX_BACKOFF_S


def check_region(region: str) -> str:
    """Return ``region`` if it names one, else raise ``ValidationError`` naming the field.

    An empty region would make botocore fall back to the environment's
    region silently (or fail with ``NoRegionError`` deep inside a call).
    """
    if not isinstance(region, str) or not region.strip():
        raise ValidationError.for_field(
            "region",
            region,
            "must name an AWS region such as 'us-east-1' (or set AWS_REGION)",
        )
    return region


@runtime_checkable
class ClientFactory(Protocol):
    """Hands out boto3 clients per service, region and account.

    Implementations must be safe to call from several threads and should
    cache clients (they are thread-safe and expensive to build).
    """

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
        """Return a client for ``service`` in ``region`` (in ``account`` if given)."""
        ...


_ClientKey = tuple[str, str, tuple[str, str | None, str | None] | None]


class SessionClientFactory:
    """Clients from one boto3 session, cached per (service, region, account).

    An :class:`AccountContext` that names a role is refused (use
    :class:`AssumeRoleClientFactory`); one without a role must be the
    caller's own account, which is checked once with ``GetCallerIdentity``.
    The factory never falls back to the caller's credentials for another
    account.

    Args:
        session: The boto3 session to use (default: a new session from the
            default credential chain, created on first use, never at import,
            whose clients parse timestamps faster: :func:`library_session`).
        config: botocore config merged over the defaults (user agent
            ``drs-orchestration/<version>``, botocore retries off, timeouts;
            see :func:`default_config`).
        retry: Retries of the factory's own STS calls (``GetCallerIdentity``,
            ``AssumeRole``), botocore's being off (default: :class:`RetryPolicy`).
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        config: Config | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._session = session
        self._config = default_config(config)
        self._retry = retry or RetryPolicy()
        self._clients: dict[_ClientKey, Any] = {}
        self._lock = threading.RLock()
        self._caller_account: str | None = None

    @property
    def session(self) -> boto3.Session:
        """The boto3 session clients are made from."""
        with self._lock:
            if self._session is None:
                self._session = library_session()
            return self._session

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
    def client(self, service: str, region: str, account: AccountContext | None = None) -> Any:
        """Return a cached client for ``service`` in ``region`` (and ``account``).

        Raises:
            ValidationError: if ``region`` is empty.
            CrossAccountError: if ``account`` cannot be reached with this factory.
        """
        check_region(region)
        key: _ClientKey = (service, region, account.cache_key() if account else None)
        with self._lock:
            cached = self._clients.get(key)
            if cached is not None:
                return cached
            session = self._session_for(account, region)
            created = session.client(service, region_name=region, config=self._config)  # type: ignore[call-overload]
            self._clients[key] = created
            return created

    def _session_for(self, account: AccountContext | None, region: str) -> boto3.Session:
        if account is None:
            return self.session
        if account.resolved_role_arn is not None:
            raise CrossAccountError(
                f"account {account.account_id} names role {account.resolved_role_arn}, "
                "but SessionClientFactory does not assume roles; use AssumeRoleClientFactory",
                details={"accountId": account.account_id, "roleArn": account.resolved_role_arn},
            )
        caller = self.caller_account_id(region)
        if caller != account.account_id:
            raise CrossAccountError(
                f"account {account.account_id} has no role to assume and the current "
                f"credentials belong to account {caller}; set role_arn or role_name",
                details={"accountId": account.account_id, "callerAccountId": caller},
            )
        return self.session

    def caller_account_id(self, region: str) -> str:
        """The account of the session's own credentials (``GetCallerIdentity``, cached)."""
        with self._lock:
            if self._caller_account is None:
                sts = self.session.client("sts", region_name=region, config=self._config)
                try:
                    self._caller_account = str(self._retry.call(sts.get_caller_identity)["Account"])
                except (ClientError, BotoCoreError) as exc:
                    raise CrossAccountError(
                        f"could not determine the caller's account: {type(exc).__name__}",
                        details={"region": region},
                    ) from exc
            return self._caller_account


class AssumeRoleClientFactory(SessionClientFactory):
    """Cross-account clients through STS ``AssumeRole``.

    For an :class:`AccountContext` with a role, the factory assumes that role
    (with the context's own ``external_id`` and ``session_name``) using
    botocore's refreshable credentials, so they renew before they expire; one
    credential set is kept per (account, role, external ID). Contexts without
    a role, and ``account=None``, use the source session as
    :class:`SessionClientFactory` does.

    Args:
        session: The source session whose credentials assume the roles.
        config: botocore config merged over the defaults.
        retry: Retries of the factory's own STS calls.
        duration_s: Requested lifetime of assumed-role credentials.
        sts_region: Region of the STS endpoint used for AssumeRole (default:
            the region of the first client requested).

    Raises:
        CrossAccountError: (from :meth:`client`) naming the role and account
            when AssumeRole fails; credentials are never included.
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        config: Config | None = None,
        *,
        retry: RetryPolicy | None = None,
        duration_s: int = 3600,
        sts_region: str | None = None,
    ) -> None:
        super().__init__(session, config, retry=retry)
        if not 900 <= duration_s <= 43200:
            raise ValidationError.for_field(
                "duration_s", duration_s, "must be between 900 and 43200 seconds (STS's limits)"
            )
        self._duration_s = duration_s
        self._sts_region = sts_region
        self._role_sessions: dict[tuple[str, str | None, str | None], boto3.Session] = {}

    def _session_for(self, account: AccountContext | None, region: str) -> boto3.Session:
        if account is None or account.resolved_role_arn is None:
            return super()._session_for(account, region)
        key = account.cache_key()
        cached = self._role_sessions.get(key)
        if cached is None:
            cached = self._assume(account, self._sts_region or account.region or region)
            self._role_sessions[key] = cached
        return cached

    def _assume(self, account: AccountContext, sts_region: str) -> boto3.Session:
        role_arn = account.resolved_role_arn
        assert role_arn is not None
        source = self.session
        source_credentials = source.get_credentials()
        if source_credentials is None:
            raise CrossAccountError(
                f"cannot assume {role_arn} in account {account.account_id}: "
                "the source session has no credentials",
                details={"accountId": account.account_id, "roleArn": role_arn},
            )
        extra_args: dict[str, Any] = {
            "RoleSessionName": account.session_name,
            "DurationSeconds": self._duration_s,
        }
        if account.external_id is not None:
            extra_args["ExternalId"] = account.external_id
        config = self._config

        def create_sts_client(service_name: str, **kwargs: Any) -> Any:
            kwargs.setdefault("region_name", sts_region)
            return source.client(service_name, config=config, **kwargs)  # type: ignore[call-overload]

        fetcher = AssumeRoleCredentialFetcher(
            client_creator=create_sts_client,
            source_credentials=source_credentials,
            role_arn=role_arn,
            extra_args=extra_args,
        )
        try:
            # Fetch now rather than on the first DRS call, so a bad role fails here,
            # named as a cross-account problem, instead of inside some later operation.
            metadata = self._retry.call(fetcher.fetch_credentials)
        except (ClientError, BotoCoreError) as exc:
            code = (
                exc.response.get("Error", {}).get("Code", "")
                if isinstance(exc, ClientError)
                else type(exc).__name__
            )
            raise CrossAccountError(
                f"could not assume role {role_arn} in account {account.account_id}: {code}",
                details={
                    "accountId": account.account_id,
                    "roleArn": role_arn,
                    "externalIdSet": account.external_id is not None,
                    "awsCode": code,
                },
            ) from exc
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=metadata,
            refresh_using=fetcher.fetch_credentials,
            method="assume-role",
        )
        core = use_fast_timestamps(botocore.session.get_session())
        # botocore has no public setter for a session's credential object; this is the
        # documented-by-practice way to hand a session refreshable credentials.
        core._credentials = credentials  # type: ignore[attr-defined]
        logger.info(
            "assumed role",
            extra={"accountId": account.account_id, "roleArn": role_arn},
        )
        return boto3.Session(botocore_session=core, region_name=sts_region)
