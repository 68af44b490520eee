"""Optional dependencies of the command line, imported only by the commands that need them."""

from __future__ import annotations

__all__ = ["MissingExtraError", "require"]


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
