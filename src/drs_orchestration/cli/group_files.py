"""Protection groups as files: launch settings kept as configuration, per server, in bulk.

A group file (YAML or JSON) holds one group, or several under ``groups:``::

    name: database
    region: us-east-1                  # default: --region
    description: the shop's databases
    account:                           # optional: another account, through a role
      accountId: "111122223333"
      roleName: DRSOrchestrationRole
      externalId: dr-2026
    selection:                         # exactly one of serverIds and tags
      tags: {App: shop, Tier: database}
    launchSettings:                    # every server of the group
      copyPrivateIp: true
      targetInstanceTypeRightSizingMethod: BASIC
    serverOverrides:                   # per server: by source server ID or host name
      db-1: {targetInstanceTypeRightSizingMethod: NONE, instanceType: r6i.xlarge}
    serverOverridesCsv: database-servers.csv   # more overrides, relative to this file

The CSV (as teams that keep DRS launch settings in a spreadsheet do, the
way DRS-Settings-Tool exports them) has one row per server: a
``sourceServerId`` or ``hostname`` column, then launch-setting columns named
as in ``launchSettings`` (``instanceType``, ``subnetId``,
``securityGroupIds``, ``staticPrivateIp``, ``copyPrivateIp``, ...). Nested
settings are dotted (``licensing.osByol``,
``launchIntoInstanceProperties.launchIntoEC2InstanceID``), a tag is a
``tags.KEY`` column (or ``tags`` as ``K=V;K=V``), lists are separated by
``;`` or spaces, and an empty cell leaves the setting out. A server in both
the file and the CSV gets the two merged, the CSV winning.

Host names are resolved to source server IDs in DRS (the group's region
and account) when the group is created or updated, and must name exactly
one server.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drs_orchestration.cli.errors import EXIT_USAGE, CliError
from drs_orchestration.cli.files import DocumentError, load_document
from drs_orchestration.errors import ValidationError
from drs_orchestration.models import AccountContext, LaunchSettings
from drs_orchestration.models.ids import is_source_server_id

__all__ = [
    "GroupSpec",
    "load_group_specs",
    "read_overrides_csv",
    "resolve_hostnames",
]

_KEYS = {
    "name",
    "region",
    "description",
    "account",
    "selection",
    "launchSettings",
    "serverOverrides",
    "serverOverridesCsv",
}
_KEY_COLUMNS = ("sourceServerId", "hostname")
_LIST_COLUMNS = {"securityGroupIds"}


@dataclass
class GroupSpec:
    """One group as a file describes it (server overrides still keyed by ID or host name).

    Attributes:
        source: Where it came from (``file.yaml`` or ``file.yaml: groups.2``), for messages.
        name: The group's name.
        region: Its DRS region (``None``: take ``--region``).
        description: Free text.
        account: Another account and the role to reach it.
        server_ids: Explicit servers (or ``None``).
        tags: A tag selection (or ``None``).
        launch_settings: The group-wide settings, as given.
        server_overrides: Per-server settings by source server ID or host name.
    """

    source: str
    name: str
    region: str | None = None
    description: str | None = None
    account: AccountContext | None = None
    server_ids: list[str] | None = None
    tags: dict[str, str] | None = None
    launch_settings: dict[str, Any] = field(default_factory=dict)
    server_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def hostnames(self) -> list[str]:
        """Override keys that are host names rather than source server IDs."""
        return [key for key in self.server_overrides if not is_source_server_id(key)]


def _fail(where: str, message: str) -> CliError:
    return CliError(f"{where}: {message}", EXIT_USAGE)


def load_group_specs(path: Path, *, overrides_csv: Path | None = None) -> list[GroupSpec]:
    """Read a group file (one group, or several under ``groups:``).

    Args:
        path: The YAML or JSON file.
        overrides_csv: A CSV of per-server settings added to the (single) group.

    Raises:
        CliError: (exit 2) the file cannot be read, or a field is wrong (named with its place).
    """
    try:
        document = load_document(path)
    except DocumentError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if isinstance(document, Mapping) and "groups" in document:
        extra = sorted(set(document) - {"groups"})
        if extra:
            raise _fail(str(path), f"unknown key(s) beside groups: {', '.join(extra)}")
        items = document["groups"]
        if not isinstance(items, list) or not items:
            raise _fail(f"{path}: groups", "must be a non-empty list of groups")
        places = [f"{path}: groups.{i}" for i in range(len(items))]
    else:
        items, places = [document], [str(path)]
    if overrides_csv is not None and len(items) != 1:
        raise CliError(
            f"--overrides {overrides_csv}: the file {path} holds {len(items)} groups; "
            "name the CSV in each group's serverOverridesCsv instead",
            EXIT_USAGE,
        )
    specs = [_spec(item, place, path.parent) for item, place in zip(items, places, strict=True)]
    if overrides_csv is not None:
        _merge(specs[0], read_overrides_csv(overrides_csv))
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _fail(str(path), f"group name(s) given twice: {', '.join(duplicates)}")
    return specs


def _spec(item: Any, where: str, base: Path) -> GroupSpec:
    if not isinstance(item, Mapping):
        raise _fail(where, f"a group is a mapping of {', '.join(sorted(_KEYS))}")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(map(str, unknown))}")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(f"{where}: name", "is required (a non-empty string)")
    region = item.get("region")
    if region is not None and not isinstance(region, str):
        raise _fail(f"{where}: region", f"must be a region name (got {region!r})")
    description = item.get("description")
    if description is not None and not isinstance(description, str):
        raise _fail(f"{where}: description", "must be text")
    account = None
    if item.get("account") is not None:
        try:
            account = AccountContext.parse(item["account"])
        except ValidationError as exc:
            raise _fail(f"{where}: account", _problems(exc)) from None
    server_ids, tags = _selection(item.get("selection"), f"{where}: selection")
    settings = _mapping(item.get("launchSettings"), f"{where}: launchSettings")
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in _mapping(item.get("serverOverrides"), f"{where}: serverOverrides").items():
        overrides[str(key)] = _mapping(value, f"{where}: serverOverrides.{key}")
    spec = GroupSpec(
        source=where,
        name=name.strip(),
        region=region,
        description=description,
        account=account,
        server_ids=server_ids,
        tags=tags,
        launch_settings=settings,
        server_overrides=overrides,
    )
    csv_name = item.get("serverOverridesCsv")
    if csv_name is not None:
        if not isinstance(csv_name, str) or not csv_name:
            raise _fail(f"{where}: serverOverridesCsv", "must be the path of a CSV file")
        _merge(spec, read_overrides_csv(base / csv_name))
    return spec


def _selection(value: Any, where: str) -> tuple[list[str] | None, dict[str, str] | None]:
    if not isinstance(value, Mapping) or set(value) not in ({"serverIds"}, {"tags"}):
        raise _fail(where, "give exactly one of serverIds (a list) and tags (a mapping)")
    if "serverIds" in value:
        ids = value["serverIds"]
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise _fail(f"{where}.serverIds", "must be a non-empty list of source server IDs")
        return list(ids), None
    tags = value["tags"]
    if not isinstance(tags, Mapping) or not tags:
        raise _fail(f"{where}.tags", "must be a non-empty mapping of tag keys to values")
    return None, {str(k): "" if v is None else str(v) for k, v in tags.items()}


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a mapping (got {type(value).__name__})")
    return dict(value)


def _problems(error: ValidationError) -> str:
    shown = [f"{p['field']}: {p['message']}" for p in error.problems] or [str(error)]
    return "; ".join(shown)


def _merge(spec: GroupSpec, rows: Mapping[str, dict[str, Any]]) -> None:
    for key, settings in rows.items():
        spec.server_overrides[key] = {**spec.server_overrides.get(key, {}), **settings}


def read_overrides_csv(path: Path) -> dict[str, dict[str, Any]]:
    """Per-server launch settings from a CSV, by source server ID or host name.

    Raises:
        CliError: (exit 2) naming the file, line and column of what is wrong.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = [c.strip() for c in (reader.fieldnames or [])]
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}", EXIT_USAGE) from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: not a CSV file: {exc}", EXIT_USAGE) from None
    keys = [c for c in _KEY_COLUMNS if c in columns]
    if len(keys) != 1:
        raise CliError(
            f"{path}: the header needs exactly one of the columns sourceServerId and hostname "
            f"(found: {', '.join(columns) or 'no header'})",
            EXIT_USAGE,
        )
    key_column = keys[0]
    result: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows, start=2):
        cells = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            raise CliError(f"{path}:{line}: more cells than the header has columns", EXIT_USAGE)
        server = cells.pop(key_column)
        if not server:
            raise CliError(f"{path}:{line}: {key_column} is empty", EXIT_USAGE)
        if key_column == "sourceServerId" and not is_source_server_id(server):
            raise CliError(
                f"{path}:{line}: sourceServerId {server!r} is not a source server ID "
                "('s-' and 17 letters or digits)",
                EXIT_USAGE,
            )
        if server in result:
            raise CliError(f"{path}:{line}: {server} has a row already", EXIT_USAGE)
        settings = _row_settings(cells, f"{path}:{line}")
        try:
            LaunchSettings.parse(settings)
        except ValidationError as exc:
            raise CliError(f"{path}:{line} ({server}): {_problems(exc)}", EXIT_USAGE) from None
        result[server] = settings
    return result


def _row_settings(cells: Mapping[str, str], where: str) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for column, cell in cells.items():
        if not cell or not column:
            continue
        if column == "tags":
            settings.setdefault("tags", {}).update(_pairs(cell, f"{where}: tags"))
        elif column in _LIST_COLUMNS:
            settings[column] = cell.replace(";", " ").replace(",", " ").split()
        else:
            _put(settings, column.split("."), cell)
    return settings


def _pairs(cell: str, where: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in cell.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{where}: {part.strip()!r} is not KEY=VALUE", EXIT_USAGE)
        pairs[key.strip()] = value.strip()
    return pairs


def _put(target: dict[str, Any], path: list[str], value: str) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


def resolve_hostnames(
    spec: GroupSpec, describe: Callable[[], list[Mapping[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """The spec's overrides keyed by source server ID, host names looked up in DRS.

    Args:
        spec: The group as given.
        describe: Returns DRS's source servers of the group's region and account
            (called only when some override names a host).

    Raises:
        CliError: a host name DRS does not know, or that names several servers (exit 2).
    """
    if not spec.hostnames:
        return dict(spec.server_overrides)
    by_name: dict[str, list[str]] = {}
    for server in describe():
        hints = (server.get("sourceProperties") or {}).get("identificationHints") or {}
        for name in {hints.get("hostname"), hints.get("fqdn")} - {None, ""}:
            by_name.setdefault(str(name).lower(), []).append(str(server["sourceServerID"]))
    resolved: dict[str, dict[str, Any]] = {}
    for key, settings in spec.server_overrides.items():
        if is_source_server_id(key):
            sid = key
        else:
            found = sorted(set(by_name.get(key.lower(), [])))
            if not found:
                raise CliError(
                    f"{spec.source}: serverOverrides: no source server with host name {key!r} "
                    "in DRS",
                    EXIT_USAGE,
                )
            if len(found) > 1:
                raise CliError(
                    f"{spec.source}: serverOverrides: host name {key!r} names "
                    f"{len(found)} source servers ({', '.join(found)}): use their IDs",
                    EXIT_USAGE,
                )
            sid = found[0]
        if sid in resolved:
            raise CliError(
                f"{spec.source}: serverOverrides: {key!r} is {sid}, which has overrides already",
                EXIT_USAGE,
            )
        resolved[sid] = settings
    return resolved
