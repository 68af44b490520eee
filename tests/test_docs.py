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
    for doc in sorted((ROOT / "docs").rglob("*.md")):
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


# ---- doctests: every other Python block is a ```pycon session the tests run ------------

FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<code>.*?)^```", re.S | re.M)
PAGES = sorted((ROOT / "docs").rglob("*.md"))


def _blocks(doc: Path, lang: str) -> list[str]:
    return [m["code"] for m in FENCE.finditer(doc.read_text()) if m["lang"] == lang]


@pytest.mark.parametrize("doc", PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_every_python_block_is_an_embedded_example_or_a_doctest(doc: Path) -> None:
    text = doc.read_text()
    embedded = {m["code"] for m in EMBED.finditer(text)}
    bare = [code for code in _blocks(doc, "python") if code not in embedded]
    assert bare == [], f"{doc.name}: make these ```pycon sessions or embed an example file"
    for session in _blocks(doc, "pycon"):
        assert session.lstrip().startswith(">>>"), f"{doc.name}: a pycon block starts with >>>"


@pytest.mark.parametrize("doc", [p for p in PAGES if _blocks(p, "pycon")], ids=lambda p: p.name)
def test_doc_sessions_run_as_shown(
    doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page's sessions run in order in one namespace, offline and inside a temp dir.

    The namespace starts with ``sim``: the DRS simulator, active with moto's
    ``mock_aws()`` as the pages say. Home and state folders point into the
    temp dir, so a default path cannot write anywhere else.
    """
    import doctest

    from moto import mock_aws

    from drs_orchestration.testing import mock_drs

    monkeypatch.chdir(tmp_path)
    for variable in ("HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    text = "\n".join(_blocks(doc, "pycon"))
    parser = doctest.DocTestParser()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    output: list[str] = []
    with mock_aws(), mock_drs() as sim:
        test = parser.get_doctest(text, {"sim": sim}, doc.name, str(doc), 0)
        result = runner.run(test, out=output.append)
    assert result.attempted > 0
    assert result.failed == 0, "".join(output)


# ---- the CLI reference is generated from the command tree ------------------------------


def _cli_reference_module() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "cli_reference", ROOT / "docs" / "tools" / "cli_reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_covers_every_command_and_option() -> None:
    import click

    from drs_orchestration.cli import build_command

    reference = _cli_reference_module().cli_reference()  # type: ignore[attr-defined]

    def walk(command: click.Command, path: str) -> int:
        level = "#" * min(2 + path.count(" "), 4)
        assert f"{level} `{path}`" in reference, path
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for option in param.opts:
                    assert option in reference, (path, option)
        if not isinstance(command, click.Group):
            return 1
        return sum(walk(sub, f"{path} {name}") for name, sub in command.commands.items())

    assert walk(build_command(), "drs-orchestration") >= 30
    assert "--clients" not in reference  # the tests' hook stays out of the documentation
    assert (ROOT / "docs" / "cli.md").read_text().count("<!-- cli-reference -->") == 1


def test_the_cli_reference_reads_a_click_tree_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import click

    @click.group(name="drs-orchestration")
    def main() -> None:
        """Disaster recovery."""

    @main.command()
    @click.option("--yes", is_flag=True, help="do not ask")
    def recover() -> None:
        """Recover a plan."""

    cli = types.ModuleType("fake_cli")
    cli.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_cli", cli)

    reference = _cli_reference_module().cli_reference("fake_cli")  # type: ignore[attr-defined]

    assert "`drs-orchestration recover`" in reference
    assert "--yes" in reference
    assert "Recover a plan." in reference
