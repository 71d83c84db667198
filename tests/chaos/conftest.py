"""Chaos fixtures: a private Redis per test module, this process pointed at it, and workers the tests may kill.

Each chaos module gets its own AOF-backed redis-server (taskrunner.redis_server.RedisServer), so killing workers or
restarting Redis never touches the session Redis the other tests share. While the module runs, REDIS_URL and
TASKRUNNER_PROGRESS_URL name the private server (broker and results on db 1, progress on db 2, as in the session
layout): the publish hook's progress_store() and the worker subprocesses follow them. The Celery app of this process
(`worker.app`) was configured for the session Redis at import, so the tests publish through `Cluster.app`, a second
app built from the same celery_config for the private server.

The figures each test measures are collected in FIGURES, written to test-artifacts/chaos.json and printed as one line
at the end of the session. Nothing here imports the Celery app at import time: pytest may load this file before the
root conftest has set REDIS_URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from base.queues import ALL_QUEUES
from taskrunner.redis_server import RedisServer
from tracking.store import store_config

if TYPE_CHECKING:
    from celery import Celery

    from progress import ProgressStore

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "test-artifacts" / "chaos.json"
FIGURES: dict[str, dict[str, Any]] = {}

# Faster clocks for the chaos workers: heartbeats every 0.3 s, a task silent for 1.5 s has lost its worker, and an
# unacknowledged message is given back after 10 s (the longest chaos task runs about 2 s).
FAST_ENV = {
    "TASKRUNNER_HEARTBEAT_INTERVAL_S": "0.3",
    "TASKRUNNER_STALE_AFTER_S": "1.5",
    "TASKRUNNER_VISIBILITY_TIMEOUT_S": "10",
    "TASKRUNNER_PROGRESS_INTERVAL_S": "0.2",
    # Random pool-process kills may hit one task several times: that is not a poison pill (its test sets its own).
    "TASKRUNNER_MAX_WORKER_DEATHS": "10",
}


class Figures:
    """The session's chaos figures by section (one instance: pytest's copy of this module owns FIGURES)."""

    def add(self, section: str, **figures: Any) -> None:
        """Adds one test's figures to the report."""
        FIGURES.setdefault(section, {}).update(figures)


@pytest.fixture(scope="session")
def chaos_seed() -> int:
    """The session's random seed: TASKRUNNER_CHAOS_SEED replays a run, else a fresh one (printed and reported)."""
    seed = int(os.environ.get("TASKRUNNER_CHAOS_SEED", "0")) or random.SystemRandom().randrange(1, 2**31)
    FIGURES.setdefault("session", {})["seed"] = seed
    return seed


@pytest.fixture(scope="session")
def figures() -> Figures:
    """Where chaos tests put what they measured (written to test-artifacts/chaos.json at the end)."""
    return Figures()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Writes test-artifacts/chaos.json and prints its totals on one line (only when chaos tests ran)."""
    if not FIGURES:
        return
    sections = FIGURES.values()
    totals = {
        "tasks_run": sum(int(s.get("tasks_run", 0)) for s in sections),
        "faults_injected": sum(int(s.get("faults_injected", 0)) for s in sections),
        "tasks_lost": sum(int(s.get("tasks_lost", 0)) for s in sections),
    }
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(json.dumps({"totals": totals, **FIGURES}, indent=2, sort_keys=True) + "\n")
    load = FIGURES.get("load", {})
    extra = ""
    if load:
        extra = (f", load {load.get('tasks_run')} tasks at {load.get('throughput_tasks_per_s')}/s, notification p50 "
                 f"{load.get('notification_p50_ms_saturated')} ms under saturated backtests, Redis peak "
                 f"{load.get('redis_peak_memory_mb')} MB")
    seed = FIGURES.get("session", {}).get("seed")
    head = f"chaos (seed {seed})" if seed else "chaos"
    terminalreporter.write_line(
        f"{head}: {totals['tasks_run']} tasks run, {totals['faults_injected']} faults injected, "
        f"{totals['tasks_lost']} tasks lost{extra} -> {ARTIFACT.relative_to(ROOT)}"
    )


@dataclass
class Cluster:
    """A private Redis, a Celery app publishing to it, its progress store, and the workers started on it."""

    server: RedisServer
    app: Celery
    store: ProgressStore
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    serial: int = 0

    @property
    def base(self) -> str:
        """redis://127.0.0.1:PORT of the private server (no database)."""
        return self.server.url.rsplit("/", 1)[0]

    def spawn(self, slot: str, queues: str = ALL_QUEUES, *, concurrency: int = 2,
              extra_env: dict[str, str] | None = None) -> str:
        """Starts a real `celery -A worker worker` for `slot` without waiting; returns its node name prefix."""
        self.serial += 1
        name = f"{slot}-{self.serial}"
        env = {**os.environ, **FAST_ENV, **(extra_env or {})}
        log = Path(tempfile.gettempdir()) / f"taskrunner-chaos-{name}-{os.getpid()}.log"
        self.workers[slot] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", queues, "-c", str(concurrency),
             "-n", f"{name}@%h", "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.logs[name] = log
        return name

    def start(self, slot: str, queues: str = ALL_QUEUES, *, concurrency: int = 2,
              extra_env: dict[str, str] | None = None) -> str:
        """Starts a worker and waits until it answers a ping."""
        name = self.spawn(slot, queues, concurrency=concurrency, extra_env=extra_env)
        self.wait_ready([name])
        return name

    def wait_ready(self, names: list[str], timeout: float = 60.0) -> None:
        """Waits until every named worker answers a ping on the private broker."""
        deadline = time.monotonic() + timeout
        missing = set(names)
        while missing:
            for reply in self.app.control.ping(timeout=0.5):
                missing -= {n for n in missing for node in reply if node.startswith(f"{n}@")}
            if missing and time.monotonic() > deadline:
                logs = tempfile.gettempdir()
                raise AssertionError(f"workers {sorted(missing)} did not answer a ping; logs in {logs}")

    def alive(self, slot: str) -> bool:
        """Whether the slot's worker process is running."""
        proc = self.workers.get(slot)
        return proc is not None and proc.poll() is None

    def stop(self, slot: str, sig: int = signal.SIGTERM) -> None:
        """Stops a slot's worker and its pool (its whole process group)."""
        proc = self.workers.get(slot)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def pool_children(self, slot: str) -> list[int]:
        """Pids of the prefork pool processes of a slot's worker."""
        proc = self.workers.get(slot)
        if proc is None or proc.poll() is not None:
            return []
        try:
            text = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def recover(self, stale_after_s: float = float(FAST_ENV["TASKRUNNER_STALE_AFTER_S"])) -> dict[str, int]:
        """One round of the system's own recovery: the stale-task sweep (as Beat runs it) and kombu's restore of
        messages unacknowledged for longer than the visibility timeout (as a live consumer runs it, but now: kombu
        5.7 scans only every `unacked_restore_interval` x `unacked_restore_throttle`, 100 s by default)."""
        from base.queues import QUEUE_NAMES
        from ops.broker_view import BrokerView
        from ops.stale_sweep import sweep_stale

        with BrokerView.open(self.app) as broker:
            report = sweep_stale(self.store, broker, stale_after_s=stale_after_s, queues=QUEUE_NAMES)
        with self.app.connection_for_write() as conn:
            conn.default_channel.qos.restore_visible(num=10_000, interval=1)
        return {"requeued": len(report.requeued), "queued": len(report.queued), "lost": len(report.lost)}

    def broker_is_empty(self) -> bool:
        """No message waits in any queue and none is delivered but unacknowledged."""
        from base.queues import QUEUE_NAMES
        from ops.broker_view import BrokerView

        with BrokerView.open(self.app) as broker:
            depth = sum(broker.depths(QUEUE_NAMES).values())
            unacked = int(broker.client.hlen(broker._chan.unacked_key))
        return depth == 0 and unacked == 0

    def drained(self, timeout: float = 40.0) -> bool:
        """Whether the broker empties (recovery keeps running meanwhile: a message whose worker died after the
        task ended is given back once its visibility timeout passes, and its copy is acknowledged)."""
        deadline = time.monotonic() + timeout
        while not self.broker_is_empty():
            if time.monotonic() > deadline:
                return False
            self.recover()
            time.sleep(0.25)
        return True

    def log_text(self) -> str:
        """Every worker log of the module, concatenated (for counting retried writes and for failures)."""
        return "\n".join(p.read_text(errors="replace") for p in self.logs.values() if p.exists())


def _redirect(base: str) -> dict[str, str | None]:
    """Points this process's settings (and so the publish hook's store) at `base`; returns the previous values."""
    from base.settings import get_settings
    from worker.store import reset_store

    saved = {k: os.environ.get(k) for k in ("REDIS_URL", "TASKRUNNER_PROGRESS_URL")}
    os.environ["REDIS_URL"] = f"{base}/1"
    os.environ["TASKRUNNER_PROGRESS_URL"] = f"{base}/2"
    get_settings.cache_clear()
    reset_store()
    return saved


def _restore(saved: dict[str, str | None]) -> None:
    from base.settings import get_settings
    from worker.store import reset_store

    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
    reset_store()


def chaos_app(broker_base: str, **overrides: Any) -> Celery:
    """A Celery app configured exactly like `worker.app` (its class, so tracked; celery_config), but for the Redis at
    `broker_base`."""
    from base.settings import Settings
    from worker.celery_app import TaskrunnerCelery
    from worker.config import celery_config

    settings = Settings(redis_url=f"{broker_base}/1", **overrides)
    app = TaskrunnerCelery("taskrunner-chaos", set_as_current=False)
    app.config_from_object(celery_config(settings))
    return app


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A private Redis for the module, this process redirected to it, and a registry of workers (stopped after)."""
    from base.settings import get_settings
    from progress import ProgressStore
    from worker import load_tasks

    load_tasks()  # the publish hook recognises tracked tasks by name in the publishing app's registry
    server = RedisServer(Path(tempfile.mkdtemp(prefix="taskrunner-chaos-redis-"))).start()
    base = server.url.rsplit("/", 1)[0]
    saved = _redirect(base)
    app = chaos_app(base, visibility_timeout_s=int(FAST_ENV["TASKRUNNER_VISIBILITY_TIMEOUT_S"]))
    store = ProgressStore.from_url(f"{base}/2", config=store_config(get_settings()))
    cl = Cluster(server=server, app=app, store=store)
    try:
        yield cl
    finally:
        for slot in list(cl.workers):
            cl.stop(slot, signal.SIGKILL)
        app.close()
        store.redis.close()
        cl.server.stop()  # the restart test swaps in a new server process: stop the one running now
        _restore(saved)
