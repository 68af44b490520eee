"""Every failure of the command line is one line on stderr and a non-zero exit, never a traceback.

Exit statuses: 1 the command failed, 2 usage or invalid input, 3 AWS or storage.
"""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from drs_orchestration.cli import EXIT_BACKEND, EXIT_FAILED, EXIT_USAGE, main
from drs_orchestration.cli.errors import option_words
from drs_orchestration.models import Execution
from drs_orchestration.storage import SqliteStorage

EXECUTION_ID = "ex-" + "0" * 20


def _foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    return path


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "content",
    ["foreign", "text", "truncated"],
)
def test_status_on_a_file_that_is_not_our_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    path = tmp_path / "other.db"
    if content == "foreign":
        _foreign(path)
    elif content == "text":
        path.write_text("not a database\n" * 20)
    else:
        with SqliteStorage(path) as storage:
            for _ in range(50):
                storage.executions.put(Execution(plan_id="rp-" + "p" * 20, plan_name="x" * 900))
        path.write_bytes(path.read_bytes()[:3000])
    before = (path.read_bytes(), path.stat().st_mtime_ns)

    status = main(["status", EXECUTION_ID, "--db", str(path), "--json"])

    line = _one_line(capsys.readouterr().err)
    assert status == EXIT_BACKEND
    assert line.startswith("drs-orchestration status: ")
    assert str(path) in line
    assert "--db" in line
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_status_as_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    path = _foreign(tmp_path / "photos.db")

    result = subprocess.run(
        [sys.executable, "-m", "drs_orchestration.cli", "status", EXECUTION_ID, "--db", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == EXIT_BACKEND
    assert "another application" in _one_line(result.stderr)
    assert result.stdout == ""


def test_status_opens_the_database_read_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.db"
    with SqliteStorage(path) as storage:
        execution = storage.executions.put(Execution(plan_id="rp-" + "p" * 20, plan_name="drill"))
    path.chmod(0o400)
    mtime = path.stat().st_mtime_ns

    assert main(["status", execution.execution_id, "--db", str(path), "--json"]) == 0

    assert execution.execution_id in capsys.readouterr().out
    assert path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("speed", ["-1", "nan", "inf"])
def test_bad_input_is_one_line_and_a_usage_status(
    capsys: pytest.CaptureFixture[str], speed: str
) -> None:
    assert main(["demo", "--speed", speed]) == EXIT_USAGE

    assert "--speed must be positive and finite" in _one_line(capsys.readouterr().err)


def test_a_folder_that_cannot_be_written_suggests_another_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def read_only_folder(path: object, flags: int, mode: int = 0o777) -> int:
        # As a read-only folder refuses it (tests may run as root, who is never refused).
        if flags & os.O_CREAT and str(path).startswith(str(tmp_path)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only_folder)

    status = main(["demo", "--db", str(tmp_path / "drs.db")])

    line = _one_line(capsys.readouterr().err)
    assert status == EXIT_BACKEND
    assert "Permission denied" in line
    assert "--db PATH" in line


def test_a_closed_pipe_is_silent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    with SqliteStorage(path) as storage:
        execution = storage.executions.put(Execution(plan_id="rp-" + "p" * 20, plan_name="drill"))

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())

    status = main(["status", execution.execution_id, "--db", str(path), "--json"])

    assert status == EXIT_FAILED
    assert capsys.readouterr().err == ""


def test_a_closed_pipe_in_a_real_process_is_silent(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStorage(path) as storage:
        execution = storage.executions.put(
            Execution(plan_id="rp-" + "p" * 20, plan_name="x" * 200_000)
        )
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read: the first write fails with EPIPE

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "drs_orchestration.cli",
            "status",
            execution.execution_id,
            "--db",
            str(path),
            "--json",
        ],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    os.close(writer)

    assert result.stderr == ""
    assert result.returncode == EXIT_FAILED


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("pass include_recovery=True if so", "pass --include-recovery if so"),
        ("apply the report with add_tag=True", "apply the report with --add-tag"),
        ("pass drill_ok=True; or x=True.", "pass --drill-ok; or --x."),
        ("Name=True, a_b=False, flag=Truer", "Name=True, a_b=False, flag=Truer"),
    ],
)
def test_library_keyword_flags_read_as_options(message: str, expected: str) -> None:
    assert option_words(message) == expected
