"""Per-run log files live under the project's data folder, one per run (issue 16, item 6)."""

from __future__ import annotations

from pathlib import Path

from taskrunner.run_logs import run_log


def test_two_runs_get_two_log_files_under_the_data_folder(tmp_path: Path) -> None:
    first, second = run_log(tmp_path, "demo-worker"), run_log(tmp_path, "demo-worker")
    assert first != second
    assert first.parent == second.parent == (tmp_path / "logs").resolve()
    assert first.exists() and second.exists()
