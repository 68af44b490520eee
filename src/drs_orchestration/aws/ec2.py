"""A small typed gateway over the EC2 calls the library needs: launch templates and instances."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from drs_orchestration.aws.drs import chunked
from drs_orchestration.aws.gateway import ServiceGateway
from drs_orchestration.errors import NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import InstanceTypeDef, LaunchTemplateVersionTypeDef


__all__ = ["MAX_FILTER_VALUES", "Ec2Gateway"]

MAX_FILTER_VALUES = 200
"""EC2 accepts at most 200 values in one describe filter."""


class Ec2Gateway(ServiceGateway):
    """EC2 operations in one region (and account), with retries and error translation.

    Args:
        clients: Where the EC2 client comes from.
        region: The region to work in.
        account: The account to work in (``None``: the factory's own).
        retry: Retry policy for every call.
    """

    service = "ec2"

    @property
    def client(self) -> EC2Client:
        """The underlying boto3 EC2 client (cached by the factory)."""
        return self._clients.client("ec2", self.region, self.account)

    def default_template_version(self, launch_template_id: str) -> LaunchTemplateVersionTypeDef:
        """The default version of a launch template (number and data)."""
        response = self._call(
            "DescribeLaunchTemplateVersions",
            self.client.describe_launch_template_versions,
            resource_ids=[launch_template_id],
            LaunchTemplateId=launch_template_id,
            Versions=["$Default"],
        )
        versions = response["LaunchTemplateVersions"]
        if not versions:
            raise NotFoundError(
                "launch template default version",
                launch_template_id,
                details={"region": self.region, "accountId": self.account_id},
            )
        return versions[0]

    def create_template_version(
        self,
        launch_template_id: str,
        *,
        source_version: int,
        data: Mapping[str, Any],
        description: str | None = None,
    ) -> int:
        """Create a version from ``source_version`` with ``data``; return its number.

        ``data`` must be the *complete* template data: the library merges its
        changes into the source version's data itself, because moto (unlike
        AWS) does not merge ``SourceVersion`` data and sending the full data is
        correct on both.
        """
        params: dict[str, Any] = {
            "LaunchTemplateId": launch_template_id,
            "SourceVersion": str(source_version),
            "LaunchTemplateData": dict(data),
        }
        if description:
            params["VersionDescription"] = description[:255]
        response = self._call(
            "CreateLaunchTemplateVersion",
            self.client.create_launch_template_version,
            resource_ids=[launch_template_id],
            **params,
        )
        return int(response["LaunchTemplateVersion"]["VersionNumber"])

    def set_default_template_version(self, launch_template_id: str, version: int) -> None:
        """Make ``version`` (a number, never ``$Latest``) the template's default."""
        self._call(
            "ModifyLaunchTemplate",
            self.client.modify_launch_template,
            resource_ids=[launch_template_id],
            LaunchTemplateId=launch_template_id,
            DefaultVersion=str(version),
        )

    def describe_instances(self, instance_ids: Iterable[str]) -> list[InstanceTypeDef]:
        """The instances among ``instance_ids`` that exist (missing IDs are simply absent).

        Uses an ``instance-id`` filter in batches of 200 rather than
        ``InstanceIds``, which fails the whole call when one ID is gone.
        """
        ids = list(dict.fromkeys(instance_ids))
        reservations: list[Any] = []
        for chunk in chunked(ids, MAX_FILTER_VALUES):
            reservations.extend(
                self._paginate(
                    "DescribeInstances",
                    "describe_instances",
                    "Reservations",
                    resource_ids=chunk,
                    Filters=[{"Name": "instance-id", "Values": chunk}],
                )
            )
        return [instance for r in reservations for instance in r.get("Instances", [])]
