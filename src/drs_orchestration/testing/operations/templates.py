"""Launch configuration templates: the account's default launch settings in a region.

What AWS documents: DRS keeps launch configuration templates per account and
region (``DescribeLaunchConfigurationTemplates``, ``UpdateLaunchConfigurationTemplate``);
their settings are the defaults of source servers added afterwards; and
``launchIntoSourceInstance`` makes DRS launch a server failing back to its
original region or zone into its source instance (model documentation:
"activate launch into existing instance for the source server's original
instance on failback").

What the simulator assumes where AWS is silent:

- Every initialized account and region has exactly one template, DRS's
  default, created with the region's state; its ID is derived from the
  account and region, so it is the same in every run. Its settings are DRS's
  documented defaults (started instances, right sizing ``BASIC``, no copied
  IP or tags, no BYOL, no post-launch actions, no launch into the source
  instance).
- A source server added (or created by ``ReverseReplication``) takes the
  template's settings as its launch configuration at that moment; a later
  template change does not touch existing servers.
- With ``launchIntoSourceInstance`` on in the region a server fails back to,
  the source server ``ReverseReplication`` creates (or reuses) there gets
  ``launchIntoInstanceProperties`` naming the instance its original source
  server replicated from, with ``copyPrivateIp`` and ``copyTags`` off — if
  that instance still exists; otherwise nothing is set.
- An unknown ID in ``launchConfigurationTemplateIDs`` is answered with an
  empty list (a filter), an unknown ID in ``UpdateLaunchConfigurationTemplate``
  with ``ResourceNotFoundException``.
"""

from __future__ import annotations

from typing import Any

from drs_orchestration.testing.errors import not_found
from drs_orchestration.testing.operations import OpContext, operation
from drs_orchestration.testing.operations.paging import paginate
from drs_orchestration.testing.service import arn, has_member, stable_id
from drs_orchestration.testing.state import RegionState

__all__ = ["TEMPLATE_FIELDS", "default_template", "template_settings"]

TEMPLATE_FIELDS = (
    "launchDisposition",
    "targetInstanceTypeRightSizingMethod",
    "copyPrivateIp",
    "copyTags",
    "licensing",
    "exportBucketArn",
    "postLaunchEnabled",
    "launchIntoSourceInstance",
    "recoveryMode",
)
"""The settings a template holds (``recoveryMode`` only where the installed model has it)."""

_SERVER_FIELDS = (
    "launchDisposition",
    "targetInstanceTypeRightSizingMethod",
    "copyPrivateIp",
    "copyTags",
    "licensing",
    "postLaunchEnabled",
    "recoveryMode",
)
"""Template settings that become a new source server's launch configuration."""


def default_template(state: RegionState) -> dict[str, Any]:
    """The region's launch configuration template (created on first use, see module docstring)."""
    templates = state.launch_configuration_templates
    if not templates:
        template_id = stable_id("lct-", state.account_id, state.region)
        template: dict[str, Any] = {
            "launchConfigurationTemplateID": template_id,
            "arn": arn(
                "launch-configuration-template", state.region, state.account_id, template_id
            ),
            "tags": {},
            "launchDisposition": "STARTED",
            "targetInstanceTypeRightSizingMethod": "BASIC",
            "copyPrivateIp": False,
            "copyTags": False,
            "licensing": {"osByol": False},
            "postLaunchEnabled": False,
            "launchIntoSourceInstance": False,
        }
        if has_member("LaunchConfigurationTemplate", "recoveryMode"):
            template["recoveryMode"] = "OPTIMAL"
        templates[template_id] = template
    return next(iter(templates.values()))


def template_settings(state: RegionState) -> dict[str, Any]:
    """The launch configuration a server added to ``state`` now starts with (template part)."""
    template = default_template(state)
    return {k: template[k] for k in _SERVER_FIELDS if k in template}


@operation("DescribeLaunchConfigurationTemplates")
def describe_launch_configuration_templates(
    ctx: OpContext, params: dict[str, Any]
) -> dict[str, Any]:
    """The account's templates in the region, optionally filtered by ID."""
    default_template(ctx.state)
    wanted = set(params.get("launchConfigurationTemplateIDs") or [])
    templates = [
        dict(t)
        for t in ctx.state.launch_configuration_templates.values()
        if not wanted or t["launchConfigurationTemplateID"] in wanted
    ]
    page, token = paginate(
        templates,
        params,
        scope="DescribeLaunchConfigurationTemplates",
        default_page_size=ctx.sim.page_size,
    )
    return {"items": page, "nextToken": token}


@operation("UpdateLaunchConfigurationTemplate")
def update_launch_configuration_template(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Change a template's settings (fields not sent are kept)."""
    default_template(ctx.state)
    template_id = params["launchConfigurationTemplateID"]
    template = ctx.state.launch_configuration_templates.get(template_id)
    if template is None:
        raise not_found(
            f"Launch configuration template {template_id} not found",
            resource_id=template_id,
            resource_type="LAUNCH_CONFIGURATION_TEMPLATE",
        )
    for key in TEMPLATE_FIELDS:
        if key in params:
            template[key] = params[key]
    return {"launchConfigurationTemplate": dict(template)}
