"""Fault injection: a small plan the simulator consults before answering each DRS call.

Rules are deterministic for a given seed. A rule can apply to every
operation or to a named few (names are checked against the DRS model, so a
typo fails at once), with a rate, and optionally only a number of times.

Examples:
    >>> sim.faults.throttle(rate=0.5, operations={"StartRecovery"}, seed=7)
    >>> sim.faults.throttle_next(2, operation="DescribeJobs")
    >>> sim.faults.throttle(1.0, "UpdateLaunchConfiguration",
    ...                     where=lambda params: params["sourceServerID"] == server_id)
    >>> sim.faults.server_error(status=503, times=1)
    >>> sim.faults.latency(0.1)
    >>> sim.faults.fail_launch(server_id, reason="insufficient capacity")
    >>> sim.faults.stall_reverse_replication("INITIAL_SYNC")    # never catches up
    >>> sim.faults.stall_reverse_replication("CONTINUOUS", lag=7200)  # stays two hours behind
    >>> sim.faults.clear()
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from drs_orchestration.testing.errors import DrsServiceError, internal_error, throttled
from drs_orchestration.testing.service import service_model

__all__ = ["FaultDecision", "FaultPlan", "LatencySpec", "RequestFilter", "ReverseFault"]

LatencySpec = float | Callable[[random.Random], float]
"""Seconds of latency, or a function drawing them from the plan's seeded RNG."""

RequestFilter = Callable[[Mapping[str, Any]], bool]
"""Chooses the calls a rule applies to by their parameters (e.g. one source server's)."""

_RAW_503_BODY = "<html><body><b>Http/1.1 Service Unavailable</b></body></html>"


@dataclass
class _Rule:
    kind: Literal["throttle", "internal", "raw503", "latency"]
    operations: frozenset[str] | None
    rate: float
    remaining: int | None
    rng: random.Random
    latency: LatencySpec = 0.0
    where: RequestFilter | None = None

    def applies(self, operation: str, params: Mapping[str, Any]) -> bool:
        if self.operations is not None and operation not in self.operations:
            return False
        if self.where is not None and not self.where(params):
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.rate >= 1.0 or self.rng.random() < self.rate


@dataclass
class _LaunchFailure:
    reason: str
    remaining: int | None


@dataclass(frozen=True)
class ReverseFault:
    """How a reverse replication started under a fault behaves.

    Attributes:
        state: The state its replication stays in (``STALLED``, or a progressing
            state such as ``INITIAL_SYNC``, stuck there), or ``CONTINUOUS`` to
            catch up normally but keep ``lag_seconds`` of lag.
        lag_seconds: The replication's steady lag (``None``: the source's own).
    """

    state: str
    lag_seconds: float | None = None


@dataclass
class _ReverseRule:
    fault: ReverseFault
    recovery_instance_ids: frozenset[str] | None
    remaining: int | None


@dataclass
class FaultDecision:
    """What the plan decided for one call: a delay, and maybe an error to answer with."""

    delay: float = 0.0
    error: DrsServiceError | None = None
    raw_status: int | None = None
    raw_body: str = field(default="")

    @property
    def fails(self) -> bool:
        """Whether the call is answered with an injected error."""
        return self.error is not None or self.raw_status is not None


class FaultPlan:
    """The fault-injection controls (``sim.faults``).

    Args:
        seed: Seeds the plan's RNG, so rates and latency draws repeat run to run.
    """

    def __init__(self, seed: int | None = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[_Rule] = []
        self._launch_failures: dict[str, _LaunchFailure] = {}
        self._reverse_rules: list[_ReverseRule] = []

    def throttle(
        self,
        rate: float = 0.5,
        operations: str | Iterable[str] | None = None,
        *,
        seed: int | None = None,
        times: int | None = None,
        where: RequestFilter | None = None,
    ) -> None:
        """Answer a share ``rate`` of calls with ``ThrottlingException`` (429).

        A throttled call never reaches the simulated service: like AWS, it has no effect.

        Args:
            rate: Probability that a matching call is throttled (1.0 = every call).
            operations: Operation names (``None``: every operation).
            seed: Seeds this rule alone (default: drawn from the plan's RNG).
            times: Stop after throttling this many calls.
            where: Only calls whose parameters it accepts (e.g. one server's).
        """
        self._add("throttle", rate, operations, seed, times, where=where)

    def throttle_next(self, n: int = 1, operation: str | Iterable[str] | None = None) -> None:
        """Throttle exactly the next ``n`` matching calls."""
        self._add("throttle", 1.0, operation, None, n)

    def server_error(
        self,
        rate: float = 1.0,
        operations: str | Iterable[str] | None = None,
        *,
        status: Literal[500, 503] = 500,
        seed: int | None = None,
        times: int | None = None,
        where: RequestFilter | None = None,
    ) -> None:
        """Answer calls with a server error.

        ``status=500`` is DRS's modeled ``InternalServerException``; ``status=503``
        is a bare HTML 503 page with no error code, as a load balancer gives,
        which botocore reports as error code ``"503"``.
        """
        if status not in (500, 503):
            raise ValueError(f"status must be 500 or 503 (got {status})")
        self._add(
            "internal" if status == 500 else "raw503", rate, operations, seed, times, where=where
        )

    def latency(self, seconds: LatencySpec, operations: str | Iterable[str] | None = None) -> None:
        """Delay matching calls by ``seconds`` of real time (or a draw from a callable).

        The simulator sleeps without holding its lock, so concurrent callers
        overlap as they would against the real service.
        """
        if not callable(seconds) and seconds < 0:
            raise ValueError("latency must be non-negative")
        with self._lock:
            self._rules.append(
                _Rule("latency", _operations(operations), 1.0, None, self._rule_rng(None), seconds)
            )

    def fail_launch(
        self,
        source_server_id: str,
        reason: str = "Failed to launch the recovery instance (injected fault)",
        *,
        times: int | None = None,
    ) -> None:
        """Make launches of ``source_server_id`` end FAILED, with a ``LAUNCH_FAILED`` log item."""
        with self._lock:
            self._launch_failures[source_server_id] = _LaunchFailure(reason, times)

    def stall_reverse_replication(
        self,
        state: str = "INITIAL_SYNC",
        *,
        lag: float | None = None,
        recovery_instance_ids: Iterable[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Make the replication that ``ReverseReplication`` starts never become healthy.

        Args:
            state: ``STALLED`` (the agent is not seen), a progressing state it
                stays stuck in (``INITIATING``, ``INITIAL_SYNC``, ``BACKLOG``,
                ``RESCAN``, ``CREATING_SNAPSHOT``), or ``CONTINUOUS`` with
                ``lag`` (it catches up but stays that far behind).
            lag: Steady lag in seconds (required with ``CONTINUOUS``).
            recovery_instance_ids: Only reversals of these recovery instances (default: any).
            times: Only this many reversals (default: every one).
        """
        allowed = {"STALLED", "CONTINUOUS", "INITIATING", "INITIAL_SYNC", "BACKLOG"}
        allowed |= {"RESCAN", "CREATING_SNAPSHOT"}
        if state not in allowed:
            raise ValueError(f"state must be one of {sorted(allowed)} (got {state!r})")
        if state == "CONTINUOUS" and lag is None:
            raise ValueError("a CONTINUOUS reverse replication fault needs a lag")
        if lag is not None and lag < 0:
            raise ValueError(f"lag must be non-negative (got {lag})")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (got {times})")
        ids = None if recovery_instance_ids is None else frozenset(recovery_instance_ids)
        with self._lock:
            self._reverse_rules.append(_ReverseRule(ReverseFault(state, lag), ids, times))

    def take_reverse_fault(self, recovery_instance_id: str) -> ReverseFault | None:
        """The fault a reversal of this recovery instance starts under, if one was injected."""
        with self._lock:
            for rule in self._reverse_rules:
                if rule.remaining is not None and rule.remaining <= 0:
                    continue
                ids = rule.recovery_instance_ids
                if ids is not None and recovery_instance_id not in ids:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.fault
            return None

    def clear(self) -> None:
        """Remove every rule, launch failure and reverse replication fault."""
        with self._lock:
            self._rules.clear()
            self._launch_failures.clear()
            self._reverse_rules.clear()

    def decide(self, operation: str, params: Mapping[str, Any] | None = None) -> FaultDecision:
        """Consult the plan for one call (the simulator does this before each operation)."""
        decision = FaultDecision()
        with self._lock:
            for rule in self._rules:
                if decision.fails and rule.kind != "latency":
                    continue
                if not rule.applies(operation, params or {}):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                if rule.kind == "latency":
                    spec = rule.latency
                    decision.delay += max(0.0, spec(rule.rng) if callable(spec) else spec)
                elif rule.kind == "throttle":
                    decision.error = throttled(retry_after=1)
                elif rule.kind == "internal":
                    decision.error = internal_error("Internal server error (injected fault)")
                else:
                    decision.raw_status = 503
                    decision.raw_body = _RAW_503_BODY
        return decision

    def take_launch_failure(self, source_server_id: str) -> str | None:
        """The reason a launch of this server must fail now, if one was injected."""
        with self._lock:
            failure = self._launch_failures.get(source_server_id)
            if failure is None:
                return None
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._launch_failures[source_server_id]
            return failure.reason

    def _add(
        self,
        kind: Literal["throttle", "internal", "raw503"],
        rate: float,
        operations: str | Iterable[str] | None,
        seed: int | None,
        times: int | None,
        *,
        where: RequestFilter | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1 (got {rate})")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 (got {times})")
        with self._lock:
            self._rules.append(
                _Rule(kind, _operations(operations), rate, times, self._rule_rng(seed), where=where)
            )

    def _rule_rng(self, seed: int | None) -> random.Random:
        return random.Random(seed if seed is not None else self._rng.getrandbits(64))


def _operations(operations: str | Iterable[str] | None) -> frozenset[str] | None:
    if operations is None:
        return None
    names = frozenset([operations] if isinstance(operations, str) else operations)
    unknown = sorted(names - set(service_model().operation_names))
    if unknown:
        raise ValueError(f"not DRS operations: {unknown}")
    return names
