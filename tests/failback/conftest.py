"""A failed-over world to fail back from: moto EC2 in two regions, the DRS simulator, storage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from drs_orchestration import MemoryStorage, Orchestrator, RetryPolicy
from drs_orchestration.events import Event
from drs_orchestration.models import AccountContext, Execution, ExecutionStatus
from drs_orchestration.services.failback import AgentInstaller, FailbackCoordinator
from drs_orchestration.storage.base import Storage
from drs_orchestration.testing import DrsSimulator, JobTimings, SimulatedClientFactory, mock_drs
from tests.cache.conftest import make_storage

RECOVERY = "us-east-1"
ORIGIN = "us-west-2"
AMI = "ami-04681a1dbd79675a5"
"""moto's Amazon Linux 2 image (HVM, x86_64, EBS)."""
ALLOW = {"AWSDRS": "AllowLaunchingIntoThisInstance"}
NO_WAIT = RetryPolicy(max_attempts=3, initial_wait_s=0.0, max_wait_s=0.0, sleep=lambda _: None)
FAST = JobTimings(
    job_start=1.0,
    snapshot=5.0,
    conversion=10.0,
    launch=10.0,
    job_end=1.0,
    server_stagger=0.0,
    terminate=10.0,
    failback_launch=20.0,
    replication_catch_up=300.0,
    reverse_replication=600.0,
)


@dataclass
class World:
    """Everything a failback test touches."""

    sim: DrsSimulator
    clients: SimulatedClientFactory
    storage: Storage
    orch: Orchestrator
    events: list[Event] = field(default_factory=list)
    originals: dict[str, str] = field(default_factory=dict)
    """Source server ID → the EC2 instance in the origin it replicates."""

    def coordinator(self, **options: Any) -> FailbackCoordinator:
        """A coordinator sharing the orchestrator's services, with its own settings."""
        orch = self.orch
        return FailbackCoordinator(
            self.storage,
            self.clients,
            waves=orch.waves,
            plans=orch.plans,
            groups=orch.groups,
            matcher=orch.matcher,
            events=self.events.append,
            clock=self.sim.now,
            sleep=self.sim.advance,
            retry=NO_WAIT,
            **options,
        )

    def drs(self, region: str = RECOVERY, account: AccountContext | None = None) -> Any:
        return self.clients.client("drs", region, account)

    def ec2(self, region: str = RECOVERY, account: AccountContext | None = None) -> Any:
        return self.clients.client("ec2", region, account)

    def instance(
        self,
        name: str,
        *,
        region: str = ORIGIN,
        account: AccountContext | None = None,
        state: str = "running",
        tags: dict[str, str] | None = None,
        allow: bool = True,
    ) -> str:
        ec2 = self.ec2(region, account)
        all_tags = {"Name": name, **(ALLOW if allow else {}), **(tags or {})}
        instance_id = str(
            ec2.run_instances(
                ImageId=AMI,
                InstanceType="m5.large",
                MinCount=1,
                MaxCount=1,
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()],
                    }
                ],
            )["Instances"][0]["InstanceId"]
        )
        if state == "stopped":
            ec2.stop_instances(InstanceIds=[instance_id])
        return instance_id

    def ec2_instance(
        self, instance_id: str, region: str = RECOVERY, account: AccountContext | None = None
    ) -> dict[str, Any]:
        reservations = self.ec2(region, account).describe_instances(InstanceIds=[instance_id])
        return dict(reservations["Reservations"][0]["Instances"][0])

    def ip_of(self, instance_id: str, region: str = RECOVERY) -> str:
        return str(self.ec2_instance(instance_id, region)["PrivateIpAddress"])

    def source_server(
        self, server_id: str, region: str = RECOVERY, account: AccountContext | None = None
    ) -> dict[str, Any]:
        items = self.drs(region, account).describe_source_servers(
            filters={"sourceServerIDs": [server_id]}
        )["items"]
        return dict(items[0]) if items else {}

    def recovery_instance(
        self, instance_id: str, region: str = RECOVERY, account: AccountContext | None = None
    ) -> dict[str, Any]:
        items = self.drs(region, account).describe_recovery_instances(
            filters={"recoveryInstanceIDs": [instance_id]}
        )["items"]
        return dict(items[0]) if items else {}

    def servers(
        self,
        count: int,
        *,
        tier: str = "app",
        account: AccountContext | None = None,
        allow: bool = True,
        **details: Any,
    ) -> list[str]:
        """EC2-originated source servers replicating from ``ORIGIN`` into ``RECOVERY``.

        Their original instances allow DRS to launch into them unless ``allow=False``.
        """
        made = []
        for index in range(count):
            original = self.instance(f"{tier}-{index}", allow=allow)
            sid = self.sim.add_source_server(
                region=RECOVERY,
                hostname=f"{tier}-{index}",
                tags={"Tier": tier},
                source_instance_id=original,
                origin_region=ORIGIN,
                account_id=account.account_id if account else None,
                origin_account_id="123456789012" if account else None,
                private_ip=self.ip_of(original, ORIGIN),
                **details,
            )
            self.originals[sid] = original
            made.append(sid)
        return made

    def fail_over(
        self,
        tiers: dict[str, list[str]],
        *,
        drill: bool = False,
        account: AccountContext | None = None,
        settings: dict[str, Any] | None = None,
        outage: bool = True,
    ) -> Execution:
        """Groups and a plan (a wave per tier), the origin lost, the recovery run to its end."""
        waves = []
        for tier, server_ids in tiers.items():
            group = self.orch.groups.create(
                tier,
                RECOVERY,
                server_ids=server_ids,
                account=account,
                launch_settings=settings or {},
            )
            waves.append({"name": tier, "protectionGroupIds": [group.group_id]})
        plan = self.orch.plans.create("shop", waves)
        if outage and not drill:
            self.sim.outage(server_ids=[s for ids in tiers.values() for s in ids])
            for sid in (s for ids in tiers.values() for s in ids):
                self.ec2(ORIGIN).stop_instances(InstanceIds=[self.originals[sid]])
        execution = self.orch.waves.start(plan.plan_id, drill=drill)
        done = self.orch.waves.run(execution.execution_id, poll_interval=30)
        assert done.status is ExecutionStatus.COMPLETED, done.error
        return done


def make_world(
    sim: DrsSimulator,
    storage: Storage,
    *,
    install_agent: AgentInstaller | None = None,
) -> World:
    clients = SimulatedClientFactory(sim)
    events: list[Event] = []
    orch = Orchestrator(
        storage,
        clients,
        events=events.append,
        clock=sim.now,
        retry=NO_WAIT,
        sleep=sim.advance,
        sync_cache=False,
        install_agent=install_agent,
    )
    return World(sim, clients, storage, orch, events)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # moto's catalogue images carry the platform, architecture and virtualization type
    # the matcher's checks read (launching back into the original instances).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    with mock_aws():
        yield


@pytest.fixture
def world(aws: None) -> Iterator[World]:
    with mock_drs(timings=FAST) as sim:
        yield make_world(sim, MemoryStorage())


WorldFactory = Callable[..., World]


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def backend_world(request: pytest.FixtureRequest, aws: None, tmp_path: Path) -> Iterator[World]:
    """The world on each storage backend (DynamoDB on moto)."""
    storage = make_storage(request.param, tmp_path)
    with mock_drs(timings=FAST) as sim:
        yield make_world(sim, storage)
    storage.close()
