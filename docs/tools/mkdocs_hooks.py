"""mkdocs hooks: generated pages, and links that point outside the docs folder.

- ``<!-- cli-reference -->`` becomes the CLI reference generated from the
  command tree (:mod:`cli_reference`).
- ``<!-- include: PATH -->`` becomes the file at PATH (relative to the
  repository root), for pages that live beside their code (benchmarks).
- A link to a file outside ``docs/`` (``[text](../examples/drill.py)``) works
  when the Markdown is read in the repository but has no page on the site:
  it becomes its text, with the path named in code when the text does not
  name it already.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_reference import cli_reference  # noqa: E402

INCLUDE = re.compile(r"<!-- include: (?P<path>[\w./-]+) -->")
OUTSIDE = re.compile(r"\[(?P<text>[^\]]+)\]\((?P<target>(?:\.\./)+(?P<path>[^)#\s]+))\)")


def _outside_link(match: re.Match[str]) -> str:
    text, path = match["text"], match["path"]
    return text if path in text else f"{text} (`{path}`)"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "<!-- cli-reference -->" in markdown:
        markdown = markdown.replace("<!-- cli-reference -->", cli_reference())
    markdown = INCLUDE.sub(lambda m: (ROOT / m["path"]).read_text(), markdown)
    return OUTSIDE.sub(_outside_link, markdown)
