"""An offline AWS Elastic Disaster Recovery: test DR code without an AWS account.

moto has no DRS; this package fills that gap the way moto serves other
services. While a simulator is active, every ``boto3.client("drs")`` in the
process is answered in-process — botocore still validates each parameter
against the service model and parses each response — and, inside moto's
``mock_aws()``, recovery instances are real moto EC2 instances.

Examples:
    >>> import boto3
    >>> from moto import mock_aws
    >>> from drs_orchestration.testing import mock_drs
    >>> with mock_aws(), mock_drs() as sim:
    ...     server_id = sim.add_source_server(region="us-east-1", hostname="web-1")
    ...     drs = boto3.client("drs", region_name="us-east-1")
    ...     drs.start_recovery(sourceServers=[{"sourceServerID": server_id}], isDrill=True)
    ...     sim.advance(600)

The simulator refuses what DRS refuses and allows what DRS allows — in a
real disaster too (``sim.outage``: stalled servers launch from their latest
recovery snapshot). Where AWS documents a behaviour the simulator follows
the documents; where it is silent the simulator assumes, and says so in the
module that models it: :mod:`~drs_orchestration.testing.replication` (what a
launch uses, snapshots, outages), :mod:`~drs_orchestration.testing.launch`
(launch settings, DRS's writes into the launch template, one recovery
instance per source server), :mod:`~drs_orchestration.testing.operations.jobs`
(refusals and their error codes), :mod:`~drs_orchestration.testing.operations.tags`
(tag rules), :func:`~drs_orchestration.testing.service.date_window` (dates),
:mod:`~drs_orchestration.testing.handler` (faults change nothing; the
``Date`` header).

The public API is exactly ``__all__``; see ``docs/testing.md``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar, overload

from drs_orchestration.testing.calls import CallLog, CallRecord
from drs_orchestration.testing.clock import SimulatedClock
from drs_orchestration.testing.ec2 import Credentials
from drs_orchestration.testing.errors import SimulatorBug
from drs_orchestration.testing.factory import SimulatedClientFactory
from drs_orchestration.testing.faults import FaultPlan
from drs_orchestration.testing.handler import active_simulator, patch_client
from drs_orchestration.testing.jobs import JobTimings
from drs_orchestration.testing.simulator import DrsSimulator, Quotas
from drs_orchestration.testing.state import Nic

__all__ = [
    "CallLog",
    "CallRecord",
    "Credentials",
    "DrsSimulator",
    "FaultPlan",
    "JobTimings",
    "Nic",
    "Quotas",
    "SimulatedClientFactory",
    "SimulatedClock",
    "SimulatorBug",
    "active_simulator",
    "mock_drs",
    "patch_client",
]

P = ParamSpec("P")
T = TypeVar("T")


@overload
def mock_drs(func: Callable[P, T], /) -> Callable[P, T]: ...
@overload
def mock_drs(
    *,
    strict: bool = True,
    seed: int | None = 0,
    realtime_scale: float | None = None,
    start: datetime | None = None,
    quotas: Quotas | None = None,
    timings: JobTimings | None = None,
) -> DrsSimulator: ...
def mock_drs(
    func: Callable[P, T] | None = None,
    /,
    *,
    strict: bool = True,
    seed: int | None = 0,
    realtime_scale: float | None = None,
    start: datetime | None = None,
    quotas: Quotas | None = None,
    timings: JobTimings | None = None,
) -> DrsSimulator | Callable[P, T]:
    """A fresh DRS simulator, to use as a context manager or decorator.

    ``with mock_drs() as sim:`` activates it for the block and yields it;
    ``@mock_drs`` or ``@mock_drs(...)`` activates a fresh one around each call
    of the decorated function (reach it with :func:`active_simulator`). It
    composes with moto's ``mock_aws()`` in either order.

    Args:
        func: The function to decorate (when used as a bare ``@mock_drs``).
        strict: Enforce the model's constraints on requests and validate responses.
        seed: Seeds IDs, timing variation and faults.
        realtime_scale: Run simulated time at this multiple of wall time
            (default: time moves only with ``sim.advance``).
        start: Simulated start time.
        quotas: Account quotas.
        timings: Job and replication durations.
    """
    if func is not None:

        @functools.wraps(func)
        def fresh_each_call(*args: P.args, **kwargs: P.kwargs) -> T:
            with mock_drs(
                strict=strict,
                seed=seed,
                realtime_scale=realtime_scale,
                start=start,
                quotas=quotas,
                timings=timings,
            ):
                return func(*args, **kwargs)

        return fresh_each_call
    sim = DrsSimulator(strict=strict, seed=seed, start=start, quotas=quotas, timings=timings)
    if realtime_scale is not None:
        sim.realtime(realtime_scale)
    return sim
