"""Redis at maxmemory (noeviction) refuses writes: the reporter waits it out as it waits out an outage.

A private redis-server per module, so `CONFIG SET maxmemory` never touches the session Redis the other tests share.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from progress import ProgressReporter, ProgressStore, ProgressWriteError, TaskStatus
from taskrunner.redis_server import RedisServer
from tests.helpers import wait_until


@pytest.fixture(scope="module")
def full_redis() -> Iterator[ProgressStore]:
    """A store on a private Redis whose memory limit the tests set and lift."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="taskrunner-oom-redis-"))).start()
    store = ProgressStore.from_url(server.url)
    try:
        yield store
    finally:
        store.redis.config_set("maxmemory", 0)
        store.redis.close()
        server.stop()


def test_a_status_write_refused_for_memory_is_retried_and_lands_once_memory_frees(
    full_redis: ProgressStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = full_redis
    tid = store.create_task("fetch_data", 10).task_id
    rep = ProgressReporter(store, tid, interval=0.0)
    store.redis.config_set("maxmemory", 1)
    caplog.set_level(logging.WARNING, logger="progress.reporter")
    started = threading.Thread(target=rep.start, kwargs={"total": 10})
    try:
        started.start()
        wait_until(lambda: "Redis unreachable" in caplog.text, timeout=10, what="the start to be refused")
        assert store.require(tid).status is TaskStatus.CREATED
    finally:
        store.redis.config_set("maxmemory", 0)
    started.join(timeout=30)
    assert not started.is_alive()
    assert store.require(tid).status is TaskStatus.RUNNING


def test_routine_progress_refused_for_memory_stays_pending_and_lands_with_the_next_write(
    full_redis: ProgressStore,
) -> None:
    store = full_redis
    tid = store.create_task("fetch_data", 10).task_id
    rep = ProgressReporter(store, tid, interval=0.0)
    rep.start(total=10)
    store.redis.config_set("maxmemory", 1)
    try:
        rep.update(4, message="four")  # refused: no exception, the values are kept for the next write
        assert store.require(tid).progress.current == 0
    finally:
        store.redis.config_set("maxmemory", 0)
    rep.update(5)
    rec = store.require(tid)
    assert (rec.progress.current, rec.current_status) == (5, "four")


def test_a_status_write_refused_for_memory_past_the_timeout_raises_instead_of_being_dropped(
    full_redis: ProgressStore,
) -> None:
    store = full_redis
    tid = store.create_task("fetch_data", 1).task_id
    rep = ProgressReporter(store, tid, interval=0.0, final_write_timeout=0.3)
    store.redis.config_set("maxmemory", 1)
    try:
        with pytest.raises(ProgressWriteError):
            rep.start(total=1)
    finally:
        store.redis.config_set("maxmemory", 0)
    assert store.require(tid).status is TaskStatus.CREATED
