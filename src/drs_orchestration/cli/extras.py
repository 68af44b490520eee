"""Optional dependencies of the command line, imported only by the commands that need them."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DB_ENV", "DEFAULT_DB", "MissingExtraError", "database_path", "require"]

DEFAULT_DB = Path("drs-orchestration.db")
"""The SQLite file ``demo`` writes and ``status`` reads, in the current directory."""
DB_ENV = "DRS_ORCHESTRATION_DB"
"""Environment variable naming the SQLite file when ``--db`` is not given."""


class MissingExtraError(Exception):
    """A command needs an extra that is not installed; the message says what to install."""


def require(*modules: str, extras: str) -> None:
    """Import ``modules`` or raise :class:`MissingExtraError` naming ``extras`` to install."""
    import importlib

    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f'this command needs {", ".join(missing)}: pip install "drs-orchestration[{extras}]"'
        )


def database_path(given: Path | None) -> Path:
    """The SQLite file: ``--db``, else ``$DRS_ORCHESTRATION_DB``, else ``drs-orchestration.db``."""
    if given is not None:
        return given
    from_env = os.environ.get(DB_ENV)
    return Path(from_env) if from_env else DEFAULT_DB
