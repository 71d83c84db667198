"""Buckets: every key of a task shares its bucket's hash tag (one cluster slot); reads span every bucket."""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.crc import key_slot

from progress import ProgressStore, TaskStatus, ops
from progress.clients import server_version
from progress.hints import index_keys, prefixes_of
from progress.ops import UPDATE_FIXED_KEYS
from tests.helpers import script_replies
from tests.progress.conftest import Backend


def _all_keys(client: Any) -> list[str]:
    return [str(k) for k in client.scan_iter(count=1000)]


def test_every_key_a_task_leaves_is_in_its_buckets_slot(store: ProgressStore, redis_client: Any) -> None:
    for i in range(12):
        tid = f"t{i}"
        store.create_task("fetch_data", 3, symbol="7203.T", task_id=tid, task_name="tasks.market_data.fetch_data")
        store.update_progress(tid, "running", 1)
        if i % 3 == 0:
            store.update_progress(tid, "completed")
    slots = {key_slot(store.keys.tag(b).encode()) for b in store.keys.all_buckets()}
    keys = _all_keys(redis_client)
    assert keys and all(key_slot(k.encode()) in slots for k in keys if k != store.keys.layout())
    for i in range(12):
        tid = f"t{i}"
        tag = store.keys.task_tag(tid)
        assert redis_client.exists(f"{tag}:task:{tid}") and redis_client.exists(f"{tag}:events:{tid}")


def test_tasks_spread_over_the_buckets_and_the_summary_sums_them(store: ProgressStore, backend: Backend) -> None:
    for i in range(40):
        store.create_task("fetch_data", 1, task_id=f"s{i}")
    for i in range(0, 40, 4):
        store.update_progress(f"s{i}", "running")
    used = {store.keys.bucket(f"s{i}") for i in range(40)}
    assert len(used) == backend.buckets  # 40 ids reach every bucket
    assert store.summary() == {**dict.fromkeys([s.value for s in TaskStatus], 0), "created": 30, "running": 10}
    assert store.health_check().memory_usage.tasks_in_memory == 40


def test_pages_by_cursor_and_by_number_are_the_same_newest_first_sequence(store: ProgressStore) -> None:
    ids = [store.create_task("backtest", 1, task_id=f"p{i:02d}").task_id for i in range(23)]
    store.update_progress("p05", "running")  # another status index: the merge spans statuses and buckets
    by_number = [t.task_id for page in range(1, 6) for t in store.get_tasks_list(page=page, limit=5).tasks]
    by_cursor: list[str] = []
    after = None
    while True:
        listing = store.get_tasks_list(limit=5, after=after)
        by_cursor += [t.task_id for t in listing.tasks]
        if listing.next_cursor is None:
            break
        after = listing.next_cursor
    assert by_number == by_cursor and sorted(by_cursor) == sorted(ids)
    # Newest first by creation ms; within one ms only per bucket (the tie-breaker lives in each bucket's slot).
    created = [store.require(t).created_at for t in by_cursor]
    assert created == sorted(created, reverse=True)


def test_a_filtered_page_by_cursor_reads_each_bucket_from_the_cursor(store: ProgressStore) -> None:
    for i in range(9):
        store.create_task("fetch_data", 1, symbol="7203.T" if i % 2 else "6758.T", task_id=f"f{i}")
    first = store.get_tasks_list(symbol="7203.T", limit=2)
    rest = store.get_tasks_list(symbol="7203.T", limit=2, after=first.next_cursor)
    assert [t.task_id for t in first.tasks + rest.tasks] == ["f7", "f5", "f3", "f1"]
    assert rest.next_cursor is not None and store.get_tasks_list(symbol="7203.T", after=rest.next_cursor).tasks == []


def test_a_move_sent_without_its_index_keys_writes_nothing_and_names_the_prefixes(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 4, symbol="7203.T", task_id="m1").task_id
    fresh = ProgressStore(store.redis, config=store.config)  # another process: it has not seen the task
    call = fresh.keys.task_names(tid)
    bare = ops.update_call(fresh.config, fresh.keys, tid, {"status": "running"}, fresh.now_ms())
    reply = fresh._call(bare)
    assert reply[0] == "keys" and reply[1] == "created"
    assert store.require(tid).status is TaskStatus.CREATED  # nothing was written
    prefixes = prefixes_of(reply[3])
    assert set(prefixes) == set(store.keys.status_prefixes("fetch_data", "7203.T", bucket=call[3]))
    assert fresh.update_progress(tid, "running").applied  # the store asks, then sends them: applied once
    assert store.get_tasks_list(status="running").pagination.total == 1
    assert store.get_tasks_list(status="created").pagination.total == 0
    # The second move from that process goes at once, with exactly the keys it needs.
    moved = ops.update_call(fresh.config, fresh.keys, tid, {"status": "completed"}, fresh.now_ms(), ops.PUBLISH,
                            fresh.hints.move_keys(tid, "completed"))
    assert moved.keys[UPDATE_FIXED_KEYS:] == index_keys(prefixes, "running", "completed")


def test_a_page_cursor_that_is_not_one_is_refused_naming_it(store: ProgressStore) -> None:
    with pytest.raises(ValueError, match="after"):
        store.get_tasks_list(after="yesterday")


def test_a_tasks_events_reach_a_subscriber_of_its_channel_sharded_where_the_cluster_has_shard_channels(
    store: ProgressStore, redis_client: Any, backend: Backend
) -> None:
    version = int(server_version(redis_client.info("server")).split(".")[0])
    assert store.publish == ("SPUBLISH" if backend.cluster and version >= 7 else "PUBLISH")
    channel = store.keys.channel("c1")
    pubsub = redis_client.pubsub()
    sharded = store.publish == "SPUBLISH"
    if sharded:
        pubsub.ssubscribe(channel)
    else:
        pubsub.subscribe(channel)
    got: list[str] = []
    try:
        time.sleep(0.1)
        store.create_task("fetch_data", 2, task_id="c1")
        store.update_progress("c1", "running", 1)
        deadline = time.monotonic() + 2
        while len(got) < 2 and time.monotonic() < deadline:
            msg = pubsub.get_sharded_message(timeout=0.1) if sharded else pubsub.get_message(timeout=0.1)
            if msg and msg["type"] in ("message", "smessage"):
                got.append(msg["data"])
    finally:
        pubsub.close()
    assert len(got) == 2 and '"status":"running"' in got[1]


def test_a_process_told_what_a_task_was_created_with_starts_it_in_one_call(store: ProgressStore) -> None:
    # Given a task created by the publisher with a type, name, symbol, owner and parent batch
    meta = {"user_id": "alice", "parent_task_id": "batch-1"}
    tid = store.create_task("fetch_data", 4, symbol="7203.T", task_id="e1", task_name="tasks.market.fetch_data",
                            metadata=meta).task_id
    # When a worker process that never saw it is told those fields, and starts it
    worker = ProgressStore(store.redis, config=store.config)
    replies = script_replies(worker)
    worker.expect(tid, "fetch_data", task_name="tasks.market.fetch_data", symbol="7203.T", metadata=meta)
    worker.write(tid, {"status": "running"})
    # Then the move went in one call, and every index (owner's and batch's included) moved with it
    assert len(replies) == 1 and replies[0] != "keys", replies
    for found in (store.get_tasks_list(status="running"), store.get_tasks_list(status="running", symbol="7203.T")):
        assert [t.task_id for t in found.tasks] == [tid]
    assert store.get_tasks_list(status="created").pagination.total == 0


def test_a_wrong_guess_of_a_tasks_fields_costs_a_second_call_and_still_moves_every_index(
    store: ProgressStore,
) -> None:
    tid = store.create_task("fetch_data", 4, symbol="7203.T", task_id="e2").task_id
    worker = ProgressStore(store.redis, config=store.config)
    replies = script_replies(worker)
    worker.expect(tid, "fetch_data", symbol="6758.T")  # not the symbol it was created with
    worker.write(tid, {"status": "running"})
    assert replies[0] == "keys" and len(replies) == 2
    assert [t.task_id for t in store.get_tasks_list(status="running", symbol="7203.T").tasks] == [tid]
    assert store.get_tasks_list(status="running", symbol="6758.T").pagination.total == 0
