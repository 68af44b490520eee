"""Tags on source servers, jobs and recovery instances, addressed by ARN."""

from __future__ import annotations

import re
from typing import Any

from drs_orchestration.testing.errors import not_found
from drs_orchestration.testing.operations import OpContext, operation

__all__: list[str] = []

_ARN = re.compile(
    r"^arn:[a-z-]+:drs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"(?P<kind>source-server|job|recovery-instance)/(?P<id>[A-Za-z0-9-]+)$"
)


def _tags_of(ctx: OpContext, resource_arn: str) -> dict[str, str]:
    match = _ARN.match(resource_arn)
    resource: Any = None
    if match and match["account"] == ctx.account_id and match["region"] == ctx.region:
        kind, resource_id = match["kind"], match["id"]
        if kind == "source-server":
            resource = ctx.state.servers.get(resource_id)
        elif kind == "job":
            resource = ctx.state.jobs.get(resource_id)
        else:
            resource = ctx.state.instances.get(resource_id)
    if resource is None:
        raise not_found(
            f"Resource {resource_arn} not found", resource_id=resource_arn, resource_type="ARN"
        )
    tags: dict[str, str] = resource.tags
    return tags


@operation("TagResource")
def tag_resource(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Add or overwrite tags."""
    _tags_of(ctx, params["resourceArn"]).update(params["tags"])
    return {}


@operation("UntagResource")
def untag_resource(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Remove tags by key (missing keys are ignored)."""
    tags = _tags_of(ctx, params["resourceArn"])
    for key in params["tagKeys"]:
        tags.pop(key, None)
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """The resource's tags."""
    return {"tags": dict(_tags_of(ctx, params["resourceArn"]))}
