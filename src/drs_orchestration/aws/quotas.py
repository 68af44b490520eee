"""The DRS account quotas every launch and termination stays within, and where to read them.

DRS limits, per account and region, the source servers in one job, the jobs
in progress and the source servers across those jobs. Starting a wave and
terminating an execution's instances both split their work into jobs that
fit, so both take one :class:`DrsQuotas`.

The defaults are the quotas AWS documents for DRS. An account's own values
come from Service Quotas (service code ``drs``) with
:meth:`DrsQuotas.from_service_quotas`:

==========================  ============  =====================================
field                       quota code    Service Quotas name
==========================  ============  =====================================
``max_servers_per_job``     L-B827C881    Max source servers in a single Job
``max_jobs_in_progress``    L-D88FAC3A    Concurrent jobs in progress
``max_servers_in_progress`` L-05AFA8C6    Max source servers in all Jobs
==========================  ============  =====================================

The codes and names are those of the Service Quotas catalogue for ``drs``
(the AWS General Reference lists the quotas by name). Assumed, because AWS
does not say so: that the codes are the same in every region and partition,
and that the quotas count every job type — launches, terminations and
failbacks alike — which is how the library treats them.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from drs_orchestration.aws.drs import MAX_SERVERS_PER_CALL
from drs_orchestration.aws.gateway import ServiceGateway
from drs_orchestration.errors import AwsAccessDeniedError, AwsApiError, ValidationError

if TYPE_CHECKING:
    from drs_orchestration.aws.clients import ClientFactory
    from drs_orchestration.aws.retry import RetryPolicy
    from drs_orchestration.models.account import AccountContext

__all__ = ["DRS_QUOTA_CODES", "DRS_SERVICE_CODE", "DrsQuotas"]

logger = logging.getLogger(__name__)

DRS_SERVICE_CODE = "drs"
"""The Service Quotas service code of Elastic Disaster Recovery."""

DRS_QUOTA_CODES: dict[str, str] = {
    "max_servers_per_job": "L-B827C881",
    "max_jobs_in_progress": "L-D88FAC3A",
    "max_servers_in_progress": "L-05AFA8C6",
}
"""The Service Quotas code of each :class:`DrsQuotas` field."""

# A deployment calling from_service_quotas on every Lambda invocation would repeat the
# same warning each time; one per account and region per process says it.
_warned: set[tuple[str | None, str]] = set()
_warned_lock = threading.Lock()


@dataclass(frozen=True)
class DrsQuotas:
    """The DRS account quotas a launch or a termination stays within (per account and region).

    The defaults are DRS's documented quotas; :meth:`from_service_quotas`
    reads the account's own.

    Attributes:
        max_servers_per_job: Source servers in one job (one ``StartRecovery``
            or ``TerminateRecoveryInstances`` call).
        max_jobs_in_progress: Jobs in progress at the same time.
        max_servers_in_progress: Source servers across all jobs in progress.

    Raises:
        ValidationError: naming the field and value that is not a whole number
            or out of range.
    """

    max_servers_per_job: int = 100
    max_jobs_in_progress: int = 20
    max_servers_in_progress: int = 500

    _FIELDS: ClassVar[tuple[str, ...]] = tuple(DRS_QUOTA_CODES)

    def __post_init__(self) -> None:
        for name in self._FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError.for_field(name, value, "must be a whole number")
        if not 1 <= self.max_servers_per_job <= MAX_SERVERS_PER_CALL:
            raise ValidationError.for_field(
                "max_servers_per_job",
                self.max_servers_per_job,
                f"must be between 1 and {MAX_SERVERS_PER_CALL}",
            )
        if self.max_jobs_in_progress < 1:
            raise ValidationError.for_field(
                "max_jobs_in_progress", self.max_jobs_in_progress, "must be at least 1"
            )
        if self.max_servers_in_progress < self.max_servers_per_job:
            raise ValidationError.for_field(
                "max_servers_in_progress",
                self.max_servers_in_progress,
                f"must be at least max_servers_per_job ({self.max_servers_per_job})",
            )

    @classmethod
    def from_service_quotas(
        cls,
        clients: ClientFactory,
        region: str,
        account: AccountContext | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> DrsQuotas:
        """The account's DRS quotas in ``region``, read from Service Quotas where permitted.

        One ``GetServiceQuota`` per quota (:data:`DRS_QUOTA_CODES`), through
        ``clients`` with the retry policy and error translation of every AWS
        call. A quota that cannot be read keeps its default: access denied
        (the caller lacks ``servicequotas:GetServiceQuota``; nothing more is
        asked), no applied value (``NoSuchResourceException``), a value that
        is not a positive whole number, or any other AWS failure once the
        retry policy gives up. Which quotas kept their default, and why, is
        logged as one warning per account and region per process. Values the
        library cannot use as they are become the nearest it can: at most
        200 servers per job (the API's limit per call) and no more than the
        servers allowed across jobs in progress.

        Args:
            clients: Where the ``service-quotas`` client comes from.
            region: The region whose quotas to read (DRS quotas are regional).
            account: The account to read them in (default: the factory's own).
            retry: Retries of each call (default: :class:`~drs_orchestration.aws.RetryPolicy`).

        Examples:
            >>> quotas = DrsQuotas.from_service_quotas(SessionClientFactory(), "us-east-1")
            >>> executor = WaveExecutor(storage, clients, quotas=quotas)
        """
        gateway = _ServiceQuotasGateway(clients, region, account, retry=retry)
        defaults = cls()
        values: dict[str, int] = {}
        fallbacks: dict[str, str] = {}
        for name, code in DRS_QUOTA_CODES.items():
            try:
                quota = gateway.get_service_quota(DRS_SERVICE_CODE, code)
            except AwsAccessDeniedError as error:
                reason = f"access denied ({error.aws_code})"
                fallbacks |= {
                    n: reason for n in DRS_QUOTA_CODES if n not in values and n not in fallbacks
                }
                break
            except AwsApiError as error:
                fallbacks[name] = (
                    "no applied value"
                    if error.aws_code == "NoSuchResourceException"
                    else f"{error.aws_code}: {error.message}"
                )
                continue
            value = quota.get("Value")
            if isinstance(value, (int, float)) and math.isfinite(value) and value >= 1:
                values[name] = int(value)
            else:
                fallbacks[name] = f"unusable value {value!r}"
        quotas = _usable(values, defaults)
        _report(gateway, quotas, fallbacks, values)
        return quotas


def _usable(values: dict[str, int], defaults: DrsQuotas) -> DrsQuotas:
    jobs = values.get("max_jobs_in_progress", defaults.max_jobs_in_progress)
    in_progress = values.get("max_servers_in_progress", defaults.max_servers_in_progress)
    per_job = values.get("max_servers_per_job", defaults.max_servers_per_job)
    # A job larger than the servers allowed in progress could never start.
    per_job = min(per_job, MAX_SERVERS_PER_CALL, in_progress)
    return DrsQuotas(
        max_servers_per_job=per_job,
        max_jobs_in_progress=jobs,
        max_servers_in_progress=in_progress,
    )


def _report(
    gateway: _ServiceQuotasGateway,
    quotas: DrsQuotas,
    fallbacks: dict[str, str],
    read: dict[str, int],
) -> None:
    extra: dict[str, Any] = {
        "region": gateway.region,
        "accountId": gateway.account_id,
        "quotas": {name: getattr(quotas, name) for name in DRS_QUOTA_CODES},
        "read": read,
    }
    if not fallbacks:
        logger.debug("read the DRS quotas from Service Quotas", extra=extra)
        return
    key = (gateway.account_id, gateway.region)
    with _warned_lock:
        first = key not in _warned
        _warned.add(key)
    logger.log(
        logging.WARNING if first else logging.DEBUG,
        "using DRS's default quotas where Service Quotas gave no value: %s",
        "; ".join(f"{name} ({reason})" for name, reason in fallbacks.items()),
        extra=extra | {"defaulted": fallbacks},
    )


class _ServiceQuotasGateway(ServiceGateway):
    """Service Quotas reads, retried and translated as every AWS call of the library."""

    service = "service-quotas"

    def get_service_quota(self, service_code: str, quota_code: str) -> dict[str, Any]:
        """The quota as ``GetServiceQuota`` describes it (``Value``, ``QuotaName``...)."""
        client = self._client()
        response = self._call(
            "GetServiceQuota",
            client.get_service_quota,
            [f"{service_code}/{quota_code}"],
            ServiceCode=service_code,
            QuotaCode=quota_code,
        )
        quota: dict[str, Any] = response.get("Quota") or {}
        return quota
