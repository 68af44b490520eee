"""Open a drill evidence report in a real headless browser and save a screenshot of it.

The test suite checks the report's HTML structure and that its embedded PNG
decodes to a real picture; this script checks what a person sees: that a
browser, offline, draws the page and the timeline chart. CI does not run it
(it needs Chromium, which is not a pip package). Run it by hand after
changing anything under ``src/drs_orchestration/reports/``::

    apt-get install -y chromium            # Debian; any Chromium or Chrome works
    python docs/tools/report_screenshot.py [FOLDER]

then open ``FOLDER/evidence.png`` and look at it: the summary table, then
the chart with a bar per server and phase (one red, hatched: the failed
launch), then the wave tables. The script itself fails when the browser
cannot render the page, when the screenshot is blank, or when the chart's
colours are missing from it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "evidence_report.py"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
# Flags for a headless browser on a machine without a network or a display.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# Bar colours of the chart (drs_orchestration.reports.timeline.PHASE_COLOURS).
PHASES = {"snapshot": "#60a5fa", "conversion": "#f59e0b", "launch": "#22c55e", "failed": "#ef4444"}


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("no Chromium found: apt-get install -y chromium (or put chrome on PATH)")


def screenshot(
    browser: str, page: Path, out: Path, *, width: int = 1400, height: int = 2200
) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not out.exists():
        raise SystemExit(f"the browser wrote no screenshot at {out}")


def check(out: Path) -> dict[str, int]:
    """Count the screenshot's pixels of each phase colour; fail on a blank page or chart."""
    from matplotlib import image

    pixels = image.imread(out)[..., :3]
    if (pixels.max(axis=2) - pixels.min(axis=2)).max() < 0.2:
        raise SystemExit(f"{out} is blank or grey: the page did not render")
    counts = {}
    for phase, colour in PHASES.items():
        rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        close = (abs(pixels - rgb) < 0.03).all(axis=2)
        counts[phase] = int(close.sum())
    missing = [phase for phase, n in counts.items() if n < 100]
    if missing:
        raise SystemExit(f"{out}: the chart's {', '.join(missing)} bars are not on the screen")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    folder: Path = args.folder or Path(tempfile.mkdtemp(prefix="evidence-"))
    folder.mkdir(parents=True, exist_ok=True)
    browser = find_browser()
    subprocess.run(
        [sys.executable, str(EXAMPLE), str(folder)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    out = folder / "evidence.png"
    screenshot(browser, folder / "evidence.html", out)
    counts = check(out)
    print(f"screenshot: {out}")
    print("pixels per phase colour: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
