"""System metrics: samples of queues, workers, Redis and progress, kept as a capped time series (a Redis stream).

One sample per collection (Beat: every 30 minutes, seed 004); the stream keeps the newest `metrics_maxlen` samples,
trimmed exactly on every write (the write rate is tiny). Read them with `recent()` or `taskrunner metrics`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import redis
from celery import Celery
from pydantic import AwareDatetime, BaseModel, Field

from base.keys import AppKeys
from ops.broker_view import BrokerView
from ops.health import workers_per_queue
from progress import ProgressStore
from progress.codec import from_ms


class QueueSample(BaseModel):
    """One queue at sample time."""

    depth: int
    workers: list[str]


class RedisSample(BaseModel):
    """Redis at sample time (the server holding the progress store)."""

    used_memory_mb: float
    ops_per_sec: int
    total_commands_processed: int
    connected_clients: int


class MetricsSample(BaseModel):
    """One point of the metrics series."""

    id: str | None = Field(default=None, description="stream entry id (set when read back)")
    timestamp: AwareDatetime
    queues: dict[str, QueueSample]
    redis: RedisSample
    progress: dict[str, int] = Field(description="stored records per status (the progress summary)")


def collect_sample(app: Celery, store: ProgressStore, queues: Iterable[str], *, timeout: float) -> MetricsSample:
    """Measures queue depths, live workers per queue, Redis memory and ops, and the progress summary now."""
    queues = list(queues)
    with BrokerView.open(app) as view:
        depths = view.depths(queues)
    workers = workers_per_queue(app, queues, timeout=timeout)
    info = store.redis.info()
    now = from_ms(store.now_ms(), store.config.tz)
    assert now is not None
    return MetricsSample(
        timestamp=now,
        queues={q: QueueSample(depth=depths[q], workers=workers[q]) for q in queues},
        redis=RedisSample(
            used_memory_mb=round(int(info.get("used_memory", 0)) / 1_048_576, 3),
            ops_per_sec=int(info.get("instantaneous_ops_per_sec", 0)),
            total_commands_processed=int(info.get("total_commands_processed", 0)),
            connected_clients=int(info.get("connected_clients", 0)),
        ),
        progress=store.summary(),
    )


def record_sample(client: redis.Redis, keys: AppKeys, sample: MetricsSample, *, maxlen: int) -> str:
    """Appends a sample to the series, dropping the oldest beyond `maxlen`; returns its entry id."""
    body = sample.model_dump_json(exclude={"id"})
    entry = client.xadd(keys.metrics(), {"d": body}, maxlen=maxlen, approximate=False)
    return entry.decode() if isinstance(entry, bytes) else str(entry)


def recent(
    client: redis.Redis, keys: AppKeys, count: int = 48, *, since: datetime | None = None
) -> list[MetricsSample]:
    """The newest `count` samples, oldest first (only those after `since`, when given)."""
    low = "-" if since is None else f"({int(since.timestamp() * 1000)}"
    rows = cast(list[tuple[Any, dict[Any, Any]]], client.xrevrange(keys.metrics(), "+", low, count=count))
    return [_sample(entry_id, fields) for entry_id, fields in reversed(rows)]


def _sample(entry_id: Any, fields: dict[Any, Any]) -> MetricsSample:
    body = fields.get("d", fields.get(b"d"))
    data = json.loads(body or "{}")
    data["id"] = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    return MetricsSample.model_validate(data)


def metrics_command(argv: list[str]) -> int:
    """`taskrunner metrics`: prints the newest samples as a JSON list (oldest first)."""
    from base.settings import get_settings
    from worker.store import progress_store

    parser = argparse.ArgumentParser(prog="taskrunner metrics", description=metrics_command.__doc__)
    parser.add_argument("--count", type=int, default=48, help="how many samples (default: one day's worth)")
    args = parser.parse_args(argv)
    samples = recent(progress_store().redis, AppKeys(get_settings().namespace), args.count)
    sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in samples], indent=2, ensure_ascii=False) + "\n")
    return 0
