"""Orchestrator: every service wired to one storage, one client factory and one event sink.

Each service stays usable on its own; the facade is the common case in
three lines::

    orchestrator = Orchestrator(SqliteStorage("dr.db"))
    execution = orchestrator.waves.start(plan_id, drill=True)
    execution = orchestrator.waves.run(execution.execution_id)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from drs_orchestration.aws.clients import ClientFactory, SessionClientFactory
from drs_orchestration.aws.retry import RetryPolicy
from drs_orchestration.errors import ValidationError
from drs_orchestration.events import EventSink
from drs_orchestration.models import utc_now
from drs_orchestration.services.cache import RecoveryInstanceCache, TerminationLimits
from drs_orchestration.services.failback import (
    AgentInstaller,
    FailbackCoordinator,
    FailbackOptions,
)
from drs_orchestration.services.failback.coordinator import FAILBACK_OPTIONS
from drs_orchestration.services.groups import ProtectionGroupService
from drs_orchestration.services.launch_config import LaunchConfigService
from drs_orchestration.services.matching import InstanceMatcher
from drs_orchestration.services.plans import RecoveryPlanService
from drs_orchestration.services.waves import (
    DrsQuotas,
    ExecutorOptions,
    PostWaveHook,
    WaveExecutor,
)
from drs_orchestration.services.waves.executor import EXECUTOR_OPTIONS
from drs_orchestration.storage.base import Storage

__all__ = ["Orchestrator"]


class Orchestrator:
    """The library's services, sharing storage, AWS access, retries, clock and events.

    Args:
        storage: Where everything is kept. Required: executions must outlive the
            process that starts them (a Lambda, a crashed script), so there is no
            in-memory default; pass :class:`SqliteStorage` for one host,
            :class:`DynamoDBStorage` for Lambdas, :class:`MemoryStorage` for tests.
        clients: Where AWS clients come from (default: :class:`SessionClientFactory`,
            the default boto3 credential chain; created lazily, no AWS call here).
        events: Event sink shared by every service.
        clock: Source of timestamps (the simulator's clock in tests).
        retry: Retry policy of every AWS call.
        sleep: How :meth:`WaveExecutor.run` waits between polls.
        quotas: DRS account quotas, shared by the wave executor's launches and the
            cache's terminations (see :meth:`DrsQuotas.from_service_quotas` for the
            account's own).
        hooks: Post-wave hooks for the wave executor.
        sync_cache: Sync each wave's servers into :attr:`cache` after the wave (a sync
            error is recorded on the wave, never fails it).
        install_agent: The hook :attr:`failback` calls to install the replication
            agent or the Failback Client (see :class:`FailbackCoordinator`).
        failback_options: :attr:`failback`'s lag threshold, timeouts, lease,
            attempts and other accounts (:class:`FailbackOptions`; defaults as
            :class:`FailbackCoordinator`'s).
        executor_options: :attr:`waves`' start lease, start attempts, quota
            window, search skew and progress write interval
            (:class:`ExecutorOptions`; defaults as :class:`WaveExecutor`'s).

    Raises:
        ValidationError: ``storage`` is missing, or a failback or executor option
            is unknown or out of range (the error names it).

    Attributes:
        groups: :class:`ProtectionGroupService`.
        plans: :class:`RecoveryPlanService`.
        launch_configs: :class:`LaunchConfigService`.
        waves: :class:`WaveExecutor`.
        cache: :class:`RecoveryInstanceCache`.
        matcher: :class:`InstanceMatcher`.
        failback: :class:`FailbackCoordinator`.

    Examples:
        >>> orchestrator = Orchestrator(SqliteStorage("dr.db"))
        >>> db = orchestrator.groups.create("database", "us-east-1", tags={"Tier": "db"})
        >>> plan = orchestrator.plans.create("shop", [{"name": "db",
        ...                                            "protectionGroupIds": [db.group_id]}])
        >>> execution = orchestrator.waves.start(plan.plan_id)
        >>> orchestrator.waves.run(execution.execution_id).status
    """

    def __init__(
        self,
        storage: Storage,
        clients: ClientFactory | None = None,
        *,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        quotas: DrsQuotas | None = None,
        hooks: Sequence[PostWaveHook] = (),
        sync_cache: bool = True,
        install_agent: AgentInstaller | None = None,
        failback_options: FailbackOptions | None = None,
        executor_options: ExecutorOptions | None = None,
    ) -> None:
        if storage is None:
            raise ValidationError.for_field(
                "storage",
                None,
                "is required: pass SqliteStorage(path) on one host, DynamoDBStorage(...) for "
                "Lambdas, or MemoryStorage() in tests (executions must outlive the process)",
            )
        self.storage: Storage = storage
        self.clients: ClientFactory = clients if clients is not None else SessionClientFactory()
        self.events = events
        self.launch_configs = LaunchConfigService(
            self.storage, self.clients, events=events, retry=retry, clock=clock
        )
        self.groups = ProtectionGroupService(
            self.storage,
            self.clients,
            launch_configs=self.launch_configs,
            retry=retry,
            clock=clock,
        )
        self.plans = RecoveryPlanService(self.storage, clock=clock)
        self.cache = RecoveryInstanceCache(
            self.storage,
            self.clients,
            events=events,
            retry=retry,
            clock=clock,
            sleep=sleep,
            termination=None if quotas is None else TerminationLimits(quotas=quotas),
        )
        self.waves = WaveExecutor(
            self.storage,
            self.clients,
            launch_configs=self.launch_configs,
            events=events,
            clock=clock,
            sleep=sleep,
            retry=retry,
            quotas=quotas,
            hooks=hooks,
            cache=self.cache if sync_cache else None,
            **_known_options(
                executor_options, "executor_options", EXECUTOR_OPTIONS, "wave executor"
            ),
        )
        self.matcher = InstanceMatcher(
            self.storage, self.clients, retry=retry, clock=clock, events=events, groups=self.groups
        )
        self.failback = FailbackCoordinator(
            self.storage,
            self.clients,
            waves=self.waves,
            plans=self.plans,
            groups=self.groups,
            matcher=self.matcher,
            events=events,
            clock=clock,
            sleep=sleep,
            retry=retry,
            install_agent=install_agent,
            **_known_options(failback_options, "failback_options", FAILBACK_OPTIONS, "failback"),
        )


def _known_options(
    options: Mapping[str, Any] | None, field: str, names: frozenset[str], service: str
) -> Mapping[str, Any]:
    """``options`` checked for names ``service`` does not take."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValidationError.for_field(
            field, options, f"must be a mapping of {service} option names to values"
        )
    for name in options:
        if name not in names:
            raise ValidationError.for_field(
                f"{field}.{name}",
                options[name],
                f"is not a {service} option; the options are {', '.join(sorted(names))}",
            )
    return options
