"""`GET /metrics`: Prometheus's text format, measured from Redis and the broker at each scrape.

Nothing is counted in the API process itself: several API processes, workers and Beat all change the same Redis,
so every figure is read from where the store keeps it (per-status counts, the type indexes, the store's counters,
the duration histogram update.lua keeps) and the broker (queue depths, live workers). Two scrapes of two API
processes therefore agree, and a restart loses nothing. Needs the service token (or an admin JWT): Prometheus sends
it with `authorization: {credentials: ...}` in its scrape config.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from api.auth import Operator
from api.state import ApiState, State
from progress import TaskStatus
from progress.ops import sum_counts
from progress.pages import summary_from_counts

router = APIRouter(tags=["operations"])
log = logging.getLogger(__name__)
STATUSES = [s.value for s in TaskStatus]


class _Snapshot:
    """A collector that yields the families measured for one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        """The measured families."""
        return iter(self.families)


async def store_families(st: ApiState) -> list[Metric]:
    """Tasks by status and by type, updates written and ignored, durations, Redis memory; `redis_up` 0 when Redis
    does not answer (the rest is then left out, never guessed)."""
    store = st.store
    r: Any = store.redis  # replies are text (a decoding client); redis-py's types do not say so
    up = GaugeMetricFamily("taskrunner_redis_up", "1 when the progress store's Redis answers")
    try:
        keys, buckets = store.keys, store.keys.all_buckets()  # every bucket keeps its own counts (progress/keys.py)
        pipe = r.pipeline(transaction=False)
        for b in buckets:
            pipe.smembers(keys.types(b))
        types: list[str] = sorted(set().union(*(await pipe.execute())))
        pipe = r.pipeline(transaction=keys.buckets == 1)
        for b in buckets:
            pipe.hgetall(keys.counts(b))
            pipe.hgetall(keys.stats(b))
            pipe.hgetall(keys.duration_histogram(b))
        for t in types:
            for s in STATUSES:
                for b in buckets:
                    pipe.zcard(keys.index(s, task_type=t, bucket=b))
        replies = await pipe.execute()
        n = 3 * keys.buckets
        counts, stats = sum_counts(replies[0:n:3]), sum_counts(replies[1:n:3])
        hist = _sum_fields(replies[2:n:3])
        per_type = [sum(replies[i : i + keys.buckets]) for i in range(n, len(replies), keys.buckets)]
        memory = await r.info("memory")
    except (RedisError, OSError) as exc:
        log.warning("metrics: Redis does not answer: %s", exc)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    tasks = GaugeMetricFamily("taskrunner_tasks", "stored task records per status (the summary)", labels=["status"])
    for status, n in summary_from_counts(counts).items():
        tasks.add_metric([status], n)
    by_type = GaugeMetricFamily("taskrunner_tasks_by_type", "stored task records per type and status",
                                labels=["task_type", "status"])
    for i, t in enumerate(types):
        for j, s in enumerate(STATUSES):
            by_type.add_metric([t, s], int(per_type[i * len(STATUSES) + j]))
    written = CounterMetricFamily("taskrunner_updates_written", "progress updates applied to a record")
    written.add_metric([], int(stats.get("written_updates", 0)))
    ignored = CounterMetricFamily("taskrunner_updates_ignored", "updates ignored because the task had ended")
    ignored.add_metric([], int(stats.get("ignored_updates", 0)))
    superseded = CounterMetricFamily("taskrunner_writes_superseded", "writes refused: a newer attempt had started")
    superseded.add_metric([], int(stats.get("superseded_writes", 0)))
    used = GaugeMetricFamily("taskrunner_redis_memory_used_bytes", "Redis used_memory")
    used.add_metric([], int(memory.get("used_memory", 0)))
    limit = GaugeMetricFamily("taskrunner_redis_memory_max_bytes", "Redis maxmemory (0: no limit)")
    limit.add_metric([], int(memory.get("maxmemory", 0)))
    return [up, tasks, by_type, written, ignored, superseded, duration_histogram(hist), used, limit]


def _sum_fields(per_bucket: list[dict[str, str]]) -> dict[str, str]:
    """The buckets' histogram fields, summed (counts and the float sums alike)."""
    total: dict[str, float] = defaultdict(float)
    for fields in per_bucket:
        for name, value in fields.items():
            total[name] += float(value)
    return {name: repr(v) if name.endswith("|sum") else str(int(v)) for name, v in total.items()}


def duration_histogram(fields: dict[str, str]) -> HistogramMetricFamily:
    """The run-time histogram per type and final status from update.lua's per-bucket counts (made cumulative)."""
    family = HistogramMetricFamily("taskrunner_task_duration_seconds", "task run time, start to end",
                                   labels=["task_type", "status"])
    buckets: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    sums: dict[tuple[str, str], float] = {}
    for name, value in fields.items():
        parts = name.rsplit("|", 2)
        if len(parts) != 3:
            continue
        task_type, status, le = parts
        if le == "sum":
            sums[(task_type, status)] = float(value)
        else:
            buckets[(task_type, status)][le] = int(value)
    for key in sorted(set(buckets) | set(sums)):
        found = buckets.get(key, {})
        bounds = sorted((le for le in found if le != "+Inf"), key=float)
        running, cumulative = 0, []
        for le in bounds:
            running += found[le]
            cumulative.append((le, running))
        cumulative.append(("+Inf", running + found.get("+Inf", 0)))
        family.add_metric(list(key), cumulative, sums.get(key, 0.0))
    return family


def broker_families(celery: Any, timeout: float) -> list[Metric]:
    """Messages waiting and live workers per queue (the broker and `inspect`, like `taskrunner health`)."""
    from base.queues import QUEUE_NAMES
    from ops.broker_view import BrokerView
    from ops.health import workers_per_queue

    up = GaugeMetricFamily("taskrunner_broker_up", "1 when the message broker answers")
    try:
        with BrokerView.open(celery) as view:
            depths = view.depths(QUEUE_NAMES)
        workers = workers_per_queue(celery, QUEUE_NAMES, timeout=timeout)
    except Exception as exc:  # any broker failure is a 0, never a failed scrape
        log.warning("metrics: broker does not answer: %s", exc)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    depth = GaugeMetricFamily("taskrunner_queue_depth", "messages waiting in a queue", labels=["queue"])
    live = GaugeMetricFamily("taskrunner_queue_workers", "live workers consuming a queue", labels=["queue"])
    for q in QUEUE_NAMES:
        depth.add_metric([q], depths[q])
        live.add_metric([q], len(workers[q]))
    return [up, depth, live]


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(_: Operator, st: State) -> Response:
    """Prometheus metrics: tasks by status and type, updates written and ignored, queue depth and live workers per
    queue, task duration histograms by type, Redis up and memory."""
    families = await store_families(st)
    families += await run_in_threadpool(broker_families, st.celery, st.core.inspect_timeout_s)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(families))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
