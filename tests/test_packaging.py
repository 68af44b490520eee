"""The sdist and wheel built from a clean checkout hold exactly what they should."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tracked_files() -> list[str]:
    """The checkout's files: what git tracks plus new files not ignored (a work in progress)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    checkout = tmp_path_factory.mktemp("checkout")
    for name in _tracked_files():
        target = checkout / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    # Strays a developer's checkout may hold: a venv with docs and examples inside it,
    # and docs/examples folders below the root. None of them belongs in a distribution.
    for stray in (
        ".venv/lib/python3.11/site-packages/somepkg/docs/index.md",
        ".venv/lib/python3.11/site-packages/somepkg/examples/demo.py",
        "notes/docs/draft.md",
        "scratch/examples/try.py",
    ):
        (checkout / stray).parent.mkdir(parents=True, exist_ok=True)
        (checkout / stray).write_text("stray\n")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(checkout)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return sdist, wheel


def test_the_sdist_holds_the_project_and_nothing_else(built: tuple[Path, Path]) -> None:
    sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]

    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {
        "src",
        "tests",
        "docs",
        "examples",
        "benchmarks",
        "mkdocs.yml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "pyproject.toml",
        "PKG-INFO",
        ".gitignore",
    }
    assert not [n for n in names if ".venv" in n or "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if "stray" in n or n.startswith(("notes/", "scratch/"))]
    assert "src/drs_orchestration/py.typed" in names
    assert "src/drs_orchestration/reports/evidence.py" in names
    assert "examples/notebooks/drill_analysis.ipynb" in names
    assert "docs/index.md" in names


def test_the_wheel_holds_the_package_with_its_type_marker(built: tuple[Path, Path]) -> None:
    _, wheel = built
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata_name] = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
        [entry_points_name] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(entry_points_name).decode()

    packages = {n.split("/", 1)[0] for n in names}
    assert packages == {"drs_orchestration", metadata_name.split("/", 1)[0]}
    assert "drs_orchestration/py.typed" in names
    assert "drs_orchestration/reports/page.py" in names
    assert not [n for n in names if "docs/" in n or "tests/" in n or "__pycache__" in n]
    # pytest finds the fixtures (drs_sim, simulated_clients, no_wait_retry) by this entry point.
    assert "[pytest11]\ndrs_orchestration = drs_orchestration.testing.pytest_plugin" in entry_points
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"sim", "cli", "report", "notebook", "docs", "dev"} <= extras
    # No project URL that points at PyPI itself, posing as a homepage or docs.
    for url in metadata.get_all("Project-URL") or []:
        assert "pypi.org" not in url, url


def test_the_sdist_include_is_anchored_at_the_root() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]

    assert all(pattern.startswith("/") for pattern in include), include
