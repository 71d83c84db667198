"""A hung worker is fenced: its task is requeued past the stale bound, and when the hung process resumes, its attempt's
first write is refused and it stops; the record, Celery's result and what watchers see come from the newer attempt
alone, and `current` never goes backwards.

Worker A (one pool process) runs a slow count; the test SIGSTOPs that pool process (a stuck C call, a swapped-out
machine, a debugger), waits past the stale bound (1.5 s here), runs the system's own sweep, which gives the
unacknowledged message back to the queue, and worker B starts attempt 2. Then A's process is SIGCONTed.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import threading
import time
from datetime import datetime

import pytest

from progress import TaskStatus
from tests.chaos.conftest import Cluster, Figures
from tests.helpers import wait_until

pytestmark = pytest.mark.chaos

N = 60
DELAY_S = 0.05


def test_a_hung_workers_attempt_is_refused_after_the_requeue_and_stops_at_its_next_write(
    cluster: Cluster, figures: Figures
) -> None:
    store = cluster.store
    cluster.start("hung-a", "backtest", concurrency=1)
    result = cluster.app.send_task("tasks.diagnostics.count", kwargs={"n": N, "delay": DELAY_S}, queue="backtest")
    tid = result.id
    seen: list[int] = []
    watcher = threading.Thread(
        target=lambda: seen.extend(e.current for e in store.watch(tid, block_ms=200, timeout=90)), daemon=True)
    watcher.start()
    wait_until(lambda: store.require(tid).progress.current >= 15, timeout=30, what="attempt 1 under way")
    (child,) = cluster.pool_children("hung-a")

    os.kill(child, signal.SIGSTOP)
    try:
        hung_at = store.require(tid).progress.current
        time.sleep(2.0)  # past the 1.5 s stale bound: no heartbeat from the stopped process
        requeued = cluster.recover()["requeued"]
        assert requeued == 1
        cluster.start("hung-b", "backtest", concurrency=1)
        wait_until(lambda: store.require(tid).attempt == 2, timeout=30, what="attempt 2 started")
    finally:
        os.kill(child, signal.SIGCONT)
        resumed = datetime.now()

    wait_until(lambda: store.health_check().superseded_writes >= 1, timeout=30, what="attempt 1's refused write")
    assert result.get(timeout=60) == {"counted": N, "symbol": None}
    watcher.join(30)
    assert cluster.drained()

    rec = store.require(tid)
    assert rec.status is TaskStatus.COMPLETED and rec.attempt == 2 and rec.progress.current == N
    assert rec.worker is not None and rec.worker.startswith("hung-b")
    refused = store.health_check().superseded_writes
    assert refused == 1  # one write refused, then attempt 1 stopped: nothing more from it
    stopped = _stopped_at(cluster.log_text(), tid)
    body_ms = round((stopped - resumed).total_seconds() * 1000)
    assert seen and seen[-1] == N
    backwards = sum(1 for a, b in itertools.pairwise(seen) if b < a)
    assert backwards == 0, seen
    assert cluster.alive("hung-a")  # the resumed worker ended the attempt quietly and keeps consuming

    figures.add("hung_worker", tasks_run=1, faults_injected=1, tasks_lost=0, hung_at_item=hung_at,
                writes_refused_after_fence=refused, body_ms_after_resume=body_ms,
                progress_went_backwards=backwards, events_watched=len(seen))


def _stopped_at(log: str, task_id: str) -> datetime:
    """When the worker logged that the task's superseded attempt stopped (its log's local time)."""
    found = re.search(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): WARNING/[^\]]+\] [^\n]*"
                      + re.escape(task_id) + r"[^\n]*superseded by a newer attempt", log, re.MULTILINE)
    assert found, "the resumed attempt did not log that it stopped"
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")
