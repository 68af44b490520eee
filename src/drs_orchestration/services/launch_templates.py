"""How launch settings map onto the EC2 launch template DRS keeps for each source server.

DRS owns that template and keeps fields of its own in it, so the library
never builds template data from scratch: it takes the current default
version's data and changes only the fields the settings name.

What ``DescribeLaunchTemplateVersions`` answers (``ResponseLaunchTemplateData``)
is not what ``CreateLaunchTemplateVersion`` accepts (``RequestLaunchTemplateData``):
the answer carries read-only members such as ``MetadataOptions.State``,
``Operator.Managed`` or ``NetworkInterfaces[].Ipv6Addresses[].IsPrimaryIpv6``,
and botocore refuses the whole request if one of them is sent back.
:func:`request_template_data` keeps what the installed botocore's request
shape accepts, so a member EC2 adds to its answers later never breaks an apply.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import Shape, StructureShape
from botocore.validate import ParamValidator

from drs_orchestration.models.launch import LaunchSettings

__all__ = ["merge_template_data", "read_template_settings", "request_template_data"]

logger = logging.getLogger(__name__)


def _primary_interface(data: dict[str, Any]) -> dict[str, Any] | None:
    for interface in data.get("NetworkInterfaces", []) or []:
        if int(interface.get("DeviceIndex", 0)) == 0:
            return dict(interface)
    return None


def merge_template_data(current: Mapping[str, Any], settings: LaunchSettings) -> dict[str, Any]:
    """Return ``current`` template data with the template fields of ``settings`` applied.

    Network settings go on the primary network interface when the template
    has one (DRS templates do); tags are merged into the instance tag
    specification key by key, keeping DRS's own tags.
    """
    data: dict[str, Any] = copy.deepcopy(dict(current))
    if settings.instance_type is not None:
        data["InstanceType"] = settings.instance_type
    if settings.iam_instance_profile is not None:
        profile = settings.iam_instance_profile
        data["IamInstanceProfile"] = (
            {"Arn": profile} if profile.startswith("arn:") else {"Name": profile}
        )
    network_changes = (
        settings.subnet_id is not None
        or settings.security_group_ids is not None
        or settings.static_private_ip is not None
    )
    if network_changes:
        interface = _primary_interface(data)
        if interface is None and settings.subnet_id is None and settings.static_private_ip is None:
            data["SecurityGroupIds"] = list(settings.security_group_ids or [])
        else:
            interface = interface or {"DeviceIndex": 0}
            if settings.subnet_id is not None:
                interface["SubnetId"] = settings.subnet_id
            if settings.security_group_ids is not None:
                interface["Groups"] = list(settings.security_group_ids)
                data.pop("SecurityGroupIds", None)
            if settings.static_private_ip is not None:
                interface["PrivateIpAddress"] = settings.static_private_ip
                interface.pop("PrivateIpAddresses", None)
            others = [
                i
                for i in data.get("NetworkInterfaces", []) or []
                if int(i.get("DeviceIndex", 0)) != 0
            ]
            data["NetworkInterfaces"] = [interface, *others]
    if settings.tags:
        specs = [dict(s) for s in data.get("TagSpecifications", []) or []]
        instance_spec = next((s for s in specs if s.get("ResourceType") == "instance"), None)
        if instance_spec is None:
            instance_spec = {"ResourceType": "instance", "Tags": []}
            specs.append(instance_spec)
        tags = {t["Key"]: t["Value"] for t in instance_spec.get("Tags", [])}
        tags.update(settings.tags)
        instance_spec["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
        data["TagSpecifications"] = specs
    return data


def read_template_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """The template fields of launch settings as the template holds them (snake_case names)."""
    found: dict[str, Any] = {}
    if "InstanceType" in data:
        found["instance_type"] = data["InstanceType"]
    profile = data.get("IamInstanceProfile") or {}
    if profile:
        found["iam_instance_profile"] = profile.get("Arn") or profile.get("Name")
    interface = _primary_interface(dict(data))
    if interface is not None:
        if "SubnetId" in interface:
            found["subnet_id"] = interface["SubnetId"]
        if "Groups" in interface:
            found["security_group_ids"] = sorted(interface["Groups"])
        if "PrivateIpAddress" in interface:
            found["static_private_ip"] = interface["PrivateIpAddress"]
    elif "SecurityGroupIds" in data:
        found["security_group_ids"] = sorted(data["SecurityGroupIds"])
    for spec in data.get("TagSpecifications", []) or []:
        if spec.get("ResourceType") == "instance":
            found["tags"] = {t["Key"]: t["Value"] for t in spec.get("Tags", [])}
    return found


# ---- from what EC2 answers to what it accepts ------------------------------------------

_DROP = object()
"""Marks a value the request shape cannot carry."""

_VALIDATOR = ParamValidator()


@functools.cache
def request_template_shape() -> StructureShape:
    """``RequestLaunchTemplateData`` from the installed botocore's EC2 model (loaded once)."""
    model = botocore.session.get_session().get_service_model("ec2")
    input_shape = model.operation_model("CreateLaunchTemplateVersion").input_shape
    assert input_shape is not None  # the operation always has an input
    shape = input_shape.members["LaunchTemplateData"]
    assert isinstance(shape, StructureShape)
    return shape


def request_template_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the parts of launch-template data that ``CreateLaunchTemplateVersion`` accepts.

    ``data`` is what ``DescribeLaunchTemplateVersions`` returned (possibly
    with changes merged in). Walking the request shape of the installed
    botocore, recursively through structures, lists and maps:

    - a member the request shape lacks is dropped (``MetadataOptions.State``,
      ``Operator.Managed``...); a member spelled with a different case is
      renamed to the request's spelling;
    - a structure left empty by that, or missing a member the request
      requires, is dropped, and so is a list or map left empty by dropping
      its elements;
    - a scalar the request shape would refuse (wrong type, below a minimum)
      is dropped.

    So the result always passes botocore's parameter validation for
    ``LaunchTemplateData``, and everything the request can carry is kept as it was.
    """
    dropped: list[str] = []
    result = _conform(data, request_template_shape(), "LaunchTemplateData", dropped)
    if dropped:
        logger.debug(
            "launch template fields EC2 does not accept back were left out",
            extra={"fields": dropped},
        )
    return result if isinstance(result, dict) else {}


def _conform(value: Any, shape: Shape, path: str, dropped: list[str]) -> Any:
    if shape.type_name == "structure" and not getattr(shape, "is_document_type", False):
        assert isinstance(shape, StructureShape)
        return _conform_structure(value, shape, path, dropped)
    if shape.type_name == "list":
        if not isinstance(value, list | tuple):
            return _dropped(path, dropped)
        member: Shape = shape.member  # type: ignore[attr-defined]
        items = [_conform(item, member, f"{path}[{i}]", dropped) for i, item in enumerate(value)]
        kept = [item for item in items if item is not _DROP]
        if (value and not kept) or len(kept) < shape.metadata.get("min", 0):
            return _dropped(path, dropped)
        return kept
    if shape.type_name == "map":
        if not isinstance(value, Mapping):
            return _dropped(path, dropped)
        key_shape: Shape = shape.key  # type: ignore[attr-defined]
        value_shape: Shape = shape.value  # type: ignore[attr-defined]
        entries = {
            key: _conform(item, value_shape, f"{path}.{key}", dropped)
            for key, item in value.items()
            if _conform(key, key_shape, f"{path}.{key}", dropped) is not _DROP
        }
        kept_entries = {k: v for k, v in entries.items() if v is not _DROP}
        if value and not kept_entries:
            return _dropped(path, dropped)
        return kept_entries
    if _VALIDATOR.validate(value, shape).has_errors():
        return _dropped(path, dropped)
    return value


def _conform_structure(value: Any, shape: StructureShape, path: str, dropped: list[str]) -> Any:
    if not isinstance(value, Mapping):
        return _dropped(path, dropped)
    members = shape.members
    by_folded_name = {name.lower(): name for name in members}
    # Exact names first, so a case-folded duplicate never replaces an exact match.
    keys = sorted(value, key=lambda k: k not in members)
    kept: dict[str, Any] = {}
    for key in keys:
        name = key if key in members else by_folded_name.get(str(key).lower())
        if name is None or name in kept:
            dropped.append(f"{path}.{key}")
            continue
        conformed = _conform(value[key], members[name], f"{path}.{name}", dropped)
        if conformed is not _DROP:
            kept[name] = conformed
    if value and not kept:
        return _dropped(path, dropped)
    if any(required not in kept for required in shape.required_members):
        return _dropped(path, dropped)
    if shape.metadata.get("union") and len(kept) != 1:
        return _dropped(path, dropped)
    return kept


def _dropped(path: str, dropped: list[str]) -> object:
    dropped.append(path)
    return _DROP
