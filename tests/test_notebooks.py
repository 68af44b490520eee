"""The example notebook runs top to bottom on the simulator, offline, so it cannot rot."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_runs_and_shows_tables_and_charts(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # jupyter_core warns about its path migration unless the new layout is chosen.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells), "commit it without outputs"

    started = time.monotonic()
    # The working folder is a temporary one: whatever the notebook writes stays there.
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    took = time.monotonic() - started

    outputs = [o for cell in notebook.cells for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    images = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(html) >= 6
    assert any("Drill ex-" in h and "PARTIAL" in h for h in html)  # the execution's own view
    assert any("InsufficientInstanceCapacity" in h for h in html)
    assert len(images) >= 2  # the phase bars and the timeline chart
    assert all(len(image) > 10_000 for image in images)
    assert took < 60, f"the notebook took {took:.0f} s; keep it small"
