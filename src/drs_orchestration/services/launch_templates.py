"""How launch settings map onto the EC2 launch template DRS keeps for each source server.

DRS owns that template and keeps fields of its own in it, so the library
never builds template data from scratch: it takes the current default
version's data and changes only the fields the settings name.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from drs_orchestration.models.launch import LaunchSettings

__all__ = ["merge_template_data", "read_template_settings"]


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
