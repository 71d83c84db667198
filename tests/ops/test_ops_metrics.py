"""System metrics: collected by a real worker, kept as a capped series, read back from Python and the CLI; the
heartbeat never brings an ended task back."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import time

import pytest

from base.keys import AppKeys
from base.queues import QUEUE_NAMES
from base.settings import get_settings
from ops.metrics import MetricsSample, QueueSample, metrics_command, recent, record_sample
from progress import ProgressStore, TaskStatus
from tracking import heartbeat
from worker import load_tasks

load_tasks()
from tasks.maintenance.diagnostics import count  # noqa: E402
from tasks.maintenance.tasks import collect_system_metrics  # noqa: E402

pytestmark = pytest.mark.integration


def _keys() -> AppKeys:
    return AppKeys(get_settings().namespace)


def test_a_worker_collects_a_sample_of_queues_workers_redis_and_progress(
    celery_worker: subprocess.Popen[bytes], worker_store: ProgressStore
) -> None:
    done = count.delay(n=2)
    done.get(timeout=30)
    expected_summary = worker_store.summary()

    result = collect_system_metrics.delay().get(timeout=30)

    samples = recent(worker_store.redis, _keys())
    assert [s.id for s in samples] == [result["id"]]
    sample = samples[0]
    assert set(sample.queues) == set(QUEUE_NAMES)
    # The session worker consumes every queue and answers the inspect broadcast.
    assert all(any(w.startswith("w1@") for w in q.workers) for q in sample.queues.values())
    assert all(q.depth == 0 for q in sample.queues.values())
    assert sample.progress == expected_summary and sample.progress["completed"] == 1
    assert sample.redis.used_memory_mb > 0 and sample.redis.total_commands_processed > 0


def test_the_series_keeps_only_the_newest_samples_and_the_cli_prints_them(worker_store: ProgressStore) -> None:
    client, keys = worker_store.redis, _keys()
    template = MetricsSample.model_validate({
        "timestamp": "2025-06-10T10:00:00+09:00", "queues": {"backtest": {"depth": 0, "workers": []}},
        "redis": {"used_memory_mb": 1.0, "ops_per_sec": 0, "total_commands_processed": 1, "connected_clients": 1},
        "progress": {},
    })
    ids = []
    for depth in range(5):
        sample = template.model_copy(update={"queues": {"backtest": QueueSample(depth=depth, workers=[])}})
        ids.append(record_sample(client, keys, sample, maxlen=3))

    kept = recent(client, keys, count=10)
    assert client.xlen(keys.metrics()) == 3
    assert [s.id for s in kept] == ids[2:]
    assert [s.queues["backtest"].depth for s in kept] == [2, 3, 4]

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert metrics_command(["--count", "2"]) == 0
    printed = json.loads(out.getvalue())
    assert [p["id"] for p in printed] == ids[3:]
    assert printed[-1]["queues"]["backtest"]["depth"] == 4


def test_a_late_heartbeat_never_brings_an_ended_task_back(worker_store: ProgressStore) -> None:
    tid = worker_store.create_task("tasks.diagnostics.count").task_id
    worker_store.apply(tid, {"status": "running", "start": True})
    heartbeat._task_started(task_id=tid, task=count)
    try:
        time.sleep(0.01)  # the heartbeat's clock must move past the start for the refresh to show
        assert heartbeat.beat_once() == 1
        worker_store.update_progress(tid, TaskStatus.COMPLETED)

        assert heartbeat.beat_once() == 0
        assert worker_store.redis.zscore(worker_store.keys.heartbeats(), tid) is None
    finally:
        heartbeat._task_ended(task_id=tid)
    assert tid not in heartbeat.running_tasks()
