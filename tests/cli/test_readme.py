"""The README's first screen works for a newcomer: its Python snippet runs exactly as printed after `taskrunner up`
(issue 16, item 2), and its settings table is the settings objects' (item 7)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from taskrunner.settings_doc import README, readme_table, table

ROOT = Path(__file__).resolve().parents[2]


def _readme() -> str:
    return README.read_text(encoding="utf-8")


def python_snippet() -> str:
    """The first Python block of the README's "From Python" section, as printed."""
    section = _readme().split("### From Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no python block under 'From Python'"
    return match.group(1)


def test_the_settings_table_is_the_one_the_settings_objects_generate() -> None:
    assert readme_table(_readme()) == table(), "run `python -m taskrunner.settings_doc --write`"
    for name in ("TASKRUNNER_BEAT_FAST", "TASKRUNNER_SWEEP_INTERVAL_S", "TASKRUNNER_SMTP_STARTTLS",
                 "TASKRUNNER_CSV_DIR", "TASKRUNNER_API_PORT", "TASKRUNNER_REDIS_SERVER", "TASKRUNNER_MARKET_PROVIDER"):
        assert f"| `{name}` |" in table()


def test_the_readme_says_to_run_taskrunner_up_before_the_python_snippet() -> None:
    section = _readme().split("### From Python", 1)[1]
    assert section.index("taskrunner up") < section.index("```python")


@pytest.mark.integration
def test_the_readme_python_snippet_runs_as_printed_after_taskrunner_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TASKRUNNER_PROGRESS_URL",
                                                             "TASKRUNNER_MARKET_PROVIDER")}
    env["TASKRUNNER_HOME"] = str(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "taskrunner.cli", *args], cwd=ROOT, env=env, text=True,
                              capture_output=True, timeout=120, check=False)

    up = cli("up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert (tmp_path / "worker.pid").exists() and list((tmp_path / "logs").glob("worker-*.log"))
        ran = subprocess.run([sys.executable, "-c", python_snippet()], cwd=ROOT, env=env, text=True,
                             capture_output=True, timeout=120, check=False)
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-3000:]
        assert '"type": "progress_update"' in ran.stdout or "'type': 'progress_update'" in ran.stdout
        assert "'status': 'completed'" in ran.stdout
    finally:
        down = cli("down")
    assert down.returncode == 0 and "worker: stopped" in down.stdout and "redis: stopped" in down.stdout
    assert not (tmp_path / "worker.pid").exists() and not (tmp_path / "redis" / "server.json").exists()
