"""Tags on source servers, jobs and recovery instances, addressed by ARN, and AWS's tag rules.

The rules, as AWS documents them for tagging resources (and the
``TagResource`` model documentation: "Each resource can have a maximum of 50
tags"): a key is 1-128 characters, a value 0-256; keys may not start with
``aws:`` in any case (reserved for AWS); keys and values hold Unicode letters,
digits, whitespace and ``_ . : / = + - @``. DRS's own model is looser (keys
0-256 characters); the simulator enforces the documented AWS rules on every
tag a caller writes (``StartRecovery``, ``StartFailbackLaunch``,
``TagResource``, and the keys of ``UntagResource``), answering
``ValidationException`` naming the bad key. That DRS applies the general rules
to job tags is our assumption.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from drs_orchestration.testing.errors import FieldProblem, not_found, validation_failed
from drs_orchestration.testing.operations import OpContext, operation

__all__ = ["MAX_TAGS", "check_tag_keys", "check_tags"]

MAX_TAGS = 50
"""The most tags one resource can carry."""

_MAX_KEY = 128
_MAX_VALUE = 256
_PUNCTUATION = frozenset("_.:/=+-@")

_ARN = re.compile(
    r"^arn:[a-z-]+:drs:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"(?P<kind>source-server|job|recovery-instance)/(?P<id>[A-Za-z0-9-]+)$"
)


def _bad_characters(text: str) -> list[str]:
    # \p{L}, \p{N} and \p{Z} of AWS's pattern, by Unicode category.
    return sorted(
        {c for c in text if unicodedata.category(c)[0] not in "LNZ" and c not in _PUNCTUATION}
    )


def _key_problem(key: str) -> str | None:
    if not 1 <= len(key) <= _MAX_KEY:
        return f"Tag key {key!r} must be 1 to {_MAX_KEY} characters long (it has {len(key)})"
    if key.lower().startswith("aws:"):
        return f"Tag key {key!r} must not start with 'aws:', which is reserved for AWS"
    bad = _bad_characters(key)
    if bad:
        return (
            f"Tag key {key!r} holds characters tags do not allow ({''.join(bad)!r}); allowed: "
            "letters, digits, spaces and _ . : / = + - @"
        )
    return None


def _value_problem(key: str, value: str) -> str | None:
    if len(value) > _MAX_VALUE:
        return f"The value of tag {key!r} must be at most {_MAX_VALUE} characters ({len(value)})"
    bad = _bad_characters(value)
    if bad:
        return (
            f"The value of tag {key!r} holds characters tags do not allow ({''.join(bad)!r}); "
            "allowed: letters, digits, spaces and _ . : / = + - @"
        )
    return None


def check_tags(
    tags: Mapping[str, str], *, existing: Iterable[str] = (), path: str = "tags"
) -> None:
    """Refuse tags AWS's tag rules do not allow (see the module docstring).

    Args:
        tags: The tags a request writes.
        existing: Keys the resource already has (they count towards the 50).
        path: The request member holding the tags.

    Raises:
        DrsServiceError: ``ValidationException`` naming each bad key.
    """
    problems: list[FieldProblem] = []
    for key, value in tags.items():
        key_problem = _key_problem(key)
        if key_problem is not None:
            problems.append(FieldProblem(f"{path}.{key}", key_problem, key))
            continue
        value_problem = _value_problem(key, value)
        if value_problem is not None:
            problems.append(FieldProblem(f"{path}.{key}", value_problem, value))
    total = len({*existing, *tags})
    if total > MAX_TAGS:
        problems.append(
            FieldProblem(
                path, f"A resource can have at most {MAX_TAGS} tags ({total} requested)", total
            )
        )
    if problems:
        raise validation_failed(problems)


def check_tag_keys(keys: Iterable[str], *, path: str = "tagKeys") -> None:
    """Refuse tag keys AWS's rules do not allow (``UntagResource`` cannot touch ``aws:`` keys).

    Raises:
        DrsServiceError: ``ValidationException`` naming each bad key.
    """
    problems = [
        FieldProblem(f"{path}.{index + 1}.member", problem, key)
        for index, key in enumerate(keys)
        if (problem := _key_problem(key)) is not None
    ]
    if problems:
        raise validation_failed(problems)


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
    tags = _tags_of(ctx, params["resourceArn"])
    check_tags(params["tags"], existing=tags)
    tags.update(params["tags"])
    return {}


@operation("UntagResource")
def untag_resource(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """Remove tags by key (missing keys are ignored)."""
    tags = _tags_of(ctx, params["resourceArn"])
    check_tag_keys(params["tagKeys"])
    for key in params["tagKeys"]:
        tags.pop(key, None)
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
    """The resource's tags."""
    return {"tags": dict(_tags_of(ctx, params["resourceArn"]))}
