"""A DRS simulator inside moto, with the launch-configuration and group services over it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from drs_orchestration.aws import RetryPolicy
from drs_orchestration.services import LaunchConfigService, ProtectionGroupService
from drs_orchestration.storage import MemoryStorage
from drs_orchestration.testing import DrsSimulator, SimulatedClientFactory


def no_sleep(_: float) -> None:
    """Retries in tests never wait."""


@dataclass
class Env:
    sim: DrsSimulator
    clients: SimulatedClientFactory
    storage: MemoryStorage
    launch_configs: LaunchConfigService
    groups: ProtectionGroupService
    retry: RetryPolicy

    def drs(self, region: str = "us-east-1") -> Any:
        return self.clients.client("drs", region)

    def ec2(self, region: str = "us-east-1") -> Any:
        return self.clients.client("ec2", region)

    def servers(self, n: int, *, region: str = "us-east-1", **details: Any) -> list[str]:
        return [
            self.sim.add_source_server(region=region, hostname=f"host-{i}", **details)
            for i in range(n)
        ]

    def template_data(self, server_id: str) -> dict[str, Any]:
        template_id = self.sim.launch_template_id(server_id)
        versions = self.ec2().describe_launch_template_versions(
            LaunchTemplateId=template_id, Versions=["$Default"]
        )
        return dict(versions["LaunchTemplateVersions"][0]["LaunchTemplateData"])


@pytest.fixture
def env(drs_sim: DrsSimulator, simulated_clients: SimulatedClientFactory) -> Env:
    storage = MemoryStorage()
    retry = RetryPolicy(max_attempts=4, sleep=no_sleep)
    launch_configs = LaunchConfigService(storage, simulated_clients, retry=retry, concurrency=4)
    groups = ProtectionGroupService(
        storage, simulated_clients, launch_configs=launch_configs, retry=retry
    )
    return Env(drs_sim, simulated_clients, storage, launch_configs, groups, retry)
