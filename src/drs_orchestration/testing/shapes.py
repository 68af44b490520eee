"""Strict checks against botocore's DRS model, on the way in and on the way out.

botocore validates a request's types, required members and minimum lengths,
and nothing of a response. DRS itself also enforces ``pattern``, ``enum`` and
``max`` server-side, so :func:`check_input` does that (answered with a
``ValidationException``). :func:`check_output` checks every response the
simulator builds against the operation's output shape — members, required
members, types, patterns, enums, lengths — so a simulator bug is caught here
instead of being parsed silently by botocore.

Patterns are matched against the whole value: the published DRS API reference
anchors them (``^i-[0-9a-fA-F]{8,}$``), and the model's length limits make
the two readings agree for every ID.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from drs_orchestration.testing.errors import FieldProblem

__all__ = ["check_input", "check_output", "check_shape"]

_INTEGER_TYPES = ("integer", "long")
_FLOAT_TYPES = ("float", "double")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_input(operation: OperationModel, params: Mapping[str, Any]) -> list[FieldProblem]:
    """Return the constraint violations (pattern, enum, length, range) in a request's parameters.

    Paths use AWS's own notation, e.g. ``sourceServers.1.member.sourceServerID``.
    """
    shape = operation.input_shape
    if shape is None:
        return []
    return list(_walk(shape, params, (), full=False))


def check_output(operation: OperationModel, data: Mapping[str, Any]) -> list[FieldProblem]:
    """Return every way ``data`` fails to be a valid output of ``operation``."""
    shape = operation.output_shape
    if shape is None:
        return [FieldProblem("", "operation has no output", data)] if data else []
    return list(_walk(shape, data, (), full=True))


def check_shape(shape: Shape, data: Any) -> list[FieldProblem]:
    """Check ``data`` fully against any shape (used for error bodies)."""
    return list(_walk(shape, data, (), full=True))


def _path(parts: tuple[str, ...]) -> str:
    return ".".join(parts)


def _walk(
    shape: Shape, value: Any, parts: tuple[str, ...], *, full: bool
) -> Iterator[FieldProblem]:
    if value is None:
        if full:
            yield FieldProblem(_path(parts), "Member must not be null", value)
        return
    type_error = _type_problem(shape, value) if full else None
    if type_error:
        yield FieldProblem(_path(parts), type_error, value)
        return
    yield from _constraints(shape, value, parts)
    if isinstance(shape, StructureShape):
        yield from _walk_structure(shape, value, parts, full=full)
    elif isinstance(shape, ListShape):
        for index, item in enumerate(value):
            yield from _walk(shape.member, item, (*parts, str(index + 1), "member"), full=full)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            yield from _walk(shape.key, key, (*parts, "key"), full=full)
            yield from _walk(shape.value, item, (*parts, str(key)), full=full)


def _walk_structure(
    shape: StructureShape, value: Mapping[str, Any], parts: tuple[str, ...], *, full: bool
) -> Iterator[FieldProblem]:
    members = shape.members
    if full:
        for name in shape.required_members:
            if value.get(name) is None:
                yield FieldProblem(_path((*parts, name)), "Member is required", None)
        for name in value:
            if name not in members:
                yield FieldProblem(
                    _path((*parts, name)), f"Member is not in shape {shape.name}", value[name]
                )
    for name, item in value.items():
        member = members.get(name)
        if member is not None and item is not None:
            yield from _walk(member, item, (*parts, name), full=full)


def _type_problem(shape: Shape, value: Any) -> str | None:
    kind = shape.type_name
    ok: bool
    if kind == "structure":
        ok = isinstance(value, Mapping)
    elif kind == "list":
        ok = isinstance(value, list)
    elif kind == "map":
        ok = isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in _INTEGER_TYPES:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in _FLOAT_TYPES:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "blob":
        ok = isinstance(value, bytes | str)
    else:
        ok = True
    return None if ok else f"Member must be of type {kind} (got {type(value).__name__})"


def _constraints(shape: Shape, value: Any, parts: tuple[str, ...]) -> Iterator[FieldProblem]:
    meta = shape.metadata
    path = _path(parts)
    enum = meta.get("enum")
    if enum and value not in enum:
        yield FieldProblem(path, f"Member must satisfy enum value set: [{', '.join(enum)}]", value)
    pattern = meta.get("pattern")
    if pattern and isinstance(value, str) and not _compiled(pattern).fullmatch(value):
        yield FieldProblem(
            path, f"Member must satisfy regular expression pattern: {pattern}", value
        )
    low, high = meta.get("min"), meta.get("max")
    if low is None and high is None:
        return
    if shape.type_name in _INTEGER_TYPES or shape.type_name in _FLOAT_TYPES:
        if low is not None and value < low:
            yield FieldProblem(
                path, f"Member must have value greater than or equal to {low}", value
            )
        if high is not None and value > high:
            yield FieldProblem(path, f"Member must have value less than or equal to {high}", value)
        return
    if isinstance(value, str | list | Mapping):
        size = len(value)
        if low is not None and size < low:
            yield FieldProblem(
                path, f"Member must have length greater than or equal to {low}", value
            )
        if high is not None and size > high:
            yield FieldProblem(path, f"Member must have length less than or equal to {high}", value)
