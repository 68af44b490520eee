"""Recovery plans as files, naming their protection groups by name.

A plan file (YAML or JSON) is a plan in its camelCase form, where a wave may
name its groups by name (or ID) under ``protectionGroups`` instead of
listing generated IDs under ``protectionGroupIds``::

    name: shop
    failurePolicy: stop
    waves:
      - name: database
        protectionGroups: [database]
      - name: app
        protectionGroups: [app]
        dependsOn: [database]
        pauseBefore: true

Names are looked up in storage when the plan is created; ``validate``
checks the structure without storage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from drs_orchestration.cli.errors import EXIT_USAGE, CliError
from drs_orchestration.cli.files import DocumentError, load_document

__all__ = ["PLAN_KEYS", "load_plan_document", "placeholder_group_id", "plan_document"]

PLAN_KEYS = {"name", "description", "waves", "failurePolicy", "allowConcurrentWaves", "readiness"}
"""The keys of a plan file."""
_STORED_KEYS = {"planId", "version", "createdAt", "updatedAt"}


def load_plan_document(path: Path) -> Any:
    """Read a plan file.

    Raises:
        CliError: (exit 2) it cannot be read or parsed.
    """
    try:
        return load_document(path)
    except DocumentError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def placeholder_group_id(name: str) -> str:
    """A well-formed group ID standing for a group name, for checks without storage."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return "pg-" + digest[:20]


def plan_document(document: Any, where: str, group_id: Callable[[str], str]) -> dict[str, Any]:
    """The plan with every wave's ``protectionGroups`` turned into ``protectionGroupIds``.

    Args:
        document: The parsed file.
        where: The file, for messages.
        group_id: Maps a group name (or ID) to its ID.

    Raises:
        CliError: (exit 2) the document is not a plan mapping, or names unknown keys.
    """
    if not isinstance(document, Mapping):
        raise CliError(f"{where}: a plan is a mapping with a name and waves", EXIT_USAGE)
    stored = sorted(set(document) & _STORED_KEYS)
    if stored:
        raise CliError(
            f"{where}: {', '.join(stored)} are kept by storage, not given in a plan file",
            EXIT_USAGE,
        )
    unknown = sorted(set(map(str, document)) - PLAN_KEYS)
    if unknown:
        raise CliError(
            f"{where}: unknown key(s) {', '.join(unknown)} (a plan has "
            f"{', '.join(sorted(PLAN_KEYS))})",
            EXIT_USAGE,
        )
    plan = dict(document)
    waves = plan.get("waves")
    if isinstance(waves, list):
        plan["waves"] = [_wave(w, f"{where}: waves.{i}", group_id) for i, w in enumerate(waves)]
    return plan


def _wave(wave: Any, where: str, group_id: Callable[[str], str]) -> Any:
    if not isinstance(wave, Mapping) or "protectionGroups" not in wave:
        return wave
    names = wave["protectionGroups"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CliError(f"{where}.protectionGroups: must be a list of group names", EXIT_USAGE)
    converted = {k: v for k, v in wave.items() if k != "protectionGroups"}
    given = converted.get("protectionGroupIds") or []
    if not isinstance(given, list):
        raise CliError(f"{where}.protectionGroupIds: must be a list of group IDs", EXIT_USAGE)
    converted["protectionGroupIds"] = [*given, *(group_id(name) for name in names)]
    return converted
