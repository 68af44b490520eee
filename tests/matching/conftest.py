"""The DRS simulator inside moto, with instances to launch into and the matcher over them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from moto import mock_aws

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.events import Event
from drs_orchestration.models import AccountContext, ProtectionGroup
from drs_orchestration.services import (
    InstanceMatcher,
    LaunchConfigService,
    ProtectionGroupService,
)
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.storage.base import BaseStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory
from tests.cache.conftest import make_storage

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

REGION = "us-east-1"
OTHER_ACCOUNT = AccountContext(account_id="222222222222", role_name="DRSOrchestrationRole")
AMIS = {"LINUX": "ami-04681a1dbd79675a5", "WINDOWS": "ami-03cf127a"}
"""moto's catalogue images (HVM, x86_64, EBS): Amazon Linux 2 and Windows Server 2016."""
ALLOW = {"AWSDRS": "AllowLaunchingIntoThisInstance"}


def no_sleep(_: float) -> None:
    """Retries in tests never wait."""


@dataclass
class Env:
    """Everything a matching test touches."""

    sim: DrsSimulator
    clients: SimulatedClientFactory
    storage: BaseStorage
    launch_configs: LaunchConfigService
    groups: ProtectionGroupService
    matcher: InstanceMatcher
    retry: RetryPolicy
    events: list[Event] = field(default_factory=list)

    def ec2(self, region: str = REGION, account: AccountContext | None = None) -> EC2Client:
        return self.clients.client("ec2", region, account)

    def drs(self, region: str = REGION, account: AccountContext | None = None) -> Any:
        return self.clients.client("drs", region, account)

    def server(
        self,
        hostname: str,
        *,
        name: str | None = None,
        account: AccountContext | None = None,
        region: str = REGION,
        **details: Any,
    ) -> str:
        """A source server; ``name`` becomes its ``Name`` tag."""
        tags = dict(details.pop("tags", {}))
        if name is not None:
            tags["Name"] = name
        return self.sim.add_source_server(
            region=region,
            hostname=hostname,
            tags=tags,
            account_id=account.account_id if account else None,
            **details,
        )

    def instance(
        self,
        name: str | None,
        *,
        region: str = REGION,
        account: AccountContext | None = None,
        os: str = "LINUX",
        allow: bool = True,
        state: str = "stopped",
        instance_type: str = "m5.large",
        tags: dict[str, str] | None = None,
        **run: Any,
    ) -> str:
        """An EC2 instance to launch into: tagged for DRS and stopped unless told otherwise."""
        all_tags = dict(tags or {})
        if name is not None:
            all_tags["Name"] = name
        if allow:
            all_tags.update(ALLOW)
        ec2 = self.ec2(region, account)
        kwargs: dict[str, Any] = {
            "ImageId": AMIS[os],
            "InstanceType": instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            **run,
        }
        if all_tags:
            kwargs["TagSpecifications"] = [
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()],
                }
            ]
        instance_id = str(ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"])
        if state == "stopped":
            ec2.stop_instances(InstanceIds=[instance_id])
        elif state == "terminated":
            ec2.terminate_instances(InstanceIds=[instance_id])
        return instance_id

    def group(
        self, server_ids: list[str], *, account: AccountContext | None = None, **kw: Any
    ) -> ProtectionGroup:
        return self.groups.create(
            kw.pop("name", "group"),
            kw.pop("region", REGION),
            server_ids=server_ids,
            account=account,
            **kw,
        )

    def launch_config(
        self, server_id: str, account: AccountContext | None = None
    ) -> dict[str, Any]:
        return dict(self.drs(REGION, account).get_launch_configuration(sourceServerID=server_id))

    def state(self, instance_id: str, region: str = REGION) -> str:
        reservations = self.ec2(region).describe_instances(InstanceIds=[instance_id])[
            "Reservations"
        ]
        return str(reservations[0]["Instances"][0]["State"]["Name"])


def make_env(storage: BaseStorage, sim: DrsSimulator) -> Env:
    clients = SimulatedClientFactory(sim)
    retry = RetryPolicy(max_attempts=3, sleep=no_sleep)
    events: list[Event] = []
    launch_configs = LaunchConfigService(storage, clients, retry=retry, concurrency=4)
    groups = ProtectionGroupService(storage, clients, launch_configs=launch_configs, retry=retry)
    matcher = InstanceMatcher(
        storage, clients, retry=retry, clock=sim.now, events=events.append, groups=groups
    )
    return Env(sim, clients, storage, launch_configs, groups, matcher, retry, events)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # moto's catalogue images carry the platform, architecture and virtualization type
    # the checks read; without them every moto instance looks paravirtual.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "true")
    with mock_aws():
        yield


def launch_into_source_instance(
    env: Env, region: str = REGION, account: AccountContext | None = None, *, on: bool = True
) -> None:
    """Set ``launchIntoSourceInstance`` on DRS's launch configuration template of a region."""
    drs = env.drs(region, account)
    template = drs.describe_launch_configuration_templates()["items"][0]
    drs.update_launch_configuration_template(
        launchConfigurationTemplateID=template["launchConfigurationTemplateID"],
        launchIntoSourceInstance=on,
    )


@pytest.fixture
def env(aws: None, drs_sim: DrsSimulator) -> Env:
    return make_env(MemoryStorage(), drs_sim)


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def backend_env(
    request: pytest.FixtureRequest, aws: None, tmp_path: Path, drs_sim: DrsSimulator
) -> Iterator[Env]:
    """The environment on each storage backend (DynamoDB on moto)."""
    storage = make_storage(request.param, tmp_path)
    yield make_env(storage, drs_sim)
    storage.close()
