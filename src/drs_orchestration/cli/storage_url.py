"""``--storage``: where the command line keeps groups, plans and executions, as one string.

Three forms:

- ``sqlite:///var/lib/drs/dr.db`` (or ``sqlite://dr.db``, relative to the
  current directory): the embedded SQLite file. Everything after
  ``sqlite://`` is the path, so an absolute path shows its own leading ``/``.
- ``dynamodb://PREFIX?region=REGION``: the DynamoDB tables named
  ``PREFIX<collection>`` (``dynamodb://`` alone: the library's default
  prefix); the region defaults to ``--region`` and then the AWS configuration.
- ``memory``: nothing kept after the command ends (only useful for ``demo``).

Without ``--storage``: ``--db PATH``, then ``$DRS_ORCHESTRATION_STORAGE``,
then ``$DRS_ORCHESTRATION_DB`` (a SQLite path), then the per-user SQLite file
:func:`~drs_orchestration.storage.default_sqlite_path`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from drs_orchestration.cli.errors import EXIT_USAGE, CliError

__all__ = [
    "DB_ENV",
    "STORAGE_ENV",
    "StorageSpec",
    "parse_storage",
    "resolve_storage",
]

STORAGE_ENV = "DRS_ORCHESTRATION_STORAGE"
"""Environment variable holding a ``--storage`` value."""
DB_ENV = "DRS_ORCHESTRATION_DB"
"""Environment variable naming a SQLite file (a narrower ``$DRS_ORCHESTRATION_STORAGE``)."""

_FORMS = "sqlite:///PATH, dynamodb://PREFIX?region=REGION or memory"


@dataclass(frozen=True)
class StorageSpec:
    """A parsed ``--storage`` value.

    Attributes:
        kind: ``sqlite``, ``dynamodb`` or ``memory``.
        path: The SQLite file (``sqlite`` only).
        table_prefix: The DynamoDB table prefix (``None``: the library's default).
        region: The DynamoDB region from the URL, if given.
        given: Whether it was chosen (option or environment) rather than the default.
    """

    kind: Literal["sqlite", "dynamodb", "memory"]
    path: Path | None = None
    table_prefix: str | None = None
    region: str | None = None
    given: bool = True

    def url(self) -> str:
        """The value that selects this storage again (for hints printed to the operator)."""
        if self.kind == "sqlite":
            return f"sqlite://{self.path}"
        if self.kind == "dynamodb":
            query = f"?region={self.region}" if self.region else ""
            return f"dynamodb://{self.table_prefix or ''}{query}"
        return "memory"


def parse_storage(value: str) -> StorageSpec:
    """Parse a ``--storage`` value.

    Raises:
        CliError: (exit status 2) naming the value and the accepted forms.
    """
    text = value.strip()
    if text in ("memory", "memory://"):
        return StorageSpec("memory")
    if text.startswith("sqlite:"):
        raw = text.removeprefix("sqlite:")
        raw = raw.removeprefix("//")
        if not raw:
            raise CliError(f"--storage {value!r}: no file after sqlite:// ({_FORMS})", EXIT_USAGE)
        return StorageSpec("sqlite", path=Path(raw).expanduser())
    if text.startswith("dynamodb:"):
        parts = urlsplit(text)
        prefix = parts.netloc + parts.path
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - {"region"})
        if unknown:
            raise CliError(
                f"--storage {value!r}: unknown parameter(s) {', '.join(unknown)} "
                "(only region=... is understood)",
                EXIT_USAGE,
            )
        regions = query.get("region", [])
        if len(regions) > 1 or (regions and not regions[0]):
            raise CliError(f"--storage {value!r}: give region=REGION once", EXIT_USAGE)
        return StorageSpec(
            "dynamodb",
            table_prefix=prefix or None,
            region=regions[0] if regions else None,
        )
    raise CliError(f"--storage {value!r} is not one of {_FORMS}", EXIT_USAGE)


def resolve_storage(storage: str | None, db: Path | None) -> StorageSpec:
    """The storage a command uses: ``--storage``, ``--db``, the environment, or the default.

    Raises:
        CliError: both ``--storage`` and ``--db`` given, or a malformed value.
    """
    from drs_orchestration.storage import default_sqlite_path

    if storage is not None and db is not None:
        raise CliError("give --storage or --db, not both", EXIT_USAGE)
    if storage is not None:
        return parse_storage(storage)
    if db is not None:
        return StorageSpec("sqlite", path=db.expanduser())
    from_env = os.environ.get(STORAGE_ENV)
    if from_env:
        try:
            return parse_storage(from_env)
        except CliError as exc:
            raise CliError(f"${STORAGE_ENV}: {exc.message}", EXIT_USAGE) from None
    db_env = os.environ.get(DB_ENV)
    if db_env:
        return StorageSpec("sqlite", path=Path(db_env).expanduser())
    return StorageSpec("sqlite", path=default_sqlite_path(), given=False)
