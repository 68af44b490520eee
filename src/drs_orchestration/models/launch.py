"""Launch settings: what DRS launches a recovered server as.

Two halves, because DRS keeps them in two places: the source server's DRS
launch configuration (``UpdateLaunchConfiguration``) and the EC2 launch
template DRS owns for that server (instance type, subnet, security groups,
static private IP, instance profile, tags).
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated, Any, Self

import pydantic
from pydantic import Field, StringConstraints, field_validator, model_validator

from drs_orchestration.errors import InvalidFields, LaunchConfigValidationError
from drs_orchestration.models.base import DrsModel
from drs_orchestration.models.ids import Ec2InstanceId

__all__ = [
    "DRS_LAUNCH_FIELDS",
    "TEMPLATE_LAUNCH_FIELDS",
    "LaunchDisposition",
    "LaunchIntoInstanceProperties",
    "LaunchSettings",
    "Licensing",
    "RecoveryMode",
    "RightSizingMethod",
]


class LaunchDisposition(StrEnum):
    """Whether the recovered instance is left running or stopped."""

    STOPPED = "STOPPED"
    STARTED = "STARTED"


class RightSizingMethod(StrEnum):
    """How DRS picks the recovered instance type."""

    NONE = "NONE"
    BASIC = "BASIC"
    IN_AWS = "IN_AWS"


class RecoveryMode(StrEnum):
    """DRS recovery mode (only in newer botocore models; sent only when the model has it)."""

    FAST = "FAST"
    OPTIMAL = "OPTIMAL"


class Licensing(DrsModel):
    """Operating-system licensing of the recovered instance."""

    os_byol: bool | None = None


class LaunchIntoInstanceProperties(DrsModel):
    """Launch into an existing EC2 instance instead of a new one.

    Without an instance ID it says "stop launching into an instance": DRS
    clears the setting (``None`` on :class:`LaunchSettings` would leave it).
    """

    launch_into_ec2_instance_id: Ec2InstanceId | None = Field(
        default=None, alias="launchIntoEC2InstanceID"
    )


InstanceType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")]
SecurityGroupId = Annotated[str, StringConstraints(pattern=r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")]
InstanceProfile = Annotated[
    str,
    StringConstraints(
        pattern=r"^(arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/)?[A-Za-z0-9_+=,.@/-]+$",
        max_length=2048,
    ),
]
# AWS's tag character set: letters, numbers, whitespace separators and _ . : / = + - @
# (control characters and the like are refused by EC2 and break its XML answers).
TagKey = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$")
]
TagValue = Annotated[
    str, StringConstraints(max_length=256, pattern=r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$")
]

DRS_LAUNCH_FIELDS: tuple[str, ...] = (
    "name",
    "launch_disposition",
    "target_instance_type_right_sizing_method",
    "copy_private_ip",
    "copy_tags",
    "licensing",
    "post_launch_enabled",
    "launch_into_instance_properties",
    "recovery_mode",
)
"""Fields applied with DRS ``UpdateLaunchConfiguration``."""

TEMPLATE_LAUNCH_FIELDS: tuple[str, ...] = (
    "instance_type",
    "subnet_id",
    "security_group_ids",
    "static_private_ip",
    "iam_instance_profile",
    "tags",
)
"""Fields applied as a new version of the server's EC2 launch template."""


def _pinned_type_problem(
    instance_type: str, method: RightSizingMethod | None
) -> tuple[str, str, Any]:
    # DRS writes the right-sized type into the launch template, over the one asked for.
    method_text = "is not set (DRS's default is BASIC)" if method is None else f"is {method.value}"
    return (
        "instanceType",
        f"{instance_type!r} would be overwritten by DRS right-sizing: "
        f"targetInstanceTypeRightSizingMethod {method_text}; set "
        "targetInstanceTypeRightSizingMethod: NONE to pin an instance type",
        instance_type,
    )


class LaunchSettings(DrsModel):
    """Desired launch settings for a source server (or a group default).

    Every field is optional: ``None`` means "leave what DRS has". A group
    holds one default ``LaunchSettings`` and per-server overrides; the
    *effective* settings of a server are ``default.merged_with(override)``.

    An explicit ``instance_type`` needs ``target_instance_type_right_sizing_method``
    ``NONE`` in the effective settings: with right-sizing on (DRS's default),
    DRS overwrites the launch template's instance type.

    Examples:
        >>> LaunchSettings(target_instance_type_right_sizing_method="NONE",
        ...                instance_type="r6i.xlarge", copy_private_ip=True)
    """

    # DRS launch configuration
    name: Annotated[str, StringConstraints(max_length=128)] | None = None
    launch_disposition: LaunchDisposition | None = None
    target_instance_type_right_sizing_method: RightSizingMethod | None = None
    copy_private_ip: bool | None = None
    copy_tags: bool | None = None
    licensing: Licensing | None = None
    post_launch_enabled: bool | None = None
    launch_into_instance_properties: LaunchIntoInstanceProperties | None = None
    recovery_mode: RecoveryMode | None = None
    # EC2 launch template of the recovered instance
    instance_type: InstanceType | None = None
    subnet_id: SubnetId | None = None
    security_group_ids: (
        Annotated[list[SecurityGroupId], Field(min_length=1, max_length=5)] | None
    ) = None
    static_private_ip: str | None = None
    iam_instance_profile: InstanceProfile | None = None
    tags: dict[TagKey, TagValue] | None = None

    @field_validator("static_private_ip")
    @classmethod
    def _ipv4(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            address = ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError("must be an IPv4 address such as 10.0.1.25") from None
        if not address.is_private:
            raise ValueError("must be a private IPv4 address")
        return str(address)

    @field_validator("security_group_ids")
    @classmethod
    def _unique_groups(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("security group IDs must be unique")
        return value

    @field_validator("tags")
    @classmethod
    def _no_reserved_tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value:
            reserved = sorted(k for k in value if k.lower().startswith("aws:"))
            if reserved:
                raise ValueError(f"tag keys starting with 'aws:' are reserved: {reserved}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.launches_into_instance:
            if self.copy_private_ip:
                raise ValueError(
                    "copy_private_ip must be off when launching into an existing instance"
                )
            if self.copy_tags:
                raise ValueError("copy_tags must be off when launching into an existing instance")
        if self.static_private_ip is not None and self.copy_private_ip:
            raise ValueError("static_private_ip and copy_private_ip=True contradict each other")
        method = self.target_instance_type_right_sizing_method
        if self.instance_type is not None and method not in (None, RightSizingMethod.NONE):
            raise InvalidFields([_pinned_type_problem(self.instance_type, method)])
        return self

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Validate ``data`` (camelCase or snake_case keys, or a model).

        Raises:
            LaunchConfigValidationError: naming the field path and bad value of
                every problem.
        """
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            raise LaunchConfigValidationError.from_pydantic(exc) from exc

    def effective_problems(self) -> list[tuple[str, str, Any]]:
        """Problems of these settings taken as a server's *effective* settings.

        Some contradictions only show once a group default and a server
        override are merged: an ``instanceType`` with right-sizing left unset
        is overwritten by DRS, whose default method is ``BASIC``. A part of
        the settings (a default or an override alone) may leave either field
        to the other; the merged whole may not.

        Returns:
            ``(field, message, value)`` for each problem (field in camelCase),
            empty when the settings can be applied as they are.
        """
        method = self.target_instance_type_right_sizing_method
        if self.instance_type is not None and method is not RightSizingMethod.NONE:
            return [_pinned_type_problem(self.instance_type, method)]
        return []

    def merged_with(self, override: LaunchSettings | None) -> LaunchSettings:
        """Return these settings with ``override``'s set fields on top (tags merge key by key).

        Raises:
            LaunchConfigValidationError: when the merged settings contradict
                each other (fields named relative to the settings).
        """
        if override is None:
            return self
        base = self.model_dump(exclude_none=True)
        top = override.model_dump(exclude_none=True)
        tags = {**base.get("tags", {}), **top.get("tags", {})}
        merged: dict[str, Any] = {**base, **top}
        if tags:
            merged["tags"] = tags
        return LaunchSettings.parse(merged)

    def drs_fields(self) -> dict[str, Any]:
        """The set DRS launch-configuration fields, in ``UpdateLaunchConfiguration``'s names."""
        fields = self.model_dump(
            include=set(DRS_LAUNCH_FIELDS), by_alias=True, exclude_none=True, mode="json"
        )
        # An empty launchIntoInstanceProperties clears the setting in DRS and is kept;
        # empty licensing says nothing and is not sent.
        if fields.get("licensing") == {}:
            del fields["licensing"]
        return fields

    @property
    def launches_into_instance(self) -> bool:
        """Whether these settings launch into an existing instance."""
        properties = self.launch_into_instance_properties
        return properties is not None and properties.launch_into_ec2_instance_id is not None

    def template_fields(self) -> dict[str, Any]:
        """The set EC2 launch-template fields (snake_case, JSON values)."""
        return self.model_dump(include=set(TEMPLATE_LAUNCH_FIELDS), exclude_none=True, mode="json")

    @property
    def has_template_settings(self) -> bool:
        """Whether any EC2 launch-template field is set (so a template version is needed)."""
        return any(getattr(self, f) is not None for f in TEMPLATE_LAUNCH_FIELDS)
