"""Documentation examples are real files: the docs embed them verbatim and the tests run them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EMBED = re.compile(r"<!-- example: (?P<path>[\w./-]+) -->\n```python\n(?P<code>.*?)```", re.S)


def _embeds() -> list[tuple[Path, str, str]]:
    found = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for match in EMBED.finditer(doc.read_text()):
            found.append((doc, match["path"], match["code"]))
    return found


@pytest.mark.parametrize(("doc", "path", "code"), _embeds(), ids=lambda v: str(v)[-40:])
def test_docs_embed_the_example_file_verbatim(doc: Path, path: str, code: str) -> None:
    assert (ROOT / path).read_text() == code, f"{doc.name} is out of date with {path}"


@pytest.mark.parametrize(
    "example",
    sorted(p for p in (ROOT / "examples").glob("*.py")),
    ids=lambda p: p.name,
)
def test_examples_run(example: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
