"""A failover with a lagging replica, against real processes: with TASKRUNNER_REDIS_MIN_REPLICAS=1 no acknowledged
creation or final state is lost. Without it the same failover loses acknowledged ones (why the setting exists; shown
by tests/chaos/test_chaos_sentinel.py, which runs the same scenario with MIN_REPLICAS=0).

The replica is made to lag for real: SIGSTOPped, then 32 MB written to the primary so that everything after it waits
in the primary's own output buffer (beyond the kernel's socket buffers), which dies with the primary's SIGKILL.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from typing import Any

import pytest

from base.connections import progress_client
from progress import NotReplicated, ProgressReporter, ProgressStore, TaskStatus
from progress.reporter import REDIS_DOWN
from taskrunner.sentinel_cluster import SentinelCluster
from tests.ha.conftest import sentinel_settings
from tracking.store import store_config

pytestmark = pytest.mark.integration


def _store(cluster: SentinelCluster, min_replicas: int) -> ProgressStore:
    settings = sentinel_settings(cluster, redis_min_replicas=min_replicas, redis_replica_timeout_ms=300)
    return ProgressStore(progress_client(settings), config=store_config(settings))


def _create_until_acknowledged(store: ProgressStore, tid: str, acked: dict[str, Any]) -> None:
    """Creates a record, retrying (as a publisher would) until the store acknowledges it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            store.create_task("ha.probe", 10, task_id=tid, message="queued")
        except (NotReplicated, *REDIS_DOWN):
            time.sleep(0.1)
            continue
        acked[tid] = TaskStatus.CREATED
        return


def _complete(store: ProgressStore, tid: str, acked: dict[str, Any]) -> None:
    """A task's end, written by the reporter (which retries a final state while Redis is unreachable)."""
    ProgressReporter(store, tid, final_write_timeout=60).complete({"n": 1})
    acked[tid] = TaskStatus.COMPLETED


def _failover_with_a_lagging_replica(cluster: SentinelCluster, min_replicas: int) -> dict[str, str]:
    """Runs the scenario; returns task id -> what went wrong, for every acknowledged state the new primary lacks."""
    store = _store(cluster, min_replicas)
    acked: dict[str, Any] = {}
    ids = [f"ha-{uuid.uuid4()}" for _ in range(10)]
    for tid in ids:
        _create_until_acknowledged(store, tid, acked)
        store.apply(tid, {"status": "running", "start": True, "worker": "w@ha"})
    for tid in ids[:3]:
        _complete(store, tid, acked)

    # The replica lags: stopped, and the primary's link to it is filled, so what follows reaches only the primary.
    cluster.replica.signal(signal.SIGSTOP)
    store.redis.set("ha:filler", b"x" * (32 << 20))
    writers = [threading.Thread(target=_complete, args=(store, tid, acked)) for tid in ids[3:8]]
    writers += [threading.Thread(target=_create_until_acknowledged, args=(store, f"ha-new-{i}-{uuid.uuid4()}", acked))
                for i in range(5)]
    for w in writers:
        w.start()
    time.sleep(1.0)  # every writer has written to the doomed primary at least once

    old = cluster.primary
    old.signal(signal.SIGKILL)
    old.process.wait()
    cluster.replica_node_of(old).signal(signal.SIGCONT)
    cluster.wait_for_failover(old.port)
    old.restart()  # it comes back and the sentinels make it the new primary's replica
    for w in writers:
        w.join(timeout=90)
    assert not any(w.is_alive() for w in writers), "a writer never got its write acknowledged"

    lost: dict[str, str] = {}
    for tid, state in acked.items():
        rec = store.get_task_status(tid)
        if rec is None:
            lost[tid] = "record gone"
        elif state is TaskStatus.COMPLETED and rec.status is not TaskStatus.COMPLETED:
            lost[tid] = f"acknowledged completed, now {rec.status.value}"
    return lost


@pytest.mark.chaos  # kills processes: in `make chaos`, run by CI after `make test`
def test_with_min_replicas_one_a_failover_with_a_lagging_replica_loses_no_acknowledged_state(
    cluster: SentinelCluster,
) -> None:
    assert _failover_with_a_lagging_replica(cluster, min_replicas=1) == {}
