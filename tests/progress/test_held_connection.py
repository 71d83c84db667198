"""The store's held connection (progress.held): script calls go out on one connection taken from the pool once; a
dropped one is given back and the error reaches the reporter's outage handling; NOSCRIPT loads the script on it; a
busy one sends another thread to the pool; a forked child never writes on its parent's socket.

On one Redis only: a cluster client keeps redis-py's path (each call goes to the node owning the task's bucket)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from progress import ProgressReporter, ProgressStore

NAME = "held-connection-test"


def _drop_connections(redis_base: str) -> int:
    """Has Redis close every connection of the test's client (as a restart or a network blip would)."""
    killer = redis.Redis.from_url(f"{redis_base}/0", decode_responses=True)
    try:
        ids = [c["id"] for c in killer.client_list() if c.get("name") == NAME]
        return sum(int(killer.client_kill_filter(_id=i)) for i in ids)
    finally:
        killer.close()


@pytest.fixture
def client(redis_base: str) -> Iterator[redis.Redis]:
    """A client with a pool of its own, emptied database 0."""
    c = redis.Redis.from_url(f"{redis_base}/0", decode_responses=True, client_name=NAME)
    c.flushdb()
    yield c
    c.close()


@pytest.fixture
def takes(client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the connections the pool lends from now on."""
    pool = client.connection_pool
    lent: list[int] = []
    original = pool.get_connection

    def counting(*args: Any, **kwargs: Any) -> Any:
        lent.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(pool, "get_connection", counting)
    return lent


def _running(store: ProgressStore) -> tuple[str, ProgressReporter]:
    tid = store.create_task("fetch_data", 100).task_id
    reporter = ProgressReporter(store, tid, interval=0.0)
    reporter.start(total=100)
    return tid, reporter


def test_routine_writes_go_out_on_one_connection_taken_from_the_pool_once(
    client: redis.Redis, takes: list[int]
) -> None:
    store = ProgressStore(client)
    tid, reporter = _running(store)
    for i in range(1, 51):
        reporter.update(i)
    store.update_progress(tid, current_items=60, message="seed api")

    assert len(takes) == 1  # the held connection; creation, start, 50 writes and the update all went out on it
    assert store.require(tid).progress.current == 60


def test_a_dropped_held_connection_reaches_the_reporter_and_the_next_write_takes_a_new_one(
    client: redis.Redis, redis_base: str, takes: list[int]
) -> None:
    store = ProgressStore(client)
    tid, reporter = _running(store)
    reporter.update(1)

    assert _drop_connections(redis_base) >= 1
    reporter.update(2, message="after the drop")  # refused by the dead connection: kept pending, no error
    assert len(client.connection_pool._in_use_connections) == 0  # given back, not leaked
    reporter.update(3)  # written on a new connection, with what was pending
    assert len(takes) == 2
    record = store.require(tid)
    assert record.progress.current == 3 and record.current_status == "after the drop"

    assert _drop_connections(redis_base) >= 1
    with pytest.raises(redis.ConnectionError):  # no silent retry: the caller's outage handling decides
        store.write(tid, {"current": 4, "status": "running", "soft": True})
    assert store.write(tid, {"current": 5, "status": "running", "soft": True}).applied


def test_scripts_flushed_on_the_server_are_loaded_again_on_the_held_connection(
    client: redis.Redis, takes: list[int]
) -> None:
    store = ProgressStore(client)
    tid, reporter = _running(store)
    client.script_flush()
    lent = len(takes)
    reporter.update(5)
    reporter.complete({"ok": True})
    assert len(takes) == lent  # NOSCRIPT, SCRIPT LOAD and the call again: all on the held connection
    assert store.require(tid).results == {"ok": True}


def test_a_write_while_another_thread_holds_the_connection_takes_the_pools_path(
    client: redis.Redis, takes: list[int]
) -> None:
    store = ProgressStore(client)
    tid, reporter = _running(store)
    held = store._held
    assert held is not None
    lent = len(takes)
    with held._lock:  # as if another thread were mid-call on it
        reporter.update(7)
    assert len(takes) == lent + 1 and store.require(tid).progress.current == 7


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_writes_on_its_parents_held_connection(client: redis.Redis) -> None:
    store = ProgressStore(client)
    tid, reporter = _running(store)
    reporter.update(1)
    held = store._held
    assert held is not None and held._conn is not None
    pid = os.fork()
    if pid == 0:  # the child: a connection of its own, or exit 1
        ok = False
        try:
            ok = held._conn is None and store.write(tid, {"current": 2, "status": "running", "soft": True}).applied
            ok = ok and held._conn is not None
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    reporter.update(3)  # the parent's connection is in step: its reply is its own
    assert reporter.last is not None and reporter.last.applied and store.require(tid).progress.current == 3


def test_a_creation_sent_without_waiting_is_recorded_and_its_answer_read_before_the_next_call(
    client: redis.Redis, takes: list[int]
) -> None:
    store = ProgressStore(client)
    _, reporter = _running(store)  # the held connection is taken
    held = store._held
    assert held is not None

    store.send_create_task("fetch_data", 5, "7203.T", task_id="sent-1", message="queued")
    assert held._unread is not None  # sent, its answer not read yet
    reporter.update(9)  # the next call on the connection reads that answer first, then its own
    assert held._unread is None and reporter.last is not None and reporter.last.applied
    store.send_create_task("fetch_data", 5, task_id="sent-2")
    store.read_sent()
    assert held._unread is None and len(takes) == 1
    first = store.require("sent-1")
    assert (first.status.value, first.symbol, first.current_status) == ("created", "7203.T", "queued")
    assert store.require("sent-2").progress.total == 5


def test_a_creation_sent_without_waiting_that_redis_refuses_is_logged(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    store = ProgressStore(client)
    client.set(store.keys.counts(0), "not a hash")  # create.lua's HINCRBY on it fails: WRONGTYPE
    with pytest.raises(ValueError, match="task_id"):
        store.send_create_task("fetch_data", task_id="bad id")  # bad arguments still raise at once
    store.send_create_task("fetch_data", task_id="refused")
    with caplog.at_level("WARNING", logger="progress.store"):
        store.read_sent()
    assert "could not create progress record for refused" in caplog.text and "WRONGTYPE" in caplog.text
