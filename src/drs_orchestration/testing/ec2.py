"""The EC2 side of DRS: launch templates and recovery instances, in moto when it is active.

With moto's ``mock_aws()`` active, every launch template and recovery
instance is a real moto EC2 resource in the right account and region (reached
with credentials moto attributes to that account: moto STS ``AssumeRole`` for
accounts other than moto's default), so code under test sees them through a
plain ``boto3.client("ec2")``.

Without moto there is no EC2 to talk to. The simulator then keeps
"detached" templates and instances inside itself: DRS still works and
returns well-formed EC2 IDs, but no EC2 client can see them, launching into
an existing instance fails (there is no instance to check), and a warning is
logged once. Where a resource lives is decided when it is created and
recorded with it (:data:`~drs_orchestration.testing.state.Ec2Home`).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import botocore.loaders
import botocore.model
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import ListShape, Shape, StructureShape

from drs_orchestration.aws.clients import use_fast_timestamps
from drs_orchestration.testing.service import DEFAULT_ACCOUNT_ID, IdFactory, stable_id
from drs_orchestration.testing.state import Ec2Home

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client

__all__ = [
    "DEFAULT_CREDENTIALS",
    "LAUNCH_INTO_TAG",
    "Credentials",
    "Ec2Bridge",
    "Ec2LaunchError",
    "InstanceInfo",
    "InstanceSpec",
    "moto_active",
]

logger = logging.getLogger(__name__)

LAUNCH_INTO_TAG = ("AWSDRS", "AllowLaunchingIntoThisInstance")
"""The tag an existing instance must carry before DRS launches into it."""

_AMIS = {"LINUX": "ami-04681a1dbd79675a5", "WINDOWS": "ami-03cf127a"}
"""AMIs from moto's default catalogue (Amazon Linux 2 and Windows Server 2016)."""

_SHARED_LOADER = botocore.loaders.create_loader()
_NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
_SIM_ROLE = "drs-simulator"


def moto_active() -> bool:
    """Whether moto's ``mock_aws()`` is active (so EC2, STS and DynamoDB are served)."""
    try:
        from moto.core.models import botocore_stubber
    except ImportError:
        return False
    return bool(botocore_stubber.enabled)


def moto_account_for(access_key: str) -> str | None:
    """The account moto attributes ``access_key`` to, or ``None`` if moto is not active."""
    if not moto_active():
        return None
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key))


def _moto_default_account() -> str:
    try:
        from moto.core import models as moto_models
    except ImportError:
        return DEFAULT_ACCOUNT_ID
    return str(moto_models.DEFAULT_ACCOUNT_ID)


@dataclass(frozen=True)
class Credentials:
    """An access key set (fake, for the simulator or moto)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def session(self, region: str) -> boto3.Session:
        """A boto3 session with these credentials.

        Sessions share one model loader: loading the EC2 model alone takes a
        third of a second, and tests make many sessions.
        """
        core = botocore.session.Session()
        core.register_component("data_loader", _SHARED_LOADER)
        # Parsed as SessionClientFactory's own sessions parse them.
        use_fast_timestamps(core)
        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=region,
            botocore_session=core,
        )


DEFAULT_CREDENTIALS = Credentials("AKIASIMULATORDEFAULT", "simulator-secret")
"""Fake credentials of the default account (moto maps unknown keys to its default account)."""


class Ec2LaunchError(Exception):
    """EC2 refused a launch; the message becomes the ``LAUNCH_FAILED`` log item's ``rawError``."""


@dataclass
class InstanceSpec:
    """What to launch for a recovery instance."""

    os: str
    instance_type: str
    subnet_id: str | None
    security_group_ids: list[str]
    private_ip: str | None
    iam_instance_profile: dict[str, str] | None
    tags: dict[str, str]
    stopped: bool


@dataclass
class InstanceInfo:
    """What the simulator needs to know about an EC2 instance."""

    instance_id: str
    state: str
    tags: dict[str, str]
    platform: str
    private_ip: str | None
    subnet_id: str | None
    availability_zone: str | None
    instance_type: str
    volume_ids: list[str] = field(default_factory=list)


@dataclass
class _DetachedRegion:
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    instances: dict[str, InstanceInfo] = field(default_factory=dict)


class Ec2Bridge:
    """Templates and instances in moto's EC2 (when active) or detached inside the simulator.

    Args:
        ids: The simulator's ID factory (detached IDs are reproducible).
    """

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._lock = threading.RLock()
        self._detached: dict[tuple[str, str], _DetachedRegion] = {}
        self._moto_credentials: dict[str, Credentials] = {}
        self._clients: dict[tuple[str, str, str, str], Any] = {}
        self._warned = False
        self._default_subnets: dict[tuple[str, str], tuple[str, str]] = {}

    # -- where things go -------------------------------------------------------------

    def home_for_new(self) -> Ec2Home:
        """Where a template created now lives (and say so once when that is not moto)."""
        if moto_active():
            return "moto"
        if not self._warned:
            self._warned = True
            logger.warning(
                "moto's mock_aws() is not active: the DRS simulator keeps EC2 launch templates "
                "and recovery instances inside itself (synthetic IDs no EC2 client can see; "
                "launching into an existing instance fails). Enter mock_aws() before seeding "
                "servers to get real moto EC2 resources."
            )
        return "detached"

    def credentials(self, account_id: str) -> Credentials:
        """Credentials moto attributes to ``account_id`` (moto must be active)."""
        if account_id == _moto_default_account():
            return DEFAULT_CREDENTIALS
        with self._lock:
            cached = self._moto_credentials.get(account_id)
            if cached is not None and moto_account_for(cached.access_key_id) == account_id:
                return cached
            sts = DEFAULT_CREDENTIALS.session("us-east-1").client("sts", config=_NO_RETRIES)
            issued = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/{_SIM_ROLE}",
                RoleSessionName=_SIM_ROLE,
            )["Credentials"]
            fresh = Credentials(
                issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"]
            )
            self._moto_credentials[account_id] = fresh
            return fresh

    def ec2(self, account_id: str, region: str) -> EC2Client:
        """A moto EC2 client acting as ``account_id`` in ``region``."""
        credentials = self.credentials(account_id)
        key = ("ec2", account_id, region, credentials.access_key_id)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = credentials.session(region).client("ec2", config=_NO_RETRIES)
                self._clients[key] = client
            return client

    def _detached_region(self, account_id: str, region: str) -> _DetachedRegion:
        return self._detached.setdefault((account_id, region), _DetachedRegion())

    def _require_moto(self, what: str) -> None:
        if not moto_active():
            raise Ec2LaunchError(
                f"{what} lives in moto's EC2, but moto's mock_aws() is no longer active"
            )

    # -- network ---------------------------------------------------------------------

    def default_subnet(self, account_id: str, region: str, home: Ec2Home) -> tuple[str, str]:
        """The default subnet (ID, availability zone) DRS puts into a new launch template."""
        if home == "moto":
            # Looked up once per account and region: every seeded server asks, and a
            # default VPC's subnets do not change under a simulator.
            cached = self._default_subnets.get((account_id, region))
            if cached is not None:
                return cached
            subnets = self.ec2(account_id, region).describe_subnets(
                Filters=[{"Name": "default-for-az", "Values": ["true"]}]
            )["Subnets"]
            if subnets:
                first = min(subnets, key=lambda s: s.get("AvailabilityZone", ""))
                found = (first["SubnetId"], first.get("AvailabilityZone", f"{region}a"))
                self._default_subnets[(account_id, region)] = found
                return found
        return stable_id("subnet-", account_id, region), f"{region}a"

    # -- launch templates ----------------------------------------------------------------

    def create_template(
        self, account_id: str, region: str, home: Ec2Home, name: str, data: dict[str, Any]
    ) -> str:
        """Create a launch template with ``data`` as version 1 and return its ID."""
        if home == "moto":
            created = self.ec2(account_id, region).create_launch_template(
                LaunchTemplateName=name,
                LaunchTemplateData=data,  # type: ignore[arg-type]
            )
            return str(created["LaunchTemplate"]["LaunchTemplateId"])
        template_id = self._ids.ec2("lt")
        with self._lock:
            self._detached_region(account_id, region).templates[template_id] = [dict(data)]
        return template_id

    def template_data(
        self, account_id: str, region: str, home: Ec2Home, template_id: str
    ) -> dict[str, Any]:
        """The data of the template's default version (what a launch uses)."""
        if home == "moto":
            self._require_moto(f"launch template {template_id}")
            try:
                versions = self.ec2(account_id, region).describe_launch_template_versions(
                    LaunchTemplateId=template_id, Versions=["$Default"]
                )["LaunchTemplateVersions"]
            except ClientError as exc:
                raise Ec2LaunchError(_describe(exc)) from exc
            return dict(versions[0].get("LaunchTemplateData", {})) if versions else {}
        with self._lock:
            versions_data = self._detached_region(account_id, region).templates.get(template_id)
            return dict(versions_data[-1]) if versions_data else {}

    def write_template(
        self, account_id: str, region: str, home: Ec2Home, template_id: str, data: dict[str, Any]
    ) -> None:
        """Make ``data`` the template's default, as a new version created from the current default.

        This is how DRS writes into the template itself (see
        :mod:`drs_orchestration.testing.launch`). moto does not merge the
        source version's data, so ``data`` is the whole template data; members
        only a response carries are left out of the request.
        """
        if home == "detached":
            with self._lock:
                versions = self._detached_region(account_id, region).templates
                versions.setdefault(template_id, []).append(dict(data))
            return
        self._require_moto(f"launch template {template_id}")
        client = self.ec2(account_id, region)
        try:
            default = client.describe_launch_template_versions(
                LaunchTemplateId=template_id, Versions=["$Default"]
            )["LaunchTemplateVersions"][0]
            created = client.create_launch_template_version(
                LaunchTemplateId=template_id,
                SourceVersion=str(default["VersionNumber"]),
                VersionDescription="AWS Elastic Disaster Recovery",
                LaunchTemplateData=_request_members(data, _template_request_shape()),
            )
            version = created["LaunchTemplateVersion"]["VersionNumber"]
            client.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=str(version))
        except (ClientError, BotoCoreError, IndexError) as exc:
            reason = _describe(exc) if not isinstance(exc, IndexError) else "no default version"
            raise Ec2LaunchError(f"launch template {template_id}: {reason}") from exc

    # -- instances -------------------------------------------------------------------

    def run_instance(
        self, account_id: str, region: str, home: Ec2Home, spec: InstanceSpec
    ) -> InstanceInfo:
        """Launch one instance; raises :class:`Ec2LaunchError` with EC2's reason on refusal."""
        if home == "detached":
            info = InstanceInfo(
                instance_id=self._ids.instance(),
                state="stopped" if spec.stopped else "running",
                tags=dict(spec.tags),
                platform="windows" if spec.os == "WINDOWS" else "linux",
                private_ip=spec.private_ip,
                subnet_id=spec.subnet_id,
                availability_zone=f"{region}a",
                instance_type=spec.instance_type,
                volume_ids=[self._ids.ec2("vol")],
            )
            with self._lock:
                self._detached_region(account_id, region).instances[info.instance_id] = info
            return info
        self._require_moto("the launch template")
        client = self.ec2(account_id, region)
        if spec.private_ip and spec.subnet_id:
            self._check_address(client, spec.subnet_id, spec.private_ip)
        kwargs: dict[str, Any] = {
            "ImageId": _AMIS.get(spec.os, _AMIS["LINUX"]),
            "InstanceType": spec.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
        }
        if spec.subnet_id:
            kwargs["SubnetId"] = spec.subnet_id
        if spec.security_group_ids:
            kwargs["SecurityGroupIds"] = spec.security_group_ids
        if spec.private_ip:
            kwargs["PrivateIpAddress"] = spec.private_ip
        if spec.iam_instance_profile:
            kwargs["IamInstanceProfile"] = spec.iam_instance_profile
        if spec.tags:
            kwargs["TagSpecifications"] = [
                {
                    "ResourceType": kind,
                    "Tags": [{"Key": k, "Value": v} for k, v in spec.tags.items()],
                }
                for kind in ("instance", "volume")
            ]
        try:
            reservation = client.run_instances(**kwargs)
            instance_id = reservation["Instances"][0]["InstanceId"]
            if spec.stopped:
                client.stop_instances(InstanceIds=[instance_id])
        except (ClientError, BotoCoreError) as exc:
            raise Ec2LaunchError(_describe(exc)) from exc
        launched = self.describe(account_id, region, home, instance_id)
        if launched is None:
            raise Ec2LaunchError(f"instance {instance_id} vanished right after launch")
        return launched

    @staticmethod
    def _check_address(client: EC2Client, subnet_id: str, address: str) -> None:
        # EC2 refuses such a launch with InvalidParameterValue; moto raises a bare Exception.
        try:
            subnets = client.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
        except ClientError as exc:
            raise Ec2LaunchError(_describe(exc)) from exc
        cidr = subnets[0].get("CidrBlock") if subnets else None
        if cidr and ipaddress.ip_address(address) not in ipaddress.ip_network(cidr):
            raise Ec2LaunchError(
                f"InvalidParameterValue: Address {address} does not fall within the "
                f"subnet's address range ({subnet_id}, {cidr})"
            )

    def describe(
        self, account_id: str, region: str, home: Ec2Home, instance_id: str
    ) -> InstanceInfo | None:
        """The instance, or ``None`` if EC2 does not know it."""
        if home == "detached" or not moto_active():
            return self.describe_many(account_id, region, home, [instance_id]).get(instance_id)
        # One ID: a direct lookup (a filter makes moto scan every instance of the region).
        try:
            reservations = self.ec2(account_id, region).describe_instances(
                InstanceIds=[instance_id]
            )["Reservations"]
        except ClientError:
            return None
        for reservation in reservations:
            for raw in reservation.get("Instances", []):
                return _info(raw)
        return None

    def describe_many(
        self, account_id: str, region: str, home: Ec2Home, instance_ids: list[str]
    ) -> dict[str, InstanceInfo]:
        """Instances by ID (unknown IDs are left out)."""
        if not instance_ids:
            return {}
        if home == "detached":
            with self._lock:
                known = self._detached_region(account_id, region).instances
                return {i: known[i] for i in instance_ids if i in known}
        if not moto_active():
            return {}
        client = self.ec2(account_id, region)
        found: dict[str, InstanceInfo] = {}
        # An instance-id filter (200 values a call) skips unknown IDs, where InstanceIds
        # would fail the whole call; one call per batch keeps big describes cheap.
        for start in range(0, len(instance_ids), 200):
            batch = instance_ids[start : start + 200]
            paginator = client.get_paginator("describe_instances")
            pages = paginator.paginate(Filters=[{"Name": "instance-id", "Values": batch}])
            for page in pages:
                for reservation in page.get("Reservations", []):
                    for raw in reservation.get("Instances", []):
                        found[raw["InstanceId"]] = _info(raw)
        return found

    def terminate(self, account_id: str, region: str, home: Ec2Home, instance_id: str) -> None:
        """Terminate an instance (an unknown one is ignored: it is gone either way)."""
        if home == "detached":
            with self._lock:
                info = self._detached_region(account_id, region).instances.get(instance_id)
                if info is not None:
                    info.state = "terminated"
            return
        if not moto_active():
            return
        try:
            self.ec2(account_id, region).terminate_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            logger.info("terminating %s: %s", instance_id, _describe(exc))

    def prepare_launch_into(
        self,
        account_id: str,
        region: str,
        home: Ec2Home,
        instance_id: str,
        *,
        stopped: bool,
        tags: dict[str, str],
        disk_bytes: list[int],
    ) -> InstanceInfo:
        """Launch into an existing target instance: stop it, replace its volumes, tag it.

        DRS documents that a launch into an existing instance replaces the
        instance's volumes with ones made from the recovered data and keeps
        the instance (its ID, network interface and so its private IP).
        Assumed where it is silent: the instance is stopped first; each of its
        EBS volumes, root first, is detached and left in the account
        (``available``, never deleted) and a new volume sized like the source's
        disk at the same position (the old size where the source has fewer
        disks) is attached at the same device; the new volumes carry the
        recovery instance's tags; the instance is then started unless the
        launch disposition is ``STOPPED``.

        The caller has checked the target (see :mod:`drs_orchestration.testing.launch`).
        """
        self._require_moto(f"instance {instance_id}")
        client = self.ec2(account_id, region)
        try:
            client.stop_instances(InstanceIds=[instance_id])
            self._replace_volumes(client, instance_id, disk_bytes, tags)
            if not stopped:
                client.start_instances(InstanceIds=[instance_id])
            if tags:
                client.create_tags(
                    Resources=[instance_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
                )
        except ClientError as exc:
            raise Ec2LaunchError(_describe(exc)) from exc
        info = self.describe(account_id, region, home, instance_id)
        if info is None:
            raise Ec2LaunchError(f"The target instance {instance_id} does not exist")
        return info

    @staticmethod
    def _replace_volumes(
        client: EC2Client, instance_id: str, disk_bytes: list[int], tags: dict[str, str]
    ) -> None:
        reservations = client.describe_instances(InstanceIds=[instance_id])["Reservations"]
        raw = reservations[0]["Instances"][0]
        zone = raw.get("Placement", {}).get("AvailabilityZone")
        root = raw.get("RootDeviceName")
        mappings = sorted(
            (m for m in raw.get("BlockDeviceMappings", []) if "VolumeId" in m.get("Ebs", {})),
            key=lambda m: (m.get("DeviceName") != root, m.get("DeviceName", "")),
        )
        for index, mapping in enumerate(mappings):
            device, old = mapping["DeviceName"], mapping["Ebs"]["VolumeId"]
            size = client.describe_volumes(VolumeIds=[old])["Volumes"][0]["Size"]
            if index < len(disk_bytes):
                size = max(1, -(-disk_bytes[index] // 1024**3))
            client.detach_volume(VolumeId=old, InstanceId=instance_id, Device=device)
            volume: dict[str, Any] = {"AvailabilityZone": zone, "Size": size}
            if tags:
                volume["TagSpecifications"] = [
                    {
                        "ResourceType": "volume",
                        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                    }
                ]
            new = client.create_volume(**volume)["VolumeId"]
            client.attach_volume(VolumeId=new, InstanceId=instance_id, Device=device)


@functools.cache
def _template_request_shape() -> Shape:
    model = _SHARED_LOADER.load_service_model("ec2", "service-2")
    return botocore.model.ServiceModel(model, "ec2").shape_for("RequestLaunchTemplateData")


def _request_members(value: Any, shape: Shape) -> Any:
    """``value`` with only the members ``shape`` (a request shape) has, recursively."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {
            key: _request_members(item, shape.members[key])
            for key, item in value.items()
            if key in shape.members
        }
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_request_members(item, shape.member) for item in value]
    return value


def _info(raw: Any) -> InstanceInfo:
    volumes = [
        mapping["Ebs"]["VolumeId"]
        for mapping in raw.get("BlockDeviceMappings", [])
        if "Ebs" in mapping and "VolumeId" in mapping["Ebs"]
    ]
    return InstanceInfo(
        instance_id=raw["InstanceId"],
        state=raw.get("State", {}).get("Name", "pending"),
        tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
        platform=str(raw.get("Platform") or raw.get("PlatformDetails") or "linux").lower(),
        private_ip=raw.get("PrivateIpAddress"),
        subnet_id=raw.get("SubnetId"),
        availability_zone=raw.get("Placement", {}).get("AvailabilityZone"),
        instance_type=raw.get("InstanceType", ""),
        volume_ids=volumes,
    )


def _describe(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
