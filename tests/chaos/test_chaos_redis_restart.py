"""Redis (AOF on) is restarted in the middle of a run: workers reconnect, nothing queued or finished is lost.

The module's private Redis is stopped with SIGTERM (it flushes its AOF) while tasks run and more wait in the queues,
stays down for a few seconds, and a new server starts on the same port and data directory. Tasks that end during
the outage keep their final write pending and retry it (progress/reporter.py); the queued messages and the records
come back from the AOF; the stale sweep and kombu's restore of overdue unacknowledged messages (run here as in
tests/chaos/test_chaos_worker_faults.py) give back anything whose delivery was lost with the connection.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter

import pytest
from kombu.exceptions import OperationalError

from base.queues import QUEUE_NAMES
from progress import TaskRecord, TaskStatus
from taskrunner.redis_server import RedisServer
from tests.chaos.conftest import Cluster, Figures
from tests.helpers import wait_until

pytestmark = pytest.mark.chaos

TASKS = 80
DOWN_S = 3.0


def test_a_redis_restart_mid_run_loses_no_queued_task_and_no_final_state(
    cluster: Cluster, figures: Figures, chaos_seed: int
) -> None:
    print(f"chaos redis-restart seed {chaos_seed} (replay with TASKRUNNER_CHAOS_SEED={chaos_seed})")
    rng = random.Random(chaos_seed)
    cluster.wait_ready([cluster.spawn("ra"), cluster.spawn("rb")])
    store = cluster.store

    expected: dict[str, dict[str, object]] = {}
    for i in range(TASKS):
        n, symbol = rng.randint(8, 16), f"{2000 + i}.T"
        res = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": n, "delay": 0.05, "symbol": symbol},
                                    queue=rng.choice(QUEUE_NAMES))
        expected[res.id] = {"counted": n, "symbol": symbol}

    def records() -> dict[str, TaskRecord]:
        return {tid: store.require(tid) for tid in expected}

    def mid_run() -> dict[str, TaskRecord]:
        recs = records()
        by = Counter(r.status for r in recs.values())
        return recs if by[TaskStatus.RUNNING] >= 3 and by[TaskStatus.COMPLETED] >= 8 else {}

    before = wait_until(mid_run, timeout=60, interval=0.02, what="tasks running, ended and queued at once")
    in_flight = {tid for tid, r in before.items() if r.status is TaskStatus.RUNNING}
    queued = {tid for tid, r in before.items() if r.status is TaskStatus.CREATED}
    assert queued, "the restart must happen while tasks still wait in the queues"

    old = cluster.server
    old.stop()  # SIGTERM: Redis fsyncs its AOF and exits
    t_down = time.monotonic()
    # A caller publishing now (broker, results and progress all down) is told so within the publish retry policy.
    from tasks.maintenance.diagnostics import count

    with cluster.app.connection_for_write() as conn, pytest.raises(OperationalError, match=f":{old.port}"):
        count.apply_async(kwargs={"n": 1}, task_id="chaos-published-while-down", connection=conn)
    publish_error_after_s = time.monotonic() - t_down
    time.sleep(max(0.0, DOWN_S - publish_error_after_s))
    cluster.server = RedisServer(old.data_dir, port=old.port).start()
    assert cluster.server.port == old.port

    t_back = time.monotonic()
    while True:
        recs = records()
        if all(r.status.is_terminal for r in recs.values()):
            break
        if time.monotonic() - t_back > 90:
            open_ = {t: (r.status.value, r.current_status) for t, r in recs.items() if not r.status.is_terminal}
            raise AssertionError(f"seed {chaos_seed}: {len(open_)} tasks never ended after the restart: {open_}")
        cluster.recover()
        time.sleep(0.25)
    recovery_s = time.monotonic() - t_back

    wrong = {t: (r.status.value, r.results, r.error_message) for t, r in recs.items()
             if r.status is not TaskStatus.COMPLETED or r.results != expected[t]}
    celery_wrong = {}
    for tid, want in expected.items():
        meta = cluster.app.AsyncResult(tid)
        if meta.state != "SUCCESS" or meta.result != want:
            celery_wrong[tid] = (meta.state, repr(meta.result)[:200], recs[tid].attempt)
    # Tasks running at the stop that ended while Redis was down wrote their end only after it came back.
    retried = set(re.findall(r"progress of ([0-9a-f-]{36}): Redis unreachable", cluster.log_text()))
    figures.add(
        "redis_restart",
        tasks_run=TASKS,
        faults_injected=1,
        tasks_lost=len(wrong),
        celery_results_wrong=len(celery_wrong),
        redis_down_s=DOWN_S,
        in_flight_at_stop=len(in_flight),
        queued_at_stop=len(queued),
        tasks_whose_writes_were_retried=len(retried),
        in_flight_whose_final_write_was_retried=len(retried & in_flight),
        reruns=sum(1 for r in recs.values() if r.attempt > 1),
        seconds_to_drain_after_restart=round(recovery_s, 1),
        publish_while_down_error_after_s=round(publish_error_after_s, 2),
    )

    assert wrong == {}, f"seed {chaos_seed}"
    assert celery_wrong == {}, f"seed {chaos_seed}"
    statuses = Counter(r.status.value for r in recs.values())
    assert {k: v for k, v in store.summary().items() if v} == dict(statuses) == {"completed": TASKS}
    assert store.redis.zcard(store.keys.heartbeats()) == 0
    assert store.get_task_status("chaos-published-while-down") is None  # nothing half-recorded
    assert cluster.drained(), "messages left in the broker after every task ended"
    assert retried & in_flight, "no in-flight task had to retry a write: the outage missed the tasks it targets"
