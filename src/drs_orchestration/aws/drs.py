"""A small typed gateway over the DRS client: retries, error translation, pagination, chunking.

Every DRS call the library makes goes through :class:`DrsGateway`, so each
one is retried by the same :class:`~drs_orchestration.aws.retry.RetryPolicy`,
translated into library errors with its account, region and resource IDs,
and validated by the real botocore client against the service model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from drs_orchestration.aws.clients import request_timeout_bound_s
from drs_orchestration.aws.clock import ServiceClock, service_clock
from drs_orchestration.aws.gateway import ServiceGateway

if TYPE_CHECKING:
    from mypy_boto3_drs import DrsClient
    from mypy_boto3_drs.type_defs import (
        GetFailbackReplicationConfigurationResponseTypeDef,
        JobLogTypeDef,
        JobTypeDef,
        LaunchConfigurationTemplateTypeDef,
        LaunchConfigurationTypeDef,
        RecoveryInstanceTypeDef,
        RecoverySnapshotTypeDef,
        SourceServerTypeDef,
    )

    from drs_orchestration.aws.ec2 import Ec2Gateway


__all__ = [
    "MAX_IDS_PER_FILTER",
    "MAX_SERVERS_PER_CALL",
    "DrsGateway",
    "chunked",
    "drs_timestamp",
    "parse_drs_duration",
    "parse_drs_timestamp",
]

T = TypeVar("T")

MAX_SERVERS_PER_CALL = 200
"""The service model's limit on ``StartRecovery`` servers and ``TerminateRecoveryInstances`` IDs."""
MAX_IDS_PER_FILTER = 200
"""The service model's limit on ID lists in describe filters."""


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Split ``items`` into consecutive lists of at most ``size``."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1 (got {size})")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def drs_timestamp(moment: datetime) -> str:
    """Format a datetime the way DRS filters want it (UTC, ``2026-11-23T10:00:00Z``)."""
    if moment.tzinfo is None:
        raise ValueError("DRS timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_drs_timestamp(value: str) -> datetime:
    """Parse a DRS ISO-8601 timestamp string (``...Z`` or with an offset) into an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_drs_duration(value: object) -> float | None:
    """Seconds in a DRS lag (``lagDuration``), or ``None`` when it cannot be read.

    Source servers report the lag as an ISO 8601 duration (``PT1H2M``); the
    model types the same field on recovery instances as a date-time string.
    A lag is informational, so anything else reads as unknown, never an error.
    """
    if not isinstance(value, str):
        return None
    match = _ISO_DURATION.match(value.strip())
    if match is None or value.strip() in ("P", "PT") or value.strip().endswith("T"):
        return None
    parts = {name: float(number) if number else 0.0 for name, number in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


class DrsGateway(ServiceGateway):
    """DRS operations in one region (and account), with retries and error translation.

    Args:
        clients: Where the DRS client comes from.
        region: The region to work in.
        account: The account to work in (``None``: the factory's own).
        retry: Retry policy for every call (default: :class:`RetryPolicy`).
        page_size: ``maxResults`` of each page of a describe.

    Examples:
        >>> drs = DrsGateway(clients, "us-east-1")
        >>> servers = drs.describe_source_servers()
    """

    service = "drs"

    @property
    def client(self) -> DrsClient:
        """The underlying boto3 DRS client (cached by the factory)."""
        client = self._clients.client("drs", self.region, self.account)
        # Every answer feeds DRS's clock from the first call on, so the time is known
        # by the time a claim needs it.
        service_clock(client)
        return client

    def _client(self) -> Any:
        return self.client

    @property
    def clock(self) -> ServiceClock:
        """DRS's time as the ``Date`` of its last answer to this client says."""
        return service_clock(self.client)

    def request_flight_bound_s(self) -> float:
        """The longest one call of this gateway can keep a request in flight.

        The client's connect and read timeouts per attempt, over every attempt
        and wait of the gateway's retry policy. A claim on a ``StartRecovery``
        must outlast this, or another process could start the chunk while the
        first request can still reach DRS.
        """
        return self.retry.call_timeout_bound_s(request_timeout_bound_s(self.client.meta.config))

    # ---- source servers and launch configuration ----------------------------------

    def describe_source_servers(
        self,
        *,
        source_server_ids: Iterable[str] | None = None,
        staging_account_ids: Iterable[str] | None = None,
    ) -> list[SourceServerTypeDef]:
        """Every source server (or those given), all pages; ID filters chunked to the limit."""
        if source_server_ids is None:
            filters: dict[str, Any] = {}
            if staging_account_ids is not None:
                filters["stagingAccountIDs"] = list(staging_account_ids)
            return self._paginate(
                "DescribeSourceServers", "describe_source_servers", "items", filters=filters
            )
        ids = list(dict.fromkeys(source_server_ids))
        servers: list[SourceServerTypeDef] = []
        for chunk in chunked(ids, MAX_IDS_PER_FILTER):
            servers.extend(
                self._paginate(
                    "DescribeSourceServers",
                    "describe_source_servers",
                    "items",
                    resource_ids=chunk,
                    filters={"sourceServerIDs": chunk},
                )
            )
        return servers

    def get_launch_configuration(self, source_server_id: str) -> LaunchConfigurationTypeDef:
        """The DRS launch configuration of one source server."""
        return self._call(
            "GetLaunchConfiguration",
            self.client.get_launch_configuration,
            resource_ids=[source_server_id],
            sourceServerID=source_server_id,
        )

    def update_launch_configuration(
        self, source_server_id: str, fields: Mapping[str, Any]
    ) -> LaunchConfigurationTypeDef:
        """Apply DRS launch-configuration ``fields`` (DRS names) to one source server."""
        return self._call(
            "UpdateLaunchConfiguration",
            self.client.update_launch_configuration,
            resource_ids=[source_server_id],
            sourceServerID=source_server_id,
            **dict(fields),
        )

    def describe_recovery_snapshots(
        self,
        source_server_id: str,
        *,
        to_time: datetime | None = None,
        from_time: datetime | None = None,
        order: str = "DESC",
    ) -> list[RecoverySnapshotTypeDef]:
        """A server's recovery snapshots in a time window, newest first by default."""
        filters: dict[str, str] = {}
        if from_time is not None:
            filters["fromDateTime"] = drs_timestamp(from_time)
        if to_time is not None:
            filters["toDateTime"] = drs_timestamp(to_time)
        return self._paginate(
            "DescribeRecoverySnapshots",
            "describe_recovery_snapshots",
            "items",
            resource_ids=[source_server_id],
            sourceServerID=source_server_id,
            filters=filters,
            order=order,
        )

    def latest_recovery_snapshot(self, source_server_id: str) -> RecoverySnapshotTypeDef | None:
        """A server's newest recovery snapshot (one page of one item), or ``None``."""
        response = self._call(
            "DescribeRecoverySnapshots",
            self.client.describe_recovery_snapshots,
            resource_ids=[source_server_id],
            sourceServerID=source_server_id,
            order="DESC",
            maxResults=1,
        )
        items = response.get("items", [])
        return items[0] if items else None

    # ---- jobs ---------------------------------------------------------------------

    def start_recovery(
        self,
        source_servers: Sequence[Mapping[str, str]],
        *,
        is_drill: bool,
        tags: Mapping[str, str] | None = None,
    ) -> JobTypeDef:
        """Start one recovery (or drill) job.

        Args:
            source_servers: ``{"sourceServerID": ..., "recoverySnapshotID": ...}`` items
                (the only two fields DRS accepts per server).
            is_drill: Launch as a drill.
            tags: Job tags.

        Raises:
            ValueError: more servers than one ``StartRecovery`` call accepts.
        """
        if not source_servers:
            raise ValueError("start_recovery needs at least one source server")
        if len(source_servers) > MAX_SERVERS_PER_CALL:
            raise ValueError(
                f"start_recovery accepts at most {MAX_SERVERS_PER_CALL} servers "
                f"(got {len(source_servers)}); split the wave into chunks"
            )
        response = self._call(
            "StartRecovery",
            self.client.start_recovery,
            resource_ids=[s["sourceServerID"] for s in source_servers],
            sourceServers=[dict(s) for s in source_servers],
            isDrill=is_drill,
            tags=dict(tags or {}),
        )
        return response["job"]

    def describe_jobs(
        self,
        *,
        job_ids: Iterable[str] | None = None,
        from_date: datetime | None = None,
        to_date: datetime | None = None,
    ) -> list[JobTypeDef]:
        """Jobs by ID (chunked) or by creation date window, all pages."""
        filters: dict[str, Any] = {}
        if from_date is not None:
            filters["fromDate"] = drs_timestamp(from_date)
        if to_date is not None:
            filters["toDate"] = drs_timestamp(to_date)
        if job_ids is None:
            return self._paginate("DescribeJobs", "describe_jobs", "items", filters=filters)
        jobs: list[JobTypeDef] = []
        for chunk in chunked(list(dict.fromkeys(job_ids)), 1000):
            jobs.extend(
                self._paginate(
                    "DescribeJobs",
                    "describe_jobs",
                    "items",
                    resource_ids=chunk,
                    filters={**filters, "jobIDs": chunk},
                )
            )
        return jobs

    def last_launch_jobs(self, source_server_ids: Sequence[str]) -> dict[str, JobTypeDef]:
        """The job of each source server's last launch (``lifeCycle.lastLaunch``), by server.

        Servers never launched, and jobs DRS no longer returns, are left out.
        Read through DRS's own records, so it depends on no clock.
        """
        job_of = {
            server["sourceServerID"]: job_id
            for server in self.describe_source_servers(source_server_ids=source_server_ids)
            if (
                job_id := (
                    ((server.get("lifeCycle") or {}).get("lastLaunch") or {}).get("initiated") or {}
                ).get("jobID")
            )
        }
        if not job_of:
            return {}
        jobs = {
            job["jobID"]: job for job in self.describe_jobs(job_ids=sorted(set(job_of.values())))
        }
        return {source: jobs[job_id] for source, job_id in job_of.items() if job_id in jobs}

    def describe_job_log_items(self, job_id: str) -> list[JobLogTypeDef]:
        """Every log item of a job (phase events per server)."""
        return self._paginate(
            "DescribeJobLogItems",
            "describe_job_log_items",
            "items",
            resource_ids=[job_id],
            jobID=job_id,
        )

    # ---- recovery instances -----------------------------------------------------------

    def describe_recovery_instances(
        self,
        *,
        recovery_instance_ids: Iterable[str] | None = None,
        source_server_ids: Iterable[str] | None = None,
    ) -> list[RecoveryInstanceTypeDef]:
        """Recovery instances (all, or filtered by IDs), all pages."""
        filters: dict[str, Any] = {}
        if source_server_ids is not None:
            filters["sourceServerIDs"] = list(dict.fromkeys(source_server_ids))
        if recovery_instance_ids is None:
            return self._paginate(
                "DescribeRecoveryInstances", "describe_recovery_instances", "items", filters=filters
            )
        found: list[RecoveryInstanceTypeDef] = []
        for chunk in chunked(list(dict.fromkeys(recovery_instance_ids)), MAX_IDS_PER_FILTER):
            found.extend(
                self._paginate(
                    "DescribeRecoveryInstances",
                    "describe_recovery_instances",
                    "items",
                    resource_ids=chunk,
                    filters={**filters, "recoveryInstanceIDs": chunk},
                )
            )
        return found

    def terminate_recovery_instances(self, recovery_instance_ids: Sequence[str]) -> JobTypeDef:
        """Terminate up to 200 recovery instances in one TERMINATE job."""
        if not recovery_instance_ids:
            raise ValueError("terminate_recovery_instances needs at least one ID")
        if len(recovery_instance_ids) > MAX_SERVERS_PER_CALL:
            raise ValueError(
                f"terminate_recovery_instances accepts at most {MAX_SERVERS_PER_CALL} IDs "
                f"(got {len(recovery_instance_ids)})"
            )
        response = self._call(
            "TerminateRecoveryInstances",
            self.client.terminate_recovery_instances,
            resource_ids=list(recovery_instance_ids),
            recoveryInstanceIDs=list(recovery_instance_ids),
        )
        return response["job"]

    # ---- failback -----------------------------------------------------------------------

    def reverse_replication(self, recovery_instance_id: str) -> str:
        """Start replicating a recovery instance back (``ReverseReplication``); return the ARN.

        On a recovery instance in the recovery region, DRS creates (or reuses)
        a source server in the origin replicating back
        (``replicationDirection=FAILBACK``); on a failed-back instance in the
        origin, replication goes to the recovery region again (re-protection).
        The ARN is that source server's (``reversedDirectionSourceServerArn``).

        Not idempotent and without a client token: a call that may have taken
        effect is raised with ``maybe_applied=True``, never sent again.
        """
        response = self._call(
            "ReverseReplication",
            self.client.reverse_replication,
            resource_ids=[recovery_instance_id],
            recoveryInstanceID=recovery_instance_id,
        )
        return str(response.get("reversedDirectionSourceServerArn") or "")

    def stop_replication(self, source_server_id: str) -> SourceServerTypeDef:
        """Stop a source server's replication (``StopReplication``: its snapshots go too)."""
        response = self._call(
            "StopReplication",
            self.client.stop_replication,
            resource_ids=[source_server_id],
            sourceServerID=source_server_id,
        )
        return response["sourceServer"]

    def disconnect_recovery_instance(self, recovery_instance_id: str) -> None:
        """Stop DRS's replication of a recovery instance; its EC2 instance stays."""
        self._call(
            "DisconnectRecoveryInstance",
            self.client.disconnect_recovery_instance,
            resource_ids=[recovery_instance_id],
            recoveryInstanceID=recovery_instance_id,
        )

    def delete_recovery_instance(self, recovery_instance_id: str) -> None:
        """Forget a disconnected recovery instance in DRS; its EC2 instance stays."""
        self._call(
            "DeleteRecoveryInstance",
            self.client.delete_recovery_instance,
            resource_ids=[recovery_instance_id],
            recoveryInstanceID=recovery_instance_id,
        )

    def start_failback_launch(
        self, recovery_instance_ids: Sequence[str], *, tags: Mapping[str, str] | None = None
    ) -> JobTypeDef:
        """Start a FAILBACK job for recovery instances ready for it (the Failback Client path).

        Not idempotent and without a client token (see :meth:`reverse_replication`).

        Raises:
            ValueError: no IDs, or more than one call accepts.
        """
        if not recovery_instance_ids:
            raise ValueError("start_failback_launch needs at least one recovery instance ID")
        if len(recovery_instance_ids) > MAX_SERVERS_PER_CALL:
            raise ValueError(
                f"start_failback_launch accepts at most {MAX_SERVERS_PER_CALL} IDs "
                f"(got {len(recovery_instance_ids)})"
            )
        response = self._call(
            "StartFailbackLaunch",
            self.client.start_failback_launch,
            resource_ids=list(recovery_instance_ids),
            recoveryInstanceIDs=list(recovery_instance_ids),
            tags=dict(tags or {}),
        )
        return response["job"]

    def stop_failback(self, recovery_instance_id: str) -> None:
        """Stop a recovery instance's failback: its failback state goes back to not started."""
        self._call(
            "StopFailback",
            self.client.stop_failback,
            resource_ids=[recovery_instance_id],
            recoveryInstanceID=recovery_instance_id,
        )

    def get_failback_replication_configuration(
        self, recovery_instance_id: str
    ) -> GetFailbackReplicationConfigurationResponseTypeDef:
        """The failback replication settings of a recovery instance."""
        return self._call(
            "GetFailbackReplicationConfiguration",
            self.client.get_failback_replication_configuration,
            resource_ids=[recovery_instance_id],
            recoveryInstanceID=recovery_instance_id,
        )

    def update_failback_replication_configuration(
        self, recovery_instance_id: str, fields: Mapping[str, Any]
    ) -> None:
        """Change a recovery instance's failback replication settings.

        ``fields`` in DRS's names: ``name``, ``bandwidthThrottling``,
        ``usePrivateIP``, ``internetProtocol``.
        """
        self._call(
            "UpdateFailbackReplicationConfiguration",
            self.client.update_failback_replication_configuration,
            resource_ids=[recovery_instance_id],
            recoveryInstanceID=recovery_instance_id,
            **dict(fields),
        )

    def launch_configuration_templates(
        self, template_ids: Iterable[str] | None = None
    ) -> list[LaunchConfigurationTemplateTypeDef]:
        """The account's launch configuration templates in this region (all pages).

        A template's ``launchIntoSourceInstance`` makes DRS launch a server
        failing back to its original region or zone into its source instance.
        """
        params: dict[str, Any] = {}
        if template_ids is not None:
            params["launchConfigurationTemplateIDs"] = list(dict.fromkeys(template_ids))
        return self._paginate(
            "DescribeLaunchConfigurationTemplates",
            "describe_launch_configuration_templates",
            "items",
            resource_ids=params.get("launchConfigurationTemplateIDs", ()),
            **params,
        )

    def ec2(self) -> Ec2Gateway:
        """The EC2 gateway of the same region, account and retry policy."""
        from drs_orchestration.aws.ec2 import Ec2Gateway

        return Ec2Gateway(
            self._clients, self.region, self.account, retry=self.retry, page_size=self.page_size
        )
