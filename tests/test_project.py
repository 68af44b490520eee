"""Project-level promises: the README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _ci_test_command() -> str:
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in lines if line.strip().startswith("pytest")]
    assert len(commands) == 1, commands
    return commands[0]


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"pip install -e \"\.\[dev\]\" && \.venv/bin/(pytest[^\n`]*)", readme)
    assert match, "README must give the install-and-test command"
    assert match.group(1).strip() == _ci_test_command()


def test_ci_installs_the_dev_extra_and_runs_the_linters() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert 'pip install --quiet -e ".[dev]"' in script
    assert "ruff check" in script
    assert "ruff format --check" in script
    assert "mypy --strict src" in script
    assert "set -euo pipefail" in script


def test_changelog_has_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog


def test_readme_python_compiles_and_imports_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        compile(block, "README.md", "exec")
        for line in block.splitlines():
            if line.startswith(("from drs_orchestration", "import drs_orchestration")):
                exec(line, {})
