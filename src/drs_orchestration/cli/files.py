"""Reading JSON or YAML documents given on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["DocumentError", "load_document"]


class DocumentError(Exception):
    """A file that cannot be read or parsed; the message says where."""


def load_document(path: Path) -> Any:
    """Load a JSON (``.json``) or YAML (``.yaml``/``.yml``) document.

    Raises:
        DocumentError: the file is missing, unreadable or not valid JSON/YAML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            import yaml
        except ImportError:
            raise DocumentError(
                f"{path}: reading YAML needs PyYAML: pip install 'drs-orchestration[cli]'"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise DocumentError(f"{path}: invalid YAML: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from exc
