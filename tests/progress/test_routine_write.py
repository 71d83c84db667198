"""The routine write (progress.lua): a running task's bare progress written by a small script with update.lua's
semantics for those fields. It refuses what is not its to write (an ended, created or superseded task), reports a
pause back, and its event reaches the task's stream, its channel and watchers exactly as update.lua's would."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from progress import ProgressReporter, ProgressStore, ops, routine
from progress.errors import InvalidValue, TaskCancelled
from progress.models import ProgressInfo, UpdateResult, built
from progress.status import TaskStatus
from tests.progress.conftest import Backend

MESSAGE = 'phase "two" \\ 東証 \u2028 done'


def _progress_lua(store: ProgressStore, tid: str, change: dict[str, Any]) -> list[Any]:
    """progress.lua's own reply to a change (not handed on to update.lua)."""
    call = routine.progress_call(store.config, store.keys, tid, change, store.now_ms(), store.publish)
    assert call.script == "progress"
    reply: list[Any] = store._call(call)
    return reply


def _running(store: ProgressStore, total: int = 10) -> tuple[str, ProgressReporter]:
    tid = store.create_task("fetch_data", total).task_id
    reporter = ProgressReporter(store, tid, interval=0.0)
    reporter.start(total=total)
    return tid, reporter


def test_only_bare_progress_is_routine() -> None:
    assert routine.is_routine({"current": 3, "total": 9, "message": "m", "details": {"a": 1}, "attempt": 2})
    assert routine.is_routine({"current": 3, "status": "running", "soft": True, "start": False, "step": None})
    assert not routine.is_routine({"current": 3, "status": "running"})  # an operator's resume: a status change
    assert not routine.is_routine({"status": "completed", "soft": True})
    assert not routine.is_routine({"current": 3, "incr": 1})
    assert not routine.is_routine({"step": {"action": "start", "name": "x"}})
    assert not routine.is_routine({"status": "running", "soft": True, "start": True})


def test_a_late_routine_write_to_an_ended_task_is_left_to_update_lua_which_refuses_it(
    store: ProgressStore, redis_client: Any
) -> None:
    tid, reporter = _running(store)
    reporter.update(4)
    reporter.complete({"n": 4})
    record_before = redis_client.hgetall(store.keys.record(tid))
    stream_before = redis_client.xlen(store.keys.events(tid))

    reply = _progress_lua(store, tid, {"current": 9, "message": "late", "status": "running", "soft": True})
    assert reply[:2] == [routine.FULL, "completed"]
    assert redis_client.hgetall(store.keys.record(tid)) == record_before  # nothing written

    written = store.write(tid, {"current": 9, "message": "late", "status": "running", "soft": True})
    assert not written.applied and written.status is TaskStatus.COMPLETED
    record = store.require(tid)
    assert record.status is TaskStatus.COMPLETED and record.progress.current == 4
    assert record.current_status == "completed" and record.ignored_updates == 1
    assert redis_client.xlen(store.keys.events(tid)) == stream_before


def test_a_cancel_is_seen_through_a_routine_write(store: ProgressStore) -> None:
    tid, reporter = _running(store)
    reporter.update(2)
    store.cancel_task(tid, "operator")

    assert _progress_lua(store, tid, {"current": 3, "status": "running", "soft": True})[:2] == [routine.FULL,
                                                                                               "cancelled"]
    with pytest.raises(TaskCancelled):
        reporter.update(3)
    assert store.require(tid).progress.current == 2 and store.require(tid).status is TaskStatus.CANCELLED


def test_a_routine_write_to_a_paused_task_records_the_numbers_and_answers_paused(store: ProgressStore) -> None:
    tid, reporter = _running(store)
    store.pause_task(tid)

    reply = _progress_lua(store, tid, {"current": 5, "status": "running", "soft": True, "attempt": reporter.attempt})
    assert reply[:2] == ["ok", "paused"]  # a worker's progress never undoes the pause; the reporter then waits
    record = store.require(tid)
    assert record.status is TaskStatus.PAUSED and record.progress.current == 5


def test_a_routine_write_from_a_superseded_attempt_writes_nothing_and_a_new_attempt_never_goes_below_the_floor(
    store: ProgressStore, redis_client: Any
) -> None:
    tid, first = _running(store)
    first.update(6)
    second = ProgressReporter(store, tid, interval=0.0)
    second.start()

    assert _progress_lua(store, tid, {"current": 9, "attempt": first.attempt})[0] == "superseded"
    assert redis_client.hget(store.keys.record(tid), "cur") == "6"
    assert _progress_lua(store, tid, {"current": 1, "attempt": second.attempt})[0] == "ok"
    assert store.require(tid).progress.current == 6  # the earlier attempt's high mark
    assert redis_client.hget(store.keys.stats(store.keys.bucket(tid)), "superseded_writes") == "1"


def test_a_routine_write_to_a_task_not_started_yet_is_left_to_update_lua(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 10).task_id
    assert _progress_lua(store, tid, {"current": 1})[:2] == [routine.FULL, "created"]
    assert _progress_lua(store, "nobody", {"current": 1})[0] == "missing"
    assert store.update_progress(tid, current_items=1).progress.current == 1  # update.lua wrote it
    assert store.require(tid).status is TaskStatus.CREATED


def test_a_routine_write_records_what_update_lua_records_for_the_same_change(
    store: ProgressStore, redis_client: Any
) -> None:
    slim, slim_rep = _running(store)
    full, full_rep = _running(store)
    change = {"current": 7, "total": 12, "message": MESSAGE, "details": {"rows": [1, {}], "s": "x"},
              "status": "running", "soft": True}

    slim_reply = _progress_lua(store, slim, {**change, "attempt": slim_rep.attempt})
    full_reply = store._call(ops.update_call(store.config, store.keys, full, {**change, "attempt": full_rep.attempt},
                                              store.now_ms(), store.publish))

    assert slim_reply[0] == full_reply[0] == "ok" and slim_reply[1] == full_reply[1] == "running"
    slim_body, full_body = json.loads(slim_reply[3]), json.loads(full_reply[3])
    assert slim_body == {**full_body, "task_id": slim, "timestamp": slim_body["timestamp"]}
    slim_entry = redis_client.xrange(store.keys.events(slim))[-1][1]
    full_entry = redis_client.xrange(store.keys.events(full))[-1][1]
    assert slim_entry == full_entry
    ignored = {"id", "created", "updated", "hb", "ev", "sidx", "started", "att", "floor"}
    slim_rec = {k: v for k, v in redis_client.hgetall(store.keys.record(slim)).items() if k not in ignored}
    full_rec = {k: v for k, v in redis_client.hgetall(store.keys.record(full)).items() if k not in ignored}
    assert slim_rec == full_rec
    assert store.require(slim).processing_details == {"rows": [1, {}], "s": "x"}


def test_a_routine_writes_event_reaches_the_stream_the_channel_and_watchers(
    store: ProgressStore, redis_client: Any
) -> None:
    tid, reporter = _running(store)
    after = redis_client.xrange(store.keys.events(tid))[-1][0]
    pubsub = redis_client.pubsub()
    sharded = store.publish == "SPUBLISH"
    channel = store.keys.channel(tid)
    pubsub.ssubscribe(channel) if sharded else pubsub.subscribe(channel)
    got: list[str] = []
    try:
        time.sleep(0.1)
        reply = _progress_lua(store, tid, {"current": 3, "message": MESSAGE, "attempt": reporter.attempt})
        deadline = time.monotonic() + 2
        while not got and time.monotonic() < deadline:
            msg = pubsub.get_sharded_message(timeout=0.1) if sharded else pubsub.get_message(timeout=0.1)
            if msg and msg["type"] in ("message", "smessage"):
                got.append(msg["data"])
    finally:
        pubsub.close()

    assert got == [f"{reply[2]} {reply[3]}"]
    published = json.loads(got[0].split(" ", 1)[1])
    assert published["current"] == 3 and published["message"] == MESSAGE and published["kind"] == "progress"
    (event,) = list(store.watch(tid, after=after, timeout=1))
    assert (event.id, event.current, event.total, event.message) == (reply[2], 3, 10, MESSAGE)


def test_a_routine_write_with_a_bad_member_is_refused_naming_it_and_writes_nothing(
    store: ProgressStore, redis_client: Any
) -> None:
    tid, _ = _running(store)
    before = redis_client.hgetall(store.keys.record(tid))
    with pytest.raises(InvalidValue, match="current"):
        store.write(tid, {"current": "7", "status": "running", "soft": True})
    with pytest.raises(InvalidValue, match="details"):
        store.write(tid, {"current": 7, "details": ["not", "an", "object"]})
    assert redis_client.hgetall(store.keys.record(tid)) == before


def test_the_reporters_routine_write_runs_progress_lua_not_update_lua(backend: Backend, store: ProgressStore) -> None:
    if backend.cluster:
        pytest.skip("SCRIPT EXISTS answers per node; one server shows which script ran")
    client: redis.Redis = store.redis
    tid, reporter = _running(store)
    client.script_flush()
    reporter.update(4)
    progress_sha, update_sha = store._scripts["progress"].sha, store._scripts["update"].sha
    assert client.script_exists(progress_sha, update_sha) == [True, False]
    assert store.require(tid).progress.current == 4


def test_a_write_reply_built_without_validation_equals_the_validated_model(store: ProgressStore) -> None:
    tid, _ = _running(store)
    result = store.update_progress(tid, current_items=3, message="m")
    values = {name: getattr(result, name) for name in UpdateResult.model_fields}
    values["progress"] = built(ProgressInfo, dict(result.progress))
    fast, validated = built(UpdateResult, values), UpdateResult.model_validate(result.model_dump())
    assert fast == validated and fast.model_dump_json() == validated.model_dump_json() == result.model_dump_json()
    assert fast.model_copy(update={"applied": False}).applied is False and fast.model_fields_set == set(values)
    assert (result.progress.current, result.progress.total, result.progress.percentage) == (3, 10, 30.0)
