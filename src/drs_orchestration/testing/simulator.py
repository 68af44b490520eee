"""The :class:`DrsSimulator` façade: state per (account, region) behind one lock, seeding, time.

Create one with :func:`~drs_orchestration.testing.mock_drs`; while it is
active, every ``boto3.client("drs")`` request in the process is answered by
it (see :mod:`drs_orchestration.testing.handler`).
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, ParamSpec, Self, TypeVar

from drs_orchestration.testing.calls import CallLog
from drs_orchestration.testing.clock import SimulatedClock
from drs_orchestration.testing.ec2 import (
    DEFAULT_CREDENTIALS,
    Credentials,
    Ec2Bridge,
    moto_account_for,
    moto_active,
)
from drs_orchestration.testing.errors import uninitialized
from drs_orchestration.testing.events import STALLED_CHANGE, DrsEventBus
from drs_orchestration.testing.faults import FaultPlan
from drs_orchestration.testing.jobs import JobEngine, JobTimings
from drs_orchestration.testing.operations import OPERATIONS, OpContext
from drs_orchestration.testing.replication import change_replication, replication_view
from drs_orchestration.testing.seeding import DEFAULT_DISKS, register_server
from drs_orchestration.testing.service import (
    DEFAULT_ACCOUNT_ID,
    IdFactory,
    parse_duration,
    service_model,
    stable_id,
)
from drs_orchestration.testing.state import (
    AwsOrigin,
    Disk,
    FailbackProgress,
    Nic,
    RecoverySnapshot,
    RegionState,
    Replication,
    SourceServer,
)

__all__ = ["DEFAULT_ACCOUNT_ID", "DrsSimulator", "Quotas"]

P = ParamSpec("P")
T = TypeVar("T")

_GIB = 1024**3


@dataclass
class Quotas:
    """DRS's account quotas per region (adjustable, like AWS's).

    The quota codes are the simulator's own labels; match the exception
    class (``ServiceQuotaExceededException``), not the code.
    """

    max_servers_per_job: int = 100
    max_jobs_in_progress: int = 20
    max_servers_in_progress: int = 500
    servers_per_job_code: str = "sim-servers-per-job"
    jobs_in_progress_code: str = "sim-jobs-in-progress"
    servers_in_progress_code: str = "sim-servers-in-jobs-in-progress"


class DrsSimulator:
    """An in-process AWS Elastic Disaster Recovery service.

    Args:
        strict: Enforce the model's patterns, enums and maxima on input
            (``ValidationException``) and validate every response against the
            model before returning it (:class:`~drs_orchestration.testing.SimulatorBug`).
        seed: Seeds IDs, per-server timing variation and faults, so runs repeat.
        clock: The clock (default: a :class:`SimulatedClock` starting at ``start``).
        start: Simulated start time (default: now, whole seconds).
        quotas: Account quotas (default: DRS's defaults).
        timings: Job and replication durations (default: realistic ones).

    Examples:
        >>> with mock_aws(), mock_drs() as sim:
        ...     server_id = sim.add_source_server(region="us-east-1", hostname="web-1")
        ...     sim.advance(600)
    """

    def __init__(
        self,
        *,
        strict: bool = True,
        seed: int | None = 0,
        clock: SimulatedClock | None = None,
        start: datetime | None = None,
        quotas: Quotas | None = None,
        timings: JobTimings | None = None,
    ) -> None:
        self.strict = strict
        self.rng = random.Random(seed)
        self.ids = IdFactory(random.Random(self.rng.getrandbits(64)))
        self.clock = clock or SimulatedClock(start)
        self.quotas = quotas or Quotas()
        self.timings = timings or JobTimings()
        self.faults = FaultPlan(seed)
        self.calls = CallLog()
        self.events = DrsEventBus()
        """The EventBridge events DRS publishes (``sim.events.subscribe(...)``)."""
        self.ec2 = Ec2Bridge(self.ids)
        self.engine = JobEngine(self)
        self.page_size = 100
        """Page size when a request gives no ``maxResults``."""
        self.default_region = "us-east-1"
        self._lock = threading.RLock()
        self._regions: dict[tuple[str, str], RegionState] = {}
        self._issued_keys: dict[str, str] = {}
        self._ips = 0

    # -- activation ------------------------------------------------------------------

    def start(self) -> Self:
        """Start answering DRS requests (the innermost active simulator answers)."""
        from drs_orchestration.testing.handler import activate

        activate(self)
        return self

    def stop(self) -> None:
        """Stop answering DRS requests (state stays readable)."""
        from drs_orchestration.testing.handler import deactivate

        deactivate(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, func: Callable[P, T]) -> Callable[P, T]:
        """Use the simulator as a decorator: active for the duration of each call."""

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            with self:
                return func(*args, **kwargs)

        return wrapper

    # -- time ------------------------------------------------------------------------

    def now(self) -> datetime:
        """The current simulated time."""
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        """Move simulated time forward and apply everything that falls due; return the new time.

        Transitions apply in time order with the clock at each one's time, and
        the DRS events they publish (:attr:`events`) are delivered then, so a
        subscriber acts at the simulated moment the event happens.
        """
        with self._lock:
            target = self.clock.now() + timedelta(seconds=seconds)
            self._run_until(target)
            now = self.clock.advance(max((target - self.clock.now()).total_seconds(), 0.0))
            self.engine.run_due(now)
            self.events.deliver()
            return now

    def advance_until_idle(self, max_seconds: float = 86400.0) -> float:
        """Advance until no job has anything left to do; return the simulated seconds it took."""
        with self._lock:
            started = self.clock.now()
            self._run_until(started + timedelta(seconds=max_seconds))
            return (self.clock.now() - started).total_seconds()

    def _run_until(self, limit: datetime) -> None:
        while (due := self.engine.next_due()) is not None and due <= limit:
            now = self.clock.now()
            self.clock.advance(max((due - now).total_seconds(), 0.0))
            self.engine.run_due(self.clock.now())
            self.events.deliver()

    def realtime(self, scale: float = 1.0) -> None:
        """Let simulated time run at ``scale`` times wall time (``scale=60``: a minute a second)."""
        self.clock.realtime(scale)

    def freeze(self) -> None:
        """Stop real-time mode."""
        self.clock.freeze()

    # -- accounts --------------------------------------------------------------------

    @property
    def ec2_available(self) -> bool:
        """Whether moto's ``mock_aws()`` is active, so EC2 resources are real moto ones."""
        return moto_active()

    def credentials_for(self, account_id: str) -> Credentials:
        """Credentials the simulator (and moto, when active) attribute to ``account_id``.

        With moto active these come from moto STS ``AssumeRole``; otherwise the
        simulator issues its own keys.
        """
        if account_id == DEFAULT_ACCOUNT_ID:
            return DEFAULT_CREDENTIALS
        if moto_active():
            return self.ec2.credentials(account_id)
        with self._lock:
            key = next((k for k, owner in self._issued_keys.items() if owner == account_id), None)
            if key is None:
                key = self.ids.access_key()
                self._issued_keys[key] = account_id
            return Credentials(key, "simulator-secret", "simulator-token")

    def account_for_access_key(self, access_key: str | None) -> str:
        """The account a request signed with ``access_key`` acts in."""
        if access_key:
            with self._lock:
                issued = self._issued_keys.get(access_key)
            if issued is not None:
                return issued
            from_moto = moto_account_for(access_key)
            if from_moto is not None:
                return from_moto
        return DEFAULT_ACCOUNT_ID

    # -- state -----------------------------------------------------------------------

    def region_state(self, account_id: str, region: str) -> RegionState:
        """The state of one account in one region (created empty on first use)."""
        with self._lock:
            key = (account_id, region)
            state = self._regions.get(key)
            if state is None:
                state = self._regions[key] = RegionState(account_id, region)
            return state

    def regions(self) -> list[RegionState]:
        """Every (account, region) the simulator holds state for."""
        with self._lock:
            return list(self._regions.values())

    def find_server(self, server_id: str) -> SourceServer:
        """A source server by ID, in whatever account and region it lives.

        Raises:
            KeyError: if no such server exists.
        """
        with self._lock:
            for state in self._regions.values():
                if server_id in state.servers:
                    return state.servers[server_id]
        raise KeyError(f"no source server {server_id} in the simulator")

    def launch_template_id(self, server_id: str) -> str:
        """The ID of the server's EC2 launch template (as ``GetLaunchConfiguration`` returns)."""
        return self.find_server(server_id).template_id

    def set_initialized(
        self, region: str, initialized: bool = True, *, account_id: str | None = None
    ) -> None:
        """Mark DRS (un)initialized in a region.

        Uninitialized regions answer every operation but ``InitializeService`` with
        ``UninitializedAccountException``.
        """
        self.region_state(account_id or DEFAULT_ACCOUNT_ID, region).initialized = initialized

    def dispatch(
        self, operation: str, region: str, account_id: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run one DRS operation for a caller (the handler's entry point; no faults, no checks).

        Raises:
            DrsServiceError: the error DRS answers with.
            KeyError: if the operation is not implemented.
        """
        handler = OPERATIONS[operation]
        with self._lock:
            now = self.clock.now()
            self.engine.run_due(now)
            state = self.region_state(account_id, region)
            if not state.initialized and operation != "InitializeService":
                raise uninitialized(region)
            return handler(OpContext(self, state, account_id, region, now), params)

    @property
    def implemented_operations(self) -> frozenset[str]:
        """The DRS operations the simulator answers (others get a 501)."""
        return frozenset(OPERATIONS)

    # -- seeding ---------------------------------------------------------------------

    def add_source_server(
        self,
        *,
        region: str | None = None,
        hostname: str = "server",
        tags: dict[str, str] | None = None,
        replication_state: str = "CONTINUOUS",
        account_id: str | None = None,
        os: Literal["LINUX", "WINDOWS"] = "LINUX",
        os_full_string: str | None = None,
        cpus: int = 2,
        cpu_model: str = "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
        ram_bytes: int = 4 * _GIB,
        disks: Sequence[tuple[str, int]] | None = None,
        private_ip: str | None = None,
        nics: Sequence[Nic] | None = None,
        lag: str | float = 5.0,
        stuck: bool = False,
        staging_account_id: str | None = None,
        source_instance_id: str | None = None,
        source_instance_type: str | None = None,
        origin_region: str | None = None,
        origin_account_id: str | None = None,
        origin_availability_zone: str | None = None,
        fqdn: str | None = None,
        hardware_id: str | None = None,
        vmware_uuid: str | None = None,
        replicating_since: datetime | None = None,
        recovery_snapshots: Iterable[datetime] = (),
    ) -> str:
        """Add a replicating source server, its launch configuration and its EC2 launch template.

        The launch template is a real moto template when ``mock_aws()`` is
        active (create the server inside it), otherwise a detached one.

        Args:
            region: Region the server replicates into (default ``us-east-1``).
            hostname: Host name (also the launch configuration name and ``Name`` tag).
            tags: The source server's tags.
            replication_state: A ``DataReplicationState``; progressing states
                (``INITIAL_SYNC``...) reach ``CONTINUOUS`` after
                ``timings.replication_catch_up`` unless ``stuck``. ``BACKLOG``,
                ``RESCAN``, ``CREATING_SNAPSHOT``, ``PAUSED`` and ``STALLED``
                servers replicated continuously from ``replicating_since``
                until now, so they have recovery snapshots (none with
                ``replicating_since=sim.now()``); ``INITIATING``,
                ``INITIAL_SYNC``, ``STOPPED`` and ``DISCONNECTED`` ones have none.
            account_id: Account (default ``123456789012``).
            os: ``"LINUX"`` or ``"WINDOWS"``.
            os_full_string: The OS description DRS reports (default: one per ``os``).
            cpus: CPU cores (drives right sizing).
            cpu_model: The CPU model name.
            ram_bytes: Memory (drives right sizing).
            disks: ``(device name, bytes)`` pairs.
            private_ip: IP of the primary NIC (default: the next free address in
                172.31.0.0/20, moto's default subnet of the first zone).
            nics: Network interfaces (overrides ``private_ip``).
            lag: Replication lag, seconds or an ISO 8601 duration (``"PT5S"``).
            stuck: Keep a progressing replication state from moving on.
            staging_account_id: Makes the server an extended one from this staging account.
            source_instance_id: The EC2 instance the server replicates (makes it EC2-originated).
            source_instance_type: That instance's type (used by right sizing ``IN_AWS``).
            origin_region: Region of that instance (default: ``region``).
            origin_account_id: Account of that instance (default: ``account_id``).
            origin_availability_zone: Zone of that instance (default: ``<origin_region>a``).
            fqdn: Fully qualified name (default: the host name).
            hardware_id: Hardware ID (for the ``hardwareId`` filter).
            vmware_uuid: VMware UUID hint.
            replicating_since: When continuous replication started (default: seven days ago).
            recovery_snapshots: Extra point-in-time snapshots to seed, by time.

        Returns:
            The new source server ID.
        """
        state_names = _enum("DataReplicationState")
        if replication_state not in state_names:
            raise ValueError(f"replication_state must be one of {state_names}")
        with self._lock:
            now = self.clock.now()
            region = region or self.default_region
            account = account_id or DEFAULT_ACCOUNT_ID
            since = replicating_since or now - timedelta(days=7)
            origin = None
            if source_instance_id or origin_region:
                origin_region = origin_region or region
                origin = AwsOrigin(
                    account_id=origin_account_id or account,
                    region=origin_region,
                    availability_zone=origin_availability_zone or f"{origin_region}a",
                    instance_id=source_instance_id,
                    instance_type=source_instance_type,
                )
            server = register_server(
                self,
                account=account,
                region=region,
                hostname=hostname,
                tags=dict(tags or {}),
                os=os,
                os_full_string=os_full_string,
                cpus=cpus,
                cpu_model=cpu_model,
                ram_bytes=ram_bytes,
                disks=[Disk(d, b) for d, b in (disks or DEFAULT_DISKS[os])],
                nics=list(nics) if nics else [Nic(self.ids.mac(), [private_ip or self._next_ip()])],
                replication=Replication(
                    replication_state,
                    since if replication_state == "CONTINUOUS" else now,
                    lag_seconds=_seconds(lag),
                    stuck=stuck,
                    catch_up_seconds=self.timings.replication_catch_up,
                ),
                added_at=since,
                origin=origin,
            )
            if replication_state in _CAUGHT_UP_BEFORE and since < now:
                server.continuous_history.append((since, now))
            server.staging_account_id = staging_account_id
            server.fqdn, server.hardware_id, server.vmware_uuid = fqdn, hardware_id, vmware_uuid
            for moment in recovery_snapshots:
                server.snapshots.append(RecoverySnapshot(self.ids.snapshot(), moment, moment))
            return server.server_id

    def _next_ip(self) -> str:
        index = self._ips
        self._ips += 1
        return f"172.31.{index // 240}.{index % 240 + 10}"

    def add_recovery_snapshot(self, server_id: str, at: datetime | None = None) -> str:
        """Seed one extra point-in-time snapshot (default: now) and return its ``pit-`` ID."""
        with self._lock:
            server = self.find_server(server_id)
            moment = at or self.clock.now()
            snapshot = RecoverySnapshot(self.ids.snapshot(), moment, moment)
            server.snapshots.append(snapshot)
            return snapshot.snapshot_id

    def set_replication_state(
        self,
        server_id: str,
        state: str,
        *,
        stuck: bool = False,
        lag: str | float | None = None,
        error: str | None = None,
    ) -> None:
        """Put a server's data replication into ``state`` from now on.

        Args:
            server_id: The source server.
            state: A ``DataReplicationState`` (``STALLED``, ``INITIAL_SYNC``...).
            stuck: Keep a progressing state from reaching ``CONTINUOUS``.
            lag: Steady-state lag (seconds or ISO 8601); default: unchanged.
            error: A ``DataReplicationErrorString`` to report (e.g. ``"AGENT_NOT_SEEN"``).
        """
        if state not in _enum("DataReplicationState"):
            raise ValueError(f"not a DataReplicationState: {state}")
        if error is not None and error not in _enum("DataReplicationErrorString"):
            raise ValueError(f"not a DataReplicationErrorString: {error}")
        with self._lock:
            server = self.find_server(server_id)
            now = self.clock.now()
            previous = server.replication
            was = replication_view(previous, now).state
            replication = Replication(
                state,
                now,
                lag_seconds=previous.lag_seconds if lag is None else _seconds(lag),
                stuck=stuck,
                error=error,
                catch_up_seconds=self.timings.replication_catch_up,
            )
            change_replication(server, replication, now)
            self._stall_changed(server, was, state, now)

    def connect_failback_client(
        self, recovery_instance_id: str, *, stuck: bool = False, lag: str | float | None = None
    ) -> str:
        """Connect a Failback Client to a recovery instance (on-premises failback).

        Stands in for the machine booted from the Failback Client and paired
        with the instance: its failback replication starts (INITIATING →
        INITIAL_SYNC → CONTINUOUS over ``timings.reverse_replication``), its
        ``failback.state`` reaches FAILBACK_READY_FOR_LAUNCH, and
        ``StartFailbackLaunch`` can launch it.

        Args:
            recovery_instance_id: The recovery instance to fail back.
            stuck: Keep the replication from ever catching up.
            lag: Its steady lag (seconds or ISO 8601; default: the source's).

        Returns:
            The failback client's ID (``failbackClientID``).

        Raises:
            KeyError: if no such recovery instance exists.
        """
        with self._lock:
            for state in self._regions.values():
                instance = state.instances.get(recovery_instance_id)
                if instance is None:
                    continue
                server = state.servers.get(instance.source_server_id)
                now = self.clock.now()
                base_lag = server.replication.lag_seconds if server is not None else 5.0
                client_id = stable_id("fbc-", recovery_instance_id, now.isoformat())
                instance.failback = FailbackProgress(
                    started_at=now,
                    client_id=client_id,
                    client_replication=Replication(
                        "INITIATING",
                        now,
                        lag_seconds=base_lag if lag is None else _seconds(lag),
                        stuck=stuck,
                        catch_up_seconds=self.timings.reverse_replication,
                    ),
                )
                return client_id
        raise KeyError(f"no recovery instance {recovery_instance_id} in the simulator")

    def outage(
        self,
        *,
        region: str | None = None,
        server_ids: Iterable[str] | None = None,
        account_id: str | None = None,
        error: str = "AGENT_NOT_SEEN",
    ) -> list[str]:
        """Lose the source site: stall every matching server the way DRS shows a site loss.

        Each matching server goes ``STALLED`` with ``error`` as its
        ``dataReplicationError``, its lag grows from now on (from the lag it
        had), ``lastSeenByServiceDateTime`` stays at now, and no new recovery
        snapshot is taken, so a launch uses the latest snapshot from before
        the outage. Servers already ``STALLED``, ``STOPPED`` or
        ``DISCONNECTED`` are left as they are. With no filter, every server
        in the simulator is hit.

        Args:
            region: Only servers replicating into this region.
            server_ids: Only these servers.
            account_id: Only servers of this account.
            error: A ``DataReplicationErrorString`` (default ``AGENT_NOT_SEEN``).

        Returns:
            The IDs of the servers the outage stalled, in the order they were added.

        Raises:
            KeyError: naming server IDs the simulator does not have.
            ValueError: if ``error`` is not a ``DataReplicationErrorString``.
        """
        if error not in _enum("DataReplicationErrorString"):
            raise ValueError(f"not a DataReplicationErrorString: {error}")
        wanted = None if server_ids is None else set(server_ids)
        with self._lock:
            now = self.clock.now()
            candidates = [
                server
                for state in self._regions.values()
                if (region is None or state.region == region)
                and (account_id is None or state.account_id == account_id)
                for server in state.servers.values()
                if wanted is None or server.server_id in wanted
            ]
            if wanted is not None:
                unknown = sorted(wanted - self._all_ids())
                if unknown:
                    raise KeyError(f"no source servers {unknown} in the simulator")
            stalled = []
            for server in candidates:
                view = replication_view(server.replication, now)
                if view.state in _OUTAGE_UNAFFECTED:
                    continue
                replication = Replication(
                    "STALLED",
                    now,
                    lag_seconds=view.lag_seconds or 0.0,
                    error=error,
                    catch_up_seconds=self.timings.replication_catch_up,
                )
                change_replication(server, replication, now)
                self._stall_changed(server, view.state, "STALLED", now)
                stalled.append(server.server_id)
            return stalled

    def _stall_changed(self, server: SourceServer, was: str, now_state: str, at: datetime) -> None:
        """Publish DRS's stalled-change event when a server stalls or stops being stalled."""
        if (was == "STALLED") == (now_state == "STALLED"):
            return
        self.events.publish(
            STALLED_CHANGE,
            account=server.account_id,
            region=server.region,
            at=at,
            resources=[server.arn],
            detail={"state": "STALLED" if now_state == "STALLED" else "NOT_STALLED"},
        )

    def _all_ids(self) -> set[str]:
        return {sid for state in self._regions.values() for sid in state.servers}

    def retire_recovery_instance(self, state: RegionState, server: SourceServer) -> None:
        """Drop the server's current recovery instance before a new launch replaces it.

        DRS keeps one recovery instance per source server; its EC2 instance is
        terminated unless it is an existing instance DRS launched into.
        """
        previous = state.instances.pop(server.recovery_instance_id or "", None)
        server.recovery_instance_id = None
        if previous is not None and not previous.launched_into_existing:
            self.ec2.terminate(
                state.account_id, state.region, previous.ec2_home, previous.ec2_instance_id
            )


_CAUGHT_UP_BEFORE = frozenset({"BACKLOG", "RESCAN", "CREATING_SNAPSHOT", "PAUSED", "STALLED"})
"""Seeded states that follow a completed initial sync: the server replicated continuously before."""

_OUTAGE_UNAFFECTED = frozenset({"STALLED", "STOPPED", "DISCONNECTED"})
"""States an outage leaves alone (already stalled, or no longer replicating at all)."""


def _enum(shape_name: str) -> list[str]:
    return list(service_model().shape_for(shape_name).metadata.get("enum", []))


def _seconds(value: str | float) -> float:
    return float(value) if isinstance(value, int | float) else parse_duration(value)
