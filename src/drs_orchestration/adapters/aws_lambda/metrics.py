"""CloudWatch metrics from the library's events, published as EMF through powertools.

:class:`InvocationMetrics` is an event sink: give it to the
:class:`~drs_orchestration.Orchestrator` (``events=``) and it counts, during
one invocation, what the services report; the adapter publishes the counts
once at the end of the invocation (one EMF document on stdout, which Lambda
sends to CloudWatch Logs and CloudWatch turns into metrics).

=================================  =======  ==================================================
metric                             unit     from
=================================  =======  ==================================================
``FastPathWaves``                  Count    ``WaveStarted`` with ``config_path == "fast"``
``FallbackWaves``                  Count    ``WaveStarted`` with ``config_path == "fallback"``
``LaunchConfigApplyFailures``      Count    ``ConfigApplied.failed``
``DriftedServers``                 Count    ``DriftDetected`` (servers drifted)
``ServersLaunched``                Count    ``ServerLaunched``
``ServersFailed``                  Count    ``ServerFailed`` (not skipped)
``ServersSkipped``                 Count    ``ServerFailed`` with ``skipped``
``ExecutionsFinished``             Count    ``ExecutionFinished``
``RecoveryTime``                   Seconds  ``ExecutionFinished.recovery_time_s`` (the RTO)
``WorstRPO``                       Seconds  ``Execution.worst_rpo`` of a finished execution
``CacheMisses``                    Count    ``RecoveryInstanceCache.get`` misses
``CacheSyncFailures``              Count    ``CacheSyncFailed``
=================================  =======  ==================================================
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from drs_orchestration.errors import DrsOrchestrationError
from drs_orchestration.events import (
    CacheSyncFailed,
    ConfigApplied,
    DriftDetected,
    Event,
    ExecutionFinished,
    ServerFailed,
    ServerLaunched,
    WaveStarted,
)

if TYPE_CHECKING:
    from drs_orchestration.services import Orchestrator

__all__ = ["METRIC_UNITS", "InvocationMetrics"]

logger = logging.getLogger(__name__)

METRIC_UNITS: Mapping[str, MetricUnit] = {
    "FastPathWaves": MetricUnit.Count,
    "FallbackWaves": MetricUnit.Count,
    "LaunchConfigApplyFailures": MetricUnit.Count,
    "DriftedServers": MetricUnit.Count,
    "ServersLaunched": MetricUnit.Count,
    "ServersFailed": MetricUnit.Count,
    "ServersSkipped": MetricUnit.Count,
    "ExecutionsFinished": MetricUnit.Count,
    "RecoveryTime": MetricUnit.Seconds,
    "WorstRPO": MetricUnit.Seconds,
    "CacheMisses": MetricUnit.Count,
    "CacheSyncFailures": MetricUnit.Count,
}
"""Every metric the adapter publishes, with its unit."""


class InvocationMetrics:
    """An event sink that turns the library's events into metrics, one batch per invocation.

    Thread-safe: the recovery-instance cache emits from worker threads.

    Args:
        namespace: The CloudWatch namespace.
        service: The ``service`` dimension.

    Examples:
        >>> metrics = InvocationMetrics()
        >>> orchestrator = Orchestrator(storage, events=metrics)
        >>> adapter = LambdaAdapter(orchestrator, metrics=metrics)
    """

    def __init__(
        self, *, namespace: str = "DrsOrchestration", service: str = "drs-orchestration"
    ) -> None:
        self.namespace = namespace
        self.service = service
        self._lock = threading.Lock()
        self._values: dict[str, float] = {}
        self._finished: list[ExecutionFinished] = []

    def __call__(self, event: Event) -> None:
        """Count ``event`` (the event sink protocol)."""
        if isinstance(event, WaveStarted) and event.config_path in ("fast", "fallback"):
            self.add("FastPathWaves" if event.config_path == "fast" else "FallbackWaves")
        elif isinstance(event, ConfigApplied):
            self.add("LaunchConfigApplyFailures", event.failed)
        elif isinstance(event, DriftDetected):
            self.add("DriftedServers", len(event.source_server_ids))
        elif isinstance(event, ServerLaunched):
            self.add("ServersLaunched")
        elif isinstance(event, ServerFailed):
            self.add("ServersSkipped" if event.skipped else "ServersFailed")
        elif isinstance(event, CacheSyncFailed):
            self.add("CacheSyncFailures")
        elif isinstance(event, ExecutionFinished):
            self.add("ExecutionsFinished")
            with self._lock:
                self._finished.append(event)

    def add(self, name: str, value: float = 1) -> None:
        """Add ``value`` to metric ``name`` for this invocation.

        Raises:
            KeyError: ``name`` is not one of :data:`METRIC_UNITS`.
        """
        if name not in METRIC_UNITS:
            raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRIC_UNITS)}")
        with self._lock:
            self._values[name] = self._values.get(name, 0) + value

    def take(self, orchestrator: Orchestrator | None = None) -> dict[str, list[float]]:
        """Every value counted since the last call, and forget them.

        Counters become one value each; each finished execution adds its
        ``RecoveryTime`` and, read from storage through ``orchestrator``, its
        ``WorstRPO`` (a read that fails is logged and the value left out).
        """
        with self._lock:
            values = {name: [value] for name, value in self._values.items() if value}
            finished, self._finished = self._finished, []
            self._values = {}
        for event in finished:
            if event.recovery_time_s is not None:
                values.setdefault("RecoveryTime", []).append(event.recovery_time_s)
            if orchestrator is None:
                continue
            try:
                rpo = orchestrator.waves.get(event.execution_id).worst_rpo
            except DrsOrchestrationError as exc:
                logger.warning(
                    "worst RPO not published: the execution could not be read",
                    extra={"executionId": event.execution_id, "errorCode": exc.code},
                )
                continue
            if rpo is not None:
                values.setdefault("WorstRPO", []).append(rpo.total_seconds())
        return values

    def publish(self, orchestrator: Orchestrator | None = None) -> dict[str, list[float]]:
        """Publish what :meth:`take` returns as one EMF document; return it.

        Nothing is printed when nothing was counted.
        """
        values = self.take(orchestrator)
        if not values:
            return values
        metrics = Metrics(namespace=self.namespace, service=self.service)
        for name, series in values.items():
            for value in series:
                metrics.add_metric(name=name, unit=METRIC_UNITS[name], value=value)
        metrics.flush_metrics()
        return values
