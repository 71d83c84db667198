"""What a user can get wrong on the command line is one line saying what to do, and a non-zero exit; ids take a
unique prefix; `ls` fits 80 columns without cutting the id prefix (issue 16, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from progress import ProgressStore
from taskrunner.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "taskrunner.cli", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60, check=False)


def _one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode != 0, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


@pytest.fixture
def cli_env(redis_base: str) -> dict[str, str]:
    """The CLI pointed at the test Redis, db 0 (flushed)."""
    redis.Redis.from_url(f"{redis_base}/0").flushdb()
    return {**os.environ, "REDIS_URL": f"{redis_base}/0", "TASKRUNNER_PROGRESS_URL": f"{redis_base}/0",
            "COLUMNS": "80"}


@pytest.mark.parametrize(("args", "says"), [
    (["ls", "--status", "bogus"], "invalid choice: 'bogus'"),
    (["ls", "--page", "0"], "pages and limits start at 1"),
    (["ls", "--limit", "x"], "not a whole number"),
    (["ls", "--name", "tasks.market_data.fetch_data", "--symbol", "7203.T"], "task_name filters alone"),
    (["status", "no-such-task"], "taskrunner ls"),
    (["pause", "no-such-task"], "taskrunner ls"),
])
def test_a_mistake_is_one_line_saying_what_to_do_and_a_non_zero_exit(
    cli_env: dict[str, str], args: list[str], says: str
) -> None:
    assert says in _one_line_error(_run(args, cli_env))


@pytest.mark.parametrize("args", [["ls"], ["status", "abc"], ["cancel", "abc"], ["cleanup"]])
def test_any_command_while_redis_is_down_says_how_to_start_it(cli_env: dict[str, str], args: list[str]) -> None:
    down = {**cli_env, "REDIS_URL": f"redis://:s3cret@127.0.0.1:{free_port()}/0",
            "TASKRUNNER_PROGRESS_URL": f"redis://:s3cret@127.0.0.1:{free_port()}/0"}
    error = _one_line_error(_run(args, down))
    assert "taskrunner up" in error and "s3cret" not in error


def test_a_unique_prefix_names_a_task_and_an_ambiguous_one_says_how_many_match(
    cli_env: dict[str, str], redis_base: str
) -> None:
    store = ProgressStore.from_url(f"{redis_base}/0")
    for tid in ("job-a1", "job-a2", "job-b1"):
        store.create_task("fetch_data", task_id=tid)

    status = _run(["status", "job-b"], cli_env)
    cancelled = _run(["cancel", "job-a2"], cli_env)
    ambiguous = _one_line_error(_run(["status", "job-a"], cli_env))

    assert status.returncode == 0 and '"task_id": "job-b1"' in status.stdout
    assert cancelled.returncode == 0 and store.require("job-a2").status.value == "cancelled"
    assert "job-a is ambiguous: 2 tasks" in ambiguous


def test_ls_fits_80_columns_and_shows_id_prefixes_that_status_accepts(
    cli_env: dict[str, str], redis_base: str
) -> None:
    store = ProgressStore.from_url(f"{redis_base}/0")
    ids = []
    for _ in range(5):
        tid = store.create_task("send_realtime_notification", 10, "7203.T",
                                task_name="tasks.notifications.send_realtime_notification").task_id
        store.update_progress(tid, "running", 3, message="a long message " * 10)
        ids.append(tid)

    out = _run(["ls"], cli_env)

    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    for tid in ids:
        shown = next(line.split()[0] for line in out.stdout.splitlines() if line.startswith(tid[:8]))
        assert tid.startswith(shown) and len(shown) >= 8
        assert _run(["status", shown], cli_env).returncode == 0


def test_a_store_in_the_old_key_layout_is_refused_in_one_line_until_migrate_keys_moves_it(
    cli_env: dict[str, str], redis_base: str
) -> None:
    raw = redis.Redis.from_url(f"{redis_base}/0", decode_responses=True)
    # Layout 1, as the previous release wrote it: a record, its stream, its count and index, no layout key.
    raw.hset("tr:task:old-1", mapping={"id": "old-1", "type": "fetch_data", "symbol": "", "status": "created",
                                       "cur": 0, "total": 3, "msg": "", "meta": "{}", "created": 1_700_000_000_000,
                                       "updated": 1_700_000_000_000, "attempt": 0, "ev": "1700000000000-0",
                                       "sidx": "tr:idx:status=\ntr:idx:type=fetch_data:status=",
                                       "evk": "tr:events:old-1"})
    raw.xadd("tr:events:old-1", {"s": "created", "c": 0, "t": 3, "k": "created"}, id="1700000000000-0")
    raw.hset("tr:counts", "created", 1)
    raw.zadd("tr:idx:status=created", {"old-1": 1_700_000_000_000})
    raw.zadd("tr:idx:type=fetch_data:status=created", {"old-1": 1_700_000_000_000})

    refused = _one_line_error(_run(["ls"], cli_env))
    migrated = _run(["migrate-keys"], {**cli_env, "TASKRUNNER_PROGRESS_BUCKETS": "2"})
    listed = _run(["ls", "--json"], {**cli_env, "TASKRUNNER_PROGRESS_BUCKETS": "2"})
    other_count = _one_line_error(_run(["ls"], cli_env))

    assert "key layout 1" in refused and "taskrunner migrate-keys" in refused
    assert migrated.returncode == 0 and "moved 1 records" in migrated.stdout
    assert listed.returncode == 0 and '"task_id": "old-1"' in listed.stdout
    assert "TASKRUNNER_PROGRESS_BUCKETS=2" in other_count  # every process must use the same bucket count
