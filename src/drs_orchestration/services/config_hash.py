"""Canonical hashing of launch settings (DESIGN.md contract 5).

Two settings that mean the same thing hash the same: key order, ``None``
versus a missing key, ``Decimal(3)`` (as DynamoDB returns numbers) versus
``3``, camelCase versus snake_case input, and the order of order-insensitive
lists (security groups) do not matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drs_orchestration.models.launch import LaunchSettings

__all__ = ["ORDER_INSENSITIVE_FIELDS", "calculate_config_hash", "canonical_settings"]

ORDER_INSENSITIVE_FIELDS = frozenset({"security_group_ids"})
"""List fields whose order carries no meaning (sorted before hashing)."""

HASH_PREFIX = "sha256:"


def _normalise(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical_settings(settings: LaunchSettings | Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of launch settings: validated, snake_case, no nulls, sorted lists.

    Raises:
        ValidationError: if ``settings`` is a mapping that is not valid launch settings.
    """
    model = (
        settings
        if isinstance(settings, LaunchSettings)
        else LaunchSettings.parse(_normalise(settings))
    )
    data: dict[str, Any] = _normalise(model.model_dump(mode="json", exclude_none=True))
    for field in ORDER_INSENSITIVE_FIELDS:
        if field in data:
            data[field] = sorted(data[field])
    if data.get("licensing") == {}:
        del data["licensing"]
    return data


def calculate_config_hash(settings: LaunchSettings | Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON of ``settings``, as ``"sha256:<hex>"``.

    Examples:
        >>> a = calculate_config_hash({"copyTags": True, "instanceType": None})
        >>> a == calculate_config_hash(LaunchSettings(copy_tags=True))
        True
    """
    canonical = json.dumps(canonical_settings(settings), sort_keys=True, separators=(",", ":"))
    return HASH_PREFIX + hashlib.sha256(canonical.encode()).hexdigest()
