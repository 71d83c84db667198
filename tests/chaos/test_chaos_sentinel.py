"""The Redis primary is SIGKILLed mid-run behind Sentinel (real primary, replica and three sentinels), with
TASKRUNNER_REDIS_MIN_REPLICAS=1: tasks in flight finish, every publish either returns or raises, and no
acknowledged state is lost.

Workers, this process's publish hook and a probe all reach Redis only through the sentinels. A probe writes every
20 ms to measure how long writes are refused; a publisher keeps publishing across the failover. The failed node is
restarted once the replica has been promoted (the sentinels make it the new replica, so WAIT can be satisfied again).
A message acknowledged by the old primary but not yet replicated can be lost with it: its record (created with WAIT,
so it survives) then ends `error: message lost` through the sweep, never `created` for ever.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from base.connections import progress_client
from base.queues import ALL_QUEUES, QUEUE_NAMES
from base.settings import Settings, get_settings
from ops.broker_view import BrokerView
from ops.stale_sweep import sweep_lost_messages
from progress import ProgressStore, TaskStatus
from progress.reporter import REDIS_DOWN
from taskrunner.processes import stop_process_group
from taskrunner.sentinel_cluster import SentinelCluster
from tests.brokers import settings_app, start_broker_worker
from tests.chaos.conftest import FAST_ENV, Figures
from tests.helpers import wait_until
from tracking.store import store_config
from worker.store import reset_store

pytestmark = pytest.mark.chaos
TASKS = 40


@pytest.fixture
def ha(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SentinelCluster, dict[str, str]]]:
    """The cluster, and this process pointed at it (the publish hook's store follows the environment)."""
    cluster = SentinelCluster(Path(tempfile.mkdtemp(prefix="taskrunner-chaos-ha-"))).start()
    env = {"REDIS_URL": cluster.sentinel_url(1), "TASKRUNNER_PROGRESS_URL": cluster.sentinel_url(2),
           "TASKRUNNER_SENTINEL_MASTER": cluster.master_name, "TASKRUNNER_REDIS_MIN_REPLICAS": "1",
           "TASKRUNNER_REDIS_REPLICA_TIMEOUT_MS": "500", **FAST_ENV}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    reset_store()
    try:
        yield cluster, env
    finally:
        cluster.stop()
        monkeypatch.undo()
        get_settings.cache_clear()
        reset_store()


@pytest.mark.timeout(360)  # the run waits up to 120 s for every task to end, after a minute of setup and faults
def test_a_primary_sigkilled_mid_run_with_min_replicas_one_loses_no_acknowledged_state(
    ha: tuple[SentinelCluster, dict[str, str]], figures: Figures, chaos_seed: int
) -> None:
    cluster, env = ha
    rng = random.Random(chaos_seed)
    settings = Settings()
    assert settings.redis_min_replicas == 1
    app = settings_app(settings, "chaos-ha")
    store = ProgressStore(progress_client(settings), config=store_config(settings))
    workers = [start_broker_worker(app, env, name=f"ha{i}", queues=ALL_QUEUES, concurrency=2) for i in range(2)]
    published: dict[str, int] = {}
    failed: list[str] = []
    refused: list[float] = []
    seen_final: dict[str, TaskStatus] = {}
    stop = threading.Event()
    try:
        for _ in range(TASKS):
            n = rng.randint(10, 20)
            published[app.send_task("tasks.diagnostics.count", kwargs={"n": n, "delay": 0.05},
                                    queue=rng.choice(QUEUE_NAMES)).id] = n

        def probe() -> None:
            while not stop.is_set():
                try:
                    store.redis.set("chaos:probe", time.time())
                except REDIS_DOWN:
                    refused.append(time.monotonic())
                time.sleep(0.02)

        def publisher() -> None:
            while not stop.is_set():
                n = rng.randint(5, 10)
                try:
                    published[app.send_task("tasks.diagnostics.count", kwargs={"n": n, "delay": 0.02},
                                            queue=rng.choice(QUEUE_NAMES)).id] = n
                except Exception as exc:  # must be a clear error, never a hang: counted and shown below
                    failed.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.05)

        def observe() -> dict[str, TaskStatus]:
            for tid in list(published):
                with contextlib.suppress(*REDIS_DOWN):
                    rec = store.get_task_status(tid)
                    if rec is not None and rec.status.is_terminal:
                        seen_final.setdefault(tid, rec.status)
            return seen_final

        wait_until(lambda: len(observe()) >= 8, timeout=60, what="some tasks to complete before the fault")
        threads = [threading.Thread(target=probe), threading.Thread(target=publisher)]
        for t in threads:
            t.start()
        before = dict(seen_final)
        old = cluster.primary
        old.signal(signal.SIGKILL)
        old.process.wait()
        failover_s = cluster.wait_for_failover(old.port)
        old.restart()
        time.sleep(2.0)  # publishes continue on the new primary
        stop.set()
        for t in threads:
            t.join(timeout=30)

        def all_ended() -> bool:
            # As Beat runs it: a sweep that meets Redis between two states of a failover tries again next time.
            with contextlib.suppress(*REDIS_DOWN), BrokerView.open(app) as broker:
                sweep_lost_messages(store, broker, grace_s=5, queues=QUEUE_NAMES, is_celery_task=lambda r: True,
                                    held_by_workers=set)
            return len(observe()) == len(published)

        try:
            wait_until(all_ended, timeout=120, interval=0.5, what="every published task to end")
        except AssertionError as exc:
            open_ones = [tid for tid in published if tid not in seen_final]
            records = {tid: store.get_task_status(tid) for tid in open_ones[:10]}
            states = {tid: r and (r.status.value, r.current_status) for tid, r in records.items()}
            raise AssertionError(f"{exc}: {len(open_ones)} open, {states}, "
                                 f"{_worker_lines(workers, open_ones[:3])}") from exc
    finally:
        stop.set()
        for w in workers:
            stop_process_group(w, signal.SIGKILL)
        _drop_pending_results(app)
        app.close()

    final = {tid: store.require(tid) for tid in published}
    reverted = [tid for tid, status in before.items() if final[tid].status is not status]
    wrong = [tid for tid, rec in final.items()
             if rec.status is TaskStatus.COMPLETED and rec.results.get("counted") != published[tid]]
    lost_messages = [tid for tid, rec in final.items() if rec.current_status == "message lost"]
    other_ends = [tid for tid, rec in final.items()
                  if rec.status is not TaskStatus.COMPLETED and tid not in lost_messages]
    window = (refused[-1] - refused[0]) if refused else 0.0
    figures.add("sentinel_failover", tasks_run=len(published), faults_injected=1, tasks_lost=len(reverted),
                failover_s=round(failover_s, 2), refused_writes_s=round(window, 2), publishes_failed=len(failed),
                messages_lost_ended_by_sweep=len(lost_messages), acknowledged_states_reverted=len(reverted))
    print(f"sentinel failover: {failover_s:.1f} s to promote, writes refused for {window:.1f} s, {len(failed)} "
          f"publishes failed ({failed[:2]}), {len(lost_messages)} messages lost, {len(reverted)} reverted")
    ends = {tid: (final[tid].status.value, final[tid].current_status, final[tid].error) for tid in other_ends}
    assert reverted == [] and wrong == [] and other_ends == [], (ends, _worker_lines(workers, other_ends))
    assert all(("Error" in f or "error" in f.lower()) for f in failed)
    assert os.environ["TASKRUNNER_REDIS_MIN_REPLICAS"] == "1"


def test_without_min_replicas_a_failover_with_a_lagging_replica_loses_acknowledged_states() -> None:
    # The twin of tests/ha's MIN_REPLICAS=1 test: the same scenario must bite without WAIT, or that test proves nothing.
    from tests.ha.test_ha_failover import _failover_with_a_lagging_replica

    cluster = SentinelCluster(Path(tempfile.mkdtemp(prefix="taskrunner-chaos-lag-"))).start()
    try:
        lost = _failover_with_a_lagging_replica(cluster, min_replicas=0)
    finally:
        cluster.stop()
    assert any("now running" in why for why in lost.values()) and any("gone" in why for why in lost.values())


def _drop_pending_results(app: Celery) -> None:
    """Unsubscribes every result the publishes left pending, now, while the sentinels answer.

    Celery's Redis backend keeps each published task's AsyncResult (strongly) until the app is collected; collected
    at the process's exit, after the servers stopped, each would retry its unsubscribe through the sentinels for
    minutes and pytest would never exit.
    """
    pending = list(app.backend._pending_results.concrete.values())
    for result in pending:
        with contextlib.suppress(Exception):
            app.backend.remove_pending_result(result)
    del pending
    gc.collect()  # results held only by reference cycles unsubscribe now too, not in a later test
    # Results still referenced elsewhere (a captured log record's traceback holds the publisher's frames) die after
    # the sentinels stop, at the end of the test's teardown: with nothing left to unsubscribe from, their collection
    # must not try (each would retry through the stopped sentinels for minutes).
    app.backend.remove_pending_result = lambda result: result  # type: ignore[method-assign]


def _worker_lines(workers: list[object], task_ids: list[str]) -> list[str]:
    """The workers' log lines that name one of `task_ids` (shown when a task ended in an unexpected way)."""
    if not task_ids:
        return []
    logs = Path(tempfile.gettempdir()).glob(f"taskrunner-ha*-{os.getpid()}.log")
    return [line.strip() for log in logs for line in log.read_text(errors="replace").splitlines()
            if any(tid in line for tid in task_ids)][:40]
