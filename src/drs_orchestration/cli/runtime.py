"""What a command works with: the storage, AWS clients, the services, and names resolved to IDs.

One :class:`Runtime` per command invocation, built from the shared options
(:class:`~drs_orchestration.cli.options.CliOptions`) and closed with the
click context.

AWS access is an :class:`~drs_orchestration.AssumeRoleClientFactory` over
``boto3.Session(profile_name=--profile, region_name=--region)``: the
caller's own account with the profile's credentials, and the roles named on
cross-account groups assumed from them.

Tests reach the DRS simulator through the hidden ``--clients simulated``.
It is honoured only when the test has imported
:mod:`drs_orchestration.testing` and activated a simulator (``mock_drs()``)
inside moto's ``mock_aws()`` in the same process — which the command line
never does by itself — and refused with exit status 2 otherwise, so it can
never quietly send a production command to a fake.
"""

from __future__ import annotations

import getpass
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from drs_orchestration.cli.errors import EXIT_BACKEND, EXIT_FAILED, EXIT_USAGE, CliError
from drs_orchestration.cli.options import CliOptions
from drs_orchestration.cli.storage_url import StorageSpec, resolve_storage
from drs_orchestration.errors import NotFoundError
from drs_orchestration.models import Execution, ProtectionGroup, RecoveryPlan, utc_now

if TYPE_CHECKING:
    from drs_orchestration.aws import ClientFactory, RetryPolicy
    from drs_orchestration.events import EventSink
    from drs_orchestration.services import Orchestrator
    from drs_orchestration.storage import Storage

__all__ = ["Runtime", "runtime"]

M = TypeVar("M", ProtectionGroup, RecoveryPlan)

_GROUP_PREFIX = "pg-"
_PLAN_PREFIX = "rp-"


def runtime(ctx: click.Context) -> Runtime:
    """The runtime of the command being run (created once, closed with the context)."""
    options = ctx.find_object(CliOptions) or ctx.ensure_object(CliOptions)
    found = ctx.meta.get("drs_orchestration.runtime")
    if isinstance(found, Runtime):
        return found
    created = Runtime(options, command=ctx.command_path)
    ctx.meta["drs_orchestration.runtime"] = created
    ctx.call_on_close(created.close)
    return created


class Runtime:
    """Storage, clients and services for one command.

    Args:
        options: The shared command-line options.
        command: The command's name, for messages.
    """

    def __init__(self, options: CliOptions, *, command: str) -> None:
        self.options = options
        self.command = command
        self._stack = ExitStack()
        self._storage: Storage | None = None
        self._read_only = False
        self._clients: ClientFactory | None = None
        self._simulator: Any = None

    # ---- storage ------------------------------------------------------------------------

    @property
    def spec(self) -> StorageSpec:
        """The storage the options select."""
        if self.options.spec is None:
            self.options.spec = resolve_storage(self.options.storage, self.options.db)
        return self.options.spec

    def storage(self, *, read_only: bool = False, missing_ok: bool = False) -> Storage:
        """Open the storage (once per command).

        Args:
            read_only: The command only reads: a SQLite file is opened
                read-only (never created, converted or written), and a missing
                one is reported instead of created.
            missing_ok: With ``read_only``, a missing SQLite file reads as
                empty (for listings) instead of being reported.

        Raises:
            CliError: a missing SQLite file for a read-only command (exit 1),
                or DynamoDB without a region (exit 2).
            StorageError: the storage cannot be opened.
        """
        if self._storage is not None:
            # A command opens its storage once; one that reads first and writes later
            # must ask for write access the first time.
            assert read_only or not self._read_only, "storage opened read-only, then written"
            return self._storage
        self._read_only = read_only
        spec = self.spec
        storage: Storage
        if spec.kind == "memory":
            from drs_orchestration.storage import MemoryStorage

            storage = MemoryStorage()
        elif spec.kind == "sqlite":
            from drs_orchestration.storage import SqliteStorage

            assert spec.path is not None
            if read_only and not spec.path.exists():
                if missing_ok:
                    from drs_orchestration.storage import MemoryStorage

                    self._storage = MemoryStorage()
                    return self._storage
                raise CliError(
                    f"no database at {spec.path} (nothing stored there yet; choose another "
                    "with --storage URL or --db PATH)",
                    EXIT_FAILED,
                )
            storage = self._stack.enter_context(SqliteStorage(spec.path, read_only=read_only))
        else:
            from drs_orchestration.storage import DynamoDBStorage

            region = spec.region or self.options.region or self._session_region()
            if not region:
                raise CliError(
                    f"--storage {spec.url()}: DynamoDB needs a region: add ?region=REGION "
                    "or pass --region",
                    EXIT_USAGE,
                )
            kwargs: dict[str, Any] = {"clients": self.clients(), "region": region}
            if spec.table_prefix is not None:
                kwargs["table_prefix"] = spec.table_prefix
            storage = self._stack.enter_context(DynamoDBStorage(**kwargs))
        self._storage = storage
        return storage

    def location(self) -> str:
        """Where the storage is, for messages."""
        spec = self.spec
        if spec.kind == "sqlite":
            return str(spec.path)
        if spec.kind == "dynamodb":
            return f"the DynamoDB tables {spec.table_prefix or 'drs-orchestration-'}*"
        return "memory"

    # ---- AWS ----------------------------------------------------------------------------

    @property
    def simulated(self) -> bool:
        """Whether AWS calls go to the DRS simulator (tests only)."""
        return self.options.clients == "simulated"

    def clients(self) -> ClientFactory:
        """Where AWS clients come from (created once, no AWS call here).

        Raises:
            CliError: ``--clients simulated`` without an active simulator (exit 2),
                or an AWS profile that does not exist (exit 3).
        """
        if self._clients is not None:
            return self._clients
        if self.simulated:
            self._clients = self._simulated_clients()
            return self._clients
        import boto3
        from botocore.exceptions import BotoCoreError

        from drs_orchestration.aws import AssumeRoleClientFactory

        try:
            session = boto3.Session(
                profile_name=self.options.profile, region_name=self.options.region
            )
        except BotoCoreError as exc:
            raise CliError(f"AWS: {exc}", EXIT_BACKEND) from exc
        self._clients = AssumeRoleClientFactory(session)
        return self._clients

    def _simulated_clients(self) -> ClientFactory:
        testing = sys.modules.get("drs_orchestration.testing")
        sim = testing.active_simulator() if testing is not None else None
        if sim is None or not sim.ec2_available:
            raise CliError(
                "--clients simulated is for tests: it needs a DRS simulator "
                "(drs_orchestration.testing.mock_drs) active inside moto's mock_aws() "
                "in this process",
                EXIT_USAGE,
            )
        self._simulator = sim
        factory: ClientFactory = testing.SimulatedClientFactory(sim)  # type: ignore[union-attr]
        return factory

    def _session_region(self) -> str | None:
        if self.simulated:
            return None
        import boto3

        region: str | None = boto3.Session(profile_name=self.options.profile).region_name
        return region

    def default_region(self) -> str | None:
        """``--region``, else the AWS configuration's region."""
        return self.options.region or self._session_region()

    @property
    def clock(self) -> Callable[[], datetime]:
        """The time: the simulator's under ``--clients simulated``, else UTC now."""
        if self.simulated:
            self.clients()
        if self._simulator is not None:
            now: Callable[[], datetime] = self._simulator.now
            return now
        return utc_now

    @property
    def sleep(self) -> Callable[[float], None]:
        """How waits wait: the simulator's clock moves under ``--clients simulated``."""
        if self.simulated:
            self.clients()
        if self._simulator is not None:
            advance = self._simulator.advance

            def simulated_sleep(seconds: float) -> None:
                advance(seconds)

            return simulated_sleep
        return time.sleep

    def retry(self) -> RetryPolicy:
        """The retry policy of every AWS call (its waits follow :attr:`sleep`)."""
        from drs_orchestration.aws import RetryPolicy

        return RetryPolicy(sleep=self.sleep)

    def orchestrator(
        self, *, read_only: bool = False, events: EventSink | None = None
    ) -> Orchestrator:
        """The library's services over this storage and these clients."""
        from drs_orchestration.services import Orchestrator

        storage = self.storage(read_only=read_only)
        return Orchestrator(
            storage,
            self.clients(),
            events=events,
            clock=self.clock,
            retry=self.retry(),
            sleep=self.sleep,
        )

    @staticmethod
    def operator() -> str:
        """Who runs the command: ``user@host``, recorded on what it starts or cancels."""
        try:
            user = getpass.getuser()
        except (OSError, KeyError):
            user = "unknown"
        return f"{user}@{socket.gethostname()} (drs-orchestration cli)"

    # ---- names and IDs ------------------------------------------------------------------

    def group(self, ref: str, *, read_only: bool = True) -> ProtectionGroup:
        """A protection group by ID (``pg-...``) or by its unique name.

        Raises:
            CliError: none stored (exit 1), or the name is ambiguous (exit 2).
        """
        storage = self.storage(read_only=read_only)
        if ref.startswith(_GROUP_PREFIX):
            found = storage.protection_groups.find(ref)
            if found is not None:
                return found
        return self._by_name(
            "protection group", ref, storage.protection_groups.list(), lambda g: g.group_id
        )

    def plan(self, ref: str, *, read_only: bool = True) -> RecoveryPlan:
        """A recovery plan by ID (``rp-...``) or by its unique name.

        Raises:
            CliError: none stored (exit 1), or the name is ambiguous (exit 2).
        """
        storage = self.storage(read_only=read_only)
        if ref.startswith(_PLAN_PREFIX):
            found = storage.recovery_plans.find(ref)
            if found is not None:
                return found
        return self._by_name(
            "recovery plan", ref, storage.recovery_plans.list(), lambda p: p.plan_id
        )

    def _by_name(self, kind: str, ref: str, items: list[M], key: Callable[[M], str]) -> M:
        named = [item for item in items if item.name == ref]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            ids = ", ".join(sorted(key(item) for item in named))
            raise CliError(
                f"{len(named)} {kind}s are named {ref!r} ({ids}): give the ID", EXIT_USAGE
            )
        known = ", ".join(sorted(repr(item.name) for item in items)[:10]) or "none"
        raise CliError(
            f"no {kind} {ref!r} in {self.location()} ({kind}s stored: {known})", EXIT_FAILED
        )

    def execution(self, execution_id: str, *, read_only: bool = True) -> Execution:
        """A stored execution.

        Raises:
            CliError: none stored under that ID (exit 1).
        """
        storage = self.storage(read_only=read_only)
        try:
            return storage.executions.get(execution_id)
        except NotFoundError:
            raise CliError(
                f"no execution {execution_id!r} in {self.location()}", EXIT_FAILED
            ) from None

    def executions(self, plan: RecoveryPlan | None = None) -> list[Execution]:
        """Executions of one plan, or of every stored plan; newest first.

        Read per plan (the executions' index by plan), so the executions of
        a deleted plan are not listed.
        """
        storage = self.storage(read_only=True, missing_ok=True)
        plans = [plan] if plan is not None else storage.recovery_plans.list()
        found = [e for p in plans for e in storage.executions.list_for_plan(p.plan_id)]
        return sorted(found, key=lambda e: e.created_at, reverse=True)

    def close(self) -> None:
        """Close the storage."""
        self._stack.close()
