"""The dead-letter list (capped, expiring, raw bodies kept), `taskrunner dead-letters`, and health's count of it.

The workers that fill it are exercised in tests/chaos/test_chaos_bad_days.py; these check the list itself, against
the session's real Redis (db 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import redis

from ops.health import RedisMemory, collect_health
from progress import ProgressStore
from progress.config import StoreConfig
from tests.conftest import ROOT
from tracking.dead_letters import RAW_MAX_CHARS, DeadLetters, configured_dead_letters


def _letters(client: redis.Redis, **limits: int) -> DeadLetters:
    return DeadLetters(client, StoreConfig(), **{"max_entries": 3, "ttl_s": 60, **limits})


def test_the_dead_letter_list_keeps_the_newest_entries_up_to_its_cap_and_expires(redis_client: redis.Redis) -> None:
    letters = _letters(redis_client)
    for i in range(5):
        letters.add(source="transport", reason=f"garbage {i}", raw=f"item {i}", now_ms=1_700_000_000_000 + i,
                    queue="backtest")

    assert letters.count() == 3
    assert [d.reason for d in letters.latest(10)] == ["garbage 4", "garbage 3", "garbage 2"]
    assert [d.raw for d in letters.latest(1)] == ["item 4"]
    assert 0 < redis_client.ttl(letters.key) <= 60


def test_a_dead_letter_keeps_undecodable_bytes_and_a_bounded_prefix_of_a_huge_body(redis_client: redis.Redis) -> None:
    letters = _letters(redis_client)
    letters.add(source="transport", reason="not JSON", raw=b"\xff\xfe{", now_ms=1_700_000_000_000)
    letters.add(source="transport", reason="huge", raw="x" * (RAW_MAX_CHARS + 10), now_ms=1_700_000_000_001)

    huge, garbled = letters.latest(2)
    assert (len(huge.raw), huge.raw_chars) == (RAW_MAX_CHARS, RAW_MAX_CHARS + 10)
    assert garbled.raw == "\ufffd\ufffd{"


def test_taskrunner_dead_letters_lists_the_newest_entries_with_their_reasons(
    redis_client: redis.Redis, redis_base: str
) -> None:
    letters = configured_dead_letters(redis_client)
    letters.add(source="transport", reason="not a kombu message: a JSON array", raw="[1]", now_ms=1_700_000_000_000,
                queue="backtest")
    letters.add(source="worker_deaths", reason="worker process died 3 times (signal 9 (SIGKILL))", raw="{}",
                now_ms=1_700_000_000_001, queue="ai_analysis", task_id="t-1", task_name="tasks.diagnostics.crash")
    env = {**os.environ, "REDIS_URL": f"{redis_base}/0", "TASKRUNNER_PROGRESS_URL": f"{redis_base}/0"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "taskrunner.cli", "dead-letters", *args], cwd=ROOT, env=env,
                              text=True, capture_output=True, timeout=60, check=False)

    as_json = cli("--json", "--limit", "1")
    text = cli()

    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["count"] == 2 and [d["task_id"] for d in body["dead_letters"]] == ["t-1"]
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("2 dead letters held")
    assert "worker process died 3 times" in text.stdout and "a JSON array" in text.stdout


def test_health_counts_dead_letters_and_reports_redis_memory_against_its_limit(redis_client: redis.Redis) -> None:
    from worker import app

    store = ProgressStore(redis_client)
    configured_dead_letters(redis_client).add(source="consumer", reason="unknown task", raw="{}", now_ms=1)

    report = collect_health(app, store, [], timeout=0.2)

    assert report.dead_letters == 1
    assert report.redis_memory is not None and report.redis_memory.used_bytes > 0
    assert report.redis_memory.maxmemory_bytes == int(redis_client.config_get("maxmemory")["maxmemory"])


@pytest.mark.parametrize(("used", "limit", "full"), [(10, 0, False), (10, 11, False), (11, 11, True), (12, 11, True)])
def test_redis_is_full_when_its_used_memory_reaches_a_set_limit(used: int, limit: int, full: bool) -> None:
    memory = RedisMemory(used_bytes=used, maxmemory_bytes=limit, used_fraction=None, policy="noeviction")
    assert memory.full is full
