"""LaunchConfigService: pre-applied launch configurations, their status, and drift.

``StartRecovery`` cannot carry per-server settings, so each server's DRS
launch configuration and EC2 launch template are applied ahead of time, when
a protection group is created or updated. The service records, per server,
the hash of the effective settings it applied; a wave later starts on the
fast path (no launch-configuration calls at all) when every hash still
matches, and re-applies first otherwise.

Servers are configured by a pool of worker threads; events are emitted
from the caller's thread only, and no worker is left calling AWS once a
method returns.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from datetime import datetime
from typing import Any

from pydantic import Field

from drs_orchestration.aws.clients import ClientFactory
from drs_orchestration.aws.drs import DrsGateway
from drs_orchestration.aws.ec2 import Ec2Gateway
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import (
    ConcurrentModificationError,
    DrsOrchestrationError,
    LaunchConfigApplicationError,
    LaunchConfigValidationError,
    ValidationError,
)
from drs_orchestration.events import (
    ConfigApplied,
    DriftDetected,
    EventSink,
    ServerConfigApplied,
    emit,
)
from drs_orchestration.models import (
    ConfigPath,
    ConfigStatus,
    DrsModel,
    LaunchConfigStatus,
    LaunchSettings,
    ProtectionGroup,
    ServerConfigStatus,
    utc_now,
)
from drs_orchestration.models.base import aware_clock, check_duration
from drs_orchestration.services.config_hash import calculate_config_hash
from drs_orchestration.services.drift import DriftReport, describe_error, local_drift, remote_drift
from drs_orchestration.services.launch_templates import merge_template_data, request_template_data
from drs_orchestration.storage.base import Storage

__all__ = ["EnsureReadyResult", "LaunchConfigService"]

logger = logging.getLogger(__name__)


class EnsureReadyResult(DrsModel):
    """What :meth:`LaunchConfigService.ensure_ready` did for a group."""

    group_id: str
    path: ConfigPath
    status: LaunchConfigStatus
    applied_servers: list[str] = Field(default_factory=list)


class _Stopped(Exception):  # noqa: N818 - control flow inside a worker, never raised to callers
    """The apply run's time is up: a worker stops before its next AWS call."""


def _overall_status(configs: dict[str, ServerConfigStatus]) -> ConfigStatus:
    states = {c.status for c in configs.values()}
    if states <= {ConfigStatus.READY}:
        return ConfigStatus.READY
    if ConfigStatus.READY in states:
        return ConfigStatus.PARTIAL
    if ConfigStatus.FAILED in states:
        return ConfigStatus.FAILED
    return ConfigStatus.PENDING


class LaunchConfigService:
    """Applies, tracks and checks the launch configurations of protection groups.

    Args:
        storage: Where groups (and their status) are kept.
        clients: Where DRS and EC2 clients come from.
        concurrency: Servers configured at the same time.
        events: Optional event sink (server applied, group applied, drift).
        retry: Retry policy for every AWS call.
        applied_by: Recorded as ``applied_by`` unless a call names someone else.
        clock: Source of timestamps (status times and event times); it must
            return timezone-aware datetimes.

    Raises:
        ValidationError: ``concurrency`` is below 1.

    Examples:
        >>> configs = LaunchConfigService(storage, clients)
        >>> status = configs.apply_to_group(group_id)
        >>> status.status, status.failed_servers()
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory,
        *,
        concurrency: int = 10,
        events: EventSink | None = None,
        retry: RetryPolicy | None = None,
        applied_by: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError.for_field("concurrency", concurrency, "must be at least 1")
        self._storage = storage
        self._clients = clients
        self._concurrency = concurrency
        self._events = events
        self._retry = retry or RetryPolicy()
        self._applied_by = applied_by
        self._clock = aware_clock(clock)

    # ---- hashing and validation ---------------------------------------------------

    @staticmethod
    def calculate_config_hash(settings: LaunchSettings | dict[str, Any]) -> str:
        """The canonical hash of launch settings (see :mod:`.config_hash`)."""
        return calculate_config_hash(settings)

    def desired_hashes(self, group: ProtectionGroup) -> dict[str, str]:
        """Each server's desired hash over its effective settings.

        Raises:
            LaunchConfigValidationError: naming the server and field of every
                invalid effective setting (nothing is written or applied),
                e.g. an ``instanceType`` that right-sizing would overwrite.
        """
        return {sid: calculate_config_hash(s) for sid, s in self._effective(group).items()}

    def _effective(self, group: ProtectionGroup) -> dict[str, LaunchSettings]:
        effective: dict[str, LaunchSettings] = {}
        problems: list[dict[str, Any]] = []
        reported: set[str] = set()
        for sid in group.source_server_ids:
            try:
                settings = group.effective_settings(sid)
            except LaunchConfigValidationError as exc:
                # The override is what made the merge contradict itself.
                problems.extend(
                    {**p, "field": f"serverOverrides.{sid}.{p['field']}"} for p in exc.problems
                )
                continue
            effective[sid] = settings
            override = group.server_overrides.get(sid)
            for field, message, value in settings.effective_problems():
                # Name the part of the group the user wrote the field in, once.
                if override is not None and field in override.to_wire():
                    path = f"serverOverrides.{sid}.{field}"
                else:
                    path = f"launchSettings.{field}"
                if path not in reported:
                    reported.add(path)
                    problems.append({"field": path, "message": message, "value": value})
        if not problems and any(s.recovery_mode is not None for s in effective.values()):
            problems.extend(self._unsupported_fields(group))
        if problems:
            raise LaunchConfigValidationError(
                f"launch settings of group {group.name!r} ({group.group_id}) are invalid: "
                + "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5]),
                problems=problems,
                details={"groupId": group.group_id},
            )
        return effective

    def _unsupported_fields(self, group: ProtectionGroup) -> list[dict[str, Any]]:
        model = self._clients.client("drs", group.region, group.account).meta.service_model
        shape = model.operation_model("UpdateLaunchConfiguration").input_shape
        if shape is not None and "recoveryMode" in shape.members:
            return []
        return [
            {
                "field": "launchSettings.recoveryMode",
                "message": "the installed botocore's DRS model has no recoveryMode; "
                "upgrade botocore or leave it unset",
                "value": "set",
            }
        ]

    # ---- status -----------------------------------------------------------------------

    def get_status(self, group_id: str) -> LaunchConfigStatus:
        """The stored launch-configuration status of a group.

        Raises:
            NotFoundError: if the group does not exist.
        """
        return self._storage.protection_groups.get(group_id).launch_config_status

    # ---- apply ------------------------------------------------------------------------

    def apply_to_group(
        self,
        group_id: str,
        *,
        force: bool = False,
        timeout_s: float = 300,
        applied_by: str | None = None,
    ) -> LaunchConfigStatus:
        """Apply each server's effective launch settings to DRS and its launch template.

        Validates first (nothing is written if any server's settings are
        invalid), records ``pending`` in one versioned write, applies with
        bounded concurrency, then records the outcome — ``ready``,
        ``partial``, ``failed``, or ``pending`` if nothing finished before
        the timeout — in one more versioned write.

        Without ``force`` only servers that are not ready or whose settings
        changed since they were applied are touched.

        When ``timeout_s`` passes, servers not yet started are left pending
        and each running worker stops before its next AWS call. The method
        returns once every worker has stopped, so it can outlast
        ``timeout_s`` by the AWS call each worker had in flight (with its
        retries); after it returns, no worker calls AWS or emits events.
        Events (:class:`~drs_orchestration.events.ServerConfigApplied`,
        :class:`~drs_orchestration.events.ConfigApplied`) are emitted from
        the caller's thread.

        Raises:
            ValidationError: ``timeout_s`` is not a positive number of seconds
                up to a week.
            NotFoundError: if the group does not exist.
            LaunchConfigValidationError: if any effective settings are invalid.
            ConcurrentModificationError: if another writer changed the group
                (e.g. a concurrent apply); this run's results are not recorded.
        """
        check_duration(timeout_s, "timeout_s")
        group = self._storage.protection_groups.get(group_id)
        effective = self._effective(group)
        desired = {sid: calculate_config_hash(s) for sid, s in effective.items()}
        current = group.launch_config_status
        targets = [
            sid
            for sid in group.source_server_ids
            if force
            or (cfg := current.server_configs.get(sid)) is None
            or cfg.status is not ConfigStatus.READY
            or cfg.config_hash != desired[sid]
        ]
        settled = current.status is ConfigStatus.READY and set(current.server_configs) == set(
            desired
        )
        if not targets and settled:
            return current

        apply_id = uuid.uuid4().hex
        who = applied_by if applied_by is not None else self._applied_by
        started = time.monotonic()
        pending_configs = {
            sid: (
                ServerConfigStatus(
                    status=ConfigStatus.PENDING,
                    config_hash=(c.config_hash if (c := current.server_configs.get(sid)) else None),
                )
                if sid in targets
                else current.server_configs[sid]
            )
            for sid in group.source_server_ids
        }
        pending = current.transition_to(
            ConfigStatus.PENDING,
            server_configs=pending_configs,
            applied_by=who,
            apply_id=apply_id,
            at=self._clock(),
        )
        stored = self._storage.protection_groups.put(
            group.model_copy(update={"launch_config_status": pending, "updated_at": self._clock()})
        )
        logger.info(
            "applying launch configurations",
            extra={"groupId": group_id, "servers": len(targets), "applyId": apply_id},
        )
        results = self._apply_servers(group, targets, effective, desired, timeout_s)
        final_configs = {**pending_configs, **results}
        overall = _overall_status(final_configs)
        errors = [
            f"{sid}: {'; '.join(cfg.errors)}"
            for sid, cfg in sorted(final_configs.items())
            if cfg.errors and cfg.status is not ConfigStatus.READY
        ]
        final = pending.transition_to(
            overall, server_configs=final_configs, errors=errors, at=self._clock()
        )
        self._record_final(stored, final, desired)
        counts = {s: sum(c.status is s for c in final_configs.values()) for s in ConfigStatus}
        emit(
            self._events,
            ConfigApplied(
                at=self._clock(),
                group_id=group_id,
                status=overall.value,
                applied=counts[ConfigStatus.READY],
                failed=counts[ConfigStatus.FAILED],
                pending=counts[ConfigStatus.PENDING],
                duration_s=round(time.monotonic() - started, 3),
            ),
        )
        return final

    def _record_final(
        self, stored: ProtectionGroup, final: LaunchConfigStatus, desired: dict[str, str]
    ) -> None:
        try:
            self._storage.protection_groups.put(
                stored.model_copy(
                    update={"launch_config_status": final, "updated_at": self._clock()}
                )
            )
            return
        except ConcurrentModificationError:
            latest = self._storage.protection_groups.get(stored.group_id)
        # Someone else wrote the group while servers were being configured. The
        # result still belongs there if this run's pending marker is what is
        # stored and the servers and settings it applied are unchanged.
        ours = latest.launch_config_status.apply_id == final.apply_id
        if not ours or self.desired_hashes(latest) != desired:
            raise ConcurrentModificationError(
                "protection group",
                stored.group_id,
                expected_version=stored.version,
                actual_version=latest.version,
            )
        self._storage.protection_groups.put(
            latest.model_copy(update={"launch_config_status": final, "updated_at": self._clock()})
        )

    def _apply_servers(
        self,
        group: ProtectionGroup,
        targets: list[str],
        effective: dict[str, LaunchSettings],
        desired: dict[str, str],
        timeout_s: float,
    ) -> dict[str, ServerConfigStatus]:
        if not targets:
            return {}
        stop = threading.Event()
        pool = ThreadPoolExecutor(
            max_workers=min(self._concurrency, len(targets)),
            thread_name_prefix="drs-launch-config",
        )
        futures: dict[Future[ServerConfigStatus], str] = {
            pool.submit(self._apply_one, group, sid, effective[sid], desired[sid], stop): sid
            for sid in targets
        }
        results: dict[str, ServerConfigStatus] = {}
        try:
            for future in as_completed(futures, timeout=timeout_s):
                sid = futures[future]
                results[sid] = self._settled(group, sid, future.result())
        except TimeoutError:
            pass
        finally:
            # Unstarted servers are dropped; running workers stop before their
            # next AWS call, and are waited for, so none outlives this call.
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
        timed_out = ServerConfigStatus(
            status=ConfigStatus.PENDING,
            errors=[f"not applied within the {timeout_s:g} s timeout"],
        )
        for future, sid in futures.items():
            if sid in results:
                continue
            if future.cancelled() or future.exception() is not None:
                results[sid] = timed_out
                continue
            # Finished while the pool was stopping: its outcome is as real as any other.
            results[sid] = self._settled(group, sid, future.result())
        return results

    def _settled(
        self, group: ProtectionGroup, sid: str, result: ServerConfigStatus
    ) -> ServerConfigStatus:
        """Report one server's outcome (from the caller's thread) and return it."""
        if result.status is ConfigStatus.PENDING:
            return result
        emit(
            self._events,
            ServerConfigApplied(
                at=self._clock(),
                group_id=group.group_id,
                source_server_id=sid,
                status=result.status.value,
                config_hash=result.config_hash,
                error=result.errors[0] if result.errors else None,
            ),
        )
        return result

    def _apply_one(
        self,
        group: ProtectionGroup,
        sid: str,
        settings: LaunchSettings,
        config_hash: str,
        stop: threading.Event,
    ) -> ServerConfigStatus:
        try:
            template_version = self._write_settings(group, sid, settings, config_hash, stop)
        except _Stopped as exc:
            return ServerConfigStatus(status=ConfigStatus.PENDING, errors=[str(exc)])
        except Exception as exc:
            if not isinstance(exc, DrsOrchestrationError):
                logger.exception(
                    "unexpected error applying launch settings", extra={"sourceServerId": sid}
                )
            return ServerConfigStatus(
                status=ConfigStatus.FAILED, last_applied=self._clock(), errors=[describe_error(exc)]
            )
        return ServerConfigStatus(
            status=ConfigStatus.READY,
            last_applied=self._clock(),
            config_hash=config_hash,
            launch_template_version=template_version,
        )

    def _write_settings(
        self,
        group: ProtectionGroup,
        sid: str,
        settings: LaunchSettings,
        config_hash: str,
        stop: threading.Event,
    ) -> int | None:
        def proceed(step: str) -> None:
            if stop.is_set():
                raise _Stopped(f"stopped at the timeout before {step}")

        drs = DrsGateway(self._clients, group.region, group.account, retry=self._retry)
        fields = settings.drs_fields()
        configuration: dict[str, Any] | None = None
        if fields:
            proceed("UpdateLaunchConfiguration")
            configuration = dict(drs.update_launch_configuration(sid, fields))
        if not settings.has_template_settings:
            return None
        if configuration is None:
            proceed("GetLaunchConfiguration")
            configuration = dict(drs.get_launch_configuration(sid))
        template_id = configuration.get("ec2LaunchTemplateID")
        if not template_id:
            raise LaunchConfigApplicationError(
                f"DRS returned no EC2 launch template for source server {sid}",
                details={"sourceServerId": sid, "groupId": group.group_id},
            )
        ec2 = Ec2Gateway(self._clients, group.region, group.account, retry=self._retry)
        proceed("DescribeLaunchTemplateVersions")
        default = ec2.default_template_version(template_id)
        current_data = dict(default.get("LaunchTemplateData", {}))
        data = merge_template_data(current_data, settings)
        if data == current_data:
            return int(default["VersionNumber"])
        proceed("CreateLaunchTemplateVersion")
        version = ec2.create_template_version(
            template_id,
            source_version=int(default["VersionNumber"]),
            # What DescribeLaunchTemplateVersions answered holds read-only members
            # that CreateLaunchTemplateVersion refuses.
            data=request_template_data(data),
            description=f"drs-orchestration {config_hash[:23]}",
        )
        proceed("ModifyLaunchTemplate")
        ec2.set_default_template_version(template_id, version)
        return version

    # ---- the wave executor's entry point ----------------------------------------------

    def ensure_ready(self, group_id: str, *, timeout_s: float = 300) -> EnsureReadyResult:
        """Make sure a group's launch configurations are in place before a wave starts.

        Fast path: the group is ``ready`` and every server's desired hash
        equals its applied hash — no launch-configuration API call is made.
        Otherwise (fallback) the drifted and unapplied servers are applied first.

        Raises:
            ValidationError: ``timeout_s`` is not a positive number of seconds
                up to a week.
            LaunchConfigValidationError: the group's effective settings are invalid.
            LaunchConfigApplicationError: naming the failed and pending servers
                when the group is still not ready after applying.
        """
        group = self._storage.protection_groups.get(group_id)
        check_duration(timeout_s, "timeout_s")
        report = local_drift(group, self.desired_hashes(group), checked_at=self._clock())
        status = group.launch_config_status
        if status.status is ConfigStatus.READY and not report.has_drift:
            return EnsureReadyResult(group_id=group_id, path=ConfigPath.FAST, status=status)
        if report.drifted:
            emit(
                self._events,
                DriftDetected(
                    at=self._clock(),
                    group_id=group_id,
                    source_server_ids=tuple(sorted(report.drifted)),
                ),
            )
        status = self.apply_to_group(group_id, timeout_s=timeout_s)
        if status.status is not ConfigStatus.READY:
            raise LaunchConfigApplicationError(
                f"launch configurations of group {group.name!r} ({group_id}) are "
                f"{status.status.value}: failed {status.failed_servers()}, "
                f"pending {status.pending_servers()}",
                details={
                    "groupId": group_id,
                    "status": status.status.value,
                    "failedServers": status.failed_servers(),
                    "pendingServers": status.pending_servers(),
                    "errors": status.errors,
                },
            )
        return EnsureReadyResult(
            group_id=group_id,
            path=ConfigPath.FALLBACK,
            status=status,
            applied_servers=report.servers_to_apply,
        )

    # ---- drift --------------------------------------------------------------------------

    def detect_drift(self, group_id: str, *, remote: bool = False) -> DriftReport:
        """Find servers whose launch settings no longer match the group's.

        Locally (default) the desired hash of each server's effective settings
        is compared with the hash recorded when it was applied — no AWS call.
        With ``remote=True`` the live DRS launch configuration and launch
        template are read back and compared field by field; a server that
        cannot be read is reported in ``errors``, never assumed to match.
        """
        group = self._storage.protection_groups.get(group_id)
        effective = self._effective(group)
        report = local_drift(
            group,
            {sid: calculate_config_hash(s) for sid, s in effective.items()},
            checked_at=self._clock(),
        )
        if remote:
            report = remote_drift(
                group,
                effective,
                report,
                clients=self._clients,
                retry=self._retry,
                concurrency=self._concurrency,
            )
        if report.drifted:
            emit(
                self._events,
                DriftDetected(
                    at=self._clock(),
                    group_id=group_id,
                    source_server_ids=tuple(sorted(report.drifted)),
                    remote=remote,
                ),
            )
        return report
