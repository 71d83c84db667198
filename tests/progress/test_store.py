"""The store's seed-001 operations against a real Redis."""

from __future__ import annotations

import itertools

import pytest
import redis

from progress import InvalidTransition, ProgressStore, StoreConfig, TaskNotFound, TaskStatus, can_transition

ALL = list(TaskStatus)


def _task_in(store: ProgressStore, status: TaskStatus) -> str:
    """A task brought to `status` through allowed transitions."""
    tid = store.create_task("fetch_data", 10, "7203.T").task_id
    if status is not TaskStatus.CREATED:
        store.update_progress(tid, status)
    return tid


def test_created_task_reads_back_with_the_seed_status_fields(store: ProgressStore) -> None:
    created = store.create_task("fetch_data", 252, "7203.T", {"period": "1y", "requester": "api_gateway"})
    assert created.status is TaskStatus.CREATED and created.total_items == 252

    body = store.require(created.task_id).model_dump(mode="json")

    for field in ("task_id", "task_type", "symbol", "status", "progress", "current_status", "start_time",
                  "updated_at", "end_time", "processing_time_ms", "estimated_completion", "processing_details",
                  "results", "error_message", "metadata"):
        assert field in body, field
    assert body["progress"] == {"current": 0, "total": 252, "percentage": 0.0}
    assert body["metadata"] == {"period": "1y", "requester": "api_gateway"}
    assert body["created_at"].endswith("+09:00")  # seed timestamps are JST


def test_update_reports_progress_and_percentage_as_the_seed_does(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 252, "7203.T").task_id

    res = store.update_progress(tid, "running", 150, "データを処理しています... (150/252)",
                                processing_details={"processing_rate": "10 items/sec"})

    assert res.applied and res.status is TaskStatus.RUNNING
    assert res.progress.model_dump() == {"current": 150, "total": 252, "percentage": round(150 / 252 * 100, 2)}
    rec = store.require(tid)
    assert rec.current_status == "データを処理しています... (150/252)"
    assert rec.processing_details == {"processing_rate": "10 items/sec"}
    assert rec.start_time is not None


def test_details_and_results_merge_across_updates(store: ProgressStore) -> None:
    tid = _task_in(store, TaskStatus.RUNNING)
    store.update_progress(tid, processing_details={"a": 1})
    store.update_progress(tid, processing_details={"b": 2}, results={"x": 1})
    store.update_progress(tid, "completed", results={"y": 2})
    rec = store.require(tid)
    assert rec.processing_details == {"a": 1, "b": 2}
    assert rec.results == {"x": 1, "y": 2}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(ALL, ALL)))
def test_every_transition_is_applied_or_refused_as_the_rule_says(store: ProgressStore, old: TaskStatus,
                                                                 new: TaskStatus) -> None:
    tid = _task_in(store, old)

    if can_transition(old, new):
        assert store.update_progress(tid, new).applied
        assert store.require(tid).status is new
    elif old.is_terminal:
        # A finished task is never resurrected: the change is ignored and counted, not raised.
        assert not store.update_progress(tid, new).applied
        assert store.require(tid).status is old
        assert store.require(tid).ignored_updates == 1
    else:
        with pytest.raises(InvalidTransition):
            store.update_progress(tid, new)
        assert store.require(tid).status is old


def test_a_late_update_after_completion_is_ignored_and_counted(store: ProgressStore) -> None:
    tid = _task_in(store, TaskStatus.RUNNING)
    store.update_progress(tid, "completed", 10, results={"records_saved": 10})

    late = store.update_progress(tid, "running", 3, "late")

    assert not late.applied
    rec = store.require(tid)
    assert rec.status is TaskStatus.COMPLETED and rec.current_status != "late"
    assert rec.progress.current == 10 and rec.results == {"records_saved": 10}
    assert store.health_check().ignored_updates == 1


def test_creating_an_existing_id_again_changes_nothing(store: ProgressStore) -> None:
    first = store.create_task("fetch_data", 5, task_id="fixed-id")
    store.update_progress("fixed-id", "running", 3)

    again = store.create_task("fetch_data", 99, task_id="fixed-id")

    assert first.created and not again.created and again.status is TaskStatus.RUNNING
    assert store.require("fixed-id").progress.total == 5
    assert store.summary()["running"] == 1 and store.summary()["created"] == 0


def test_unknown_task_reads_as_none_and_updates_raise_not_found(store: ProgressStore) -> None:
    assert store.get_task_status("nope") is None
    with pytest.raises(TaskNotFound):
        store.update_progress("nope", "running")


def test_cancel_ends_a_running_task_and_refuses_a_finished_one_quietly(store: ProgressStore) -> None:
    tid = _task_in(store, TaskStatus.RUNNING)
    assert store.cancel_task(tid).status is TaskStatus.CANCELLED
    rec = store.require(tid)
    assert rec.end_time is not None and rec.processing_time_ms is not None
    assert not store.cancel_task(tid).applied


def test_list_pages_newest_first_with_filters_matching_a_brute_force_filter(redis_client: redis.Redis) -> None:
    clock = itertools.count(1_700_000_000_000)
    st = ProgressStore(redis_client, clock=lambda: next(clock) / 1000)
    made = []
    for i in range(37):
        ttype = ("fetch_data", "backtest")[i % 2]
        symbol = (None, "7203.T", "6758.T")[i % 3]
        tid = st.create_task(ttype, 10, symbol).task_id
        status = (TaskStatus.CREATED, TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.ERROR)[i % 4]
        if status is not TaskStatus.CREATED:
            st.update_progress(tid, status)
        made.append((tid, ttype, symbol, status))
    newest_first = list(reversed(made))

    for status, ttype, symbol in itertools.product([None, "running", "completed"], [None, "backtest"],
                                                   [None, "7203.T"]):
        want = [m[0] for m in newest_first if (status is None or m[3] == status)
                and (ttype is None or m[1] == ttype) and (symbol is None or m[2] == symbol)]
        got: list[str] = []
        page = 1
        while True:
            lst = st.get_tasks_list(status, ttype, symbol, page=page, limit=4)
            assert lst.pagination.total == len(want)
            assert lst.pagination.pages == max(1, -(-len(want) // 4))
            got += [t.task_id for t in lst.tasks]
            if page >= lst.pagination.pages:
                break
            page += 1
        assert got == want, (status, ttype, symbol)


def test_summary_counts_every_status_even_zero(store: ProgressStore) -> None:
    _task_in(store, TaskStatus.RUNNING)
    _task_in(store, TaskStatus.COMPLETED)
    _task_in(store, TaskStatus.COMPLETED)
    assert store.get_tasks_list().summary == {"created": 0, "running": 1, "paused": 0, "completed": 2, "error": 0,
                                              "cancelled": 0}


def test_an_invalid_status_filter_is_refused_with_its_name(store: ProgressStore) -> None:
    with pytest.raises(ValueError, match="bogus"):
        store.get_tasks_list(status="bogus")


def test_cleanup_removes_records_ended_before_the_retention_period_and_nothing_else(
    redis_client: redis.Redis,
) -> None:
    now = [1_700_000_000.0]
    st = ProgressStore(redis_client, config=StoreConfig(retention_s=3600), clock=lambda: now[0])
    old = _task_in(st, TaskStatus.COMPLETED)
    running = _task_in(st, TaskStatus.RUNNING)
    now[0] += 1800
    recent = _task_in(st, TaskStatus.ERROR)
    now[0] += 1801  # `old` ended 3601 s ago, `recent` 1801 s ago

    assert st.cleanup() == 1

    assert st.get_task_status(old) is None
    assert st.get_task_status(recent) is not None and st.get_task_status(running) is not None
    assert st.summary() == {"created": 0, "running": 1, "paused": 0, "completed": 0, "error": 1, "cancelled": 0}
    listed = {t.task_id for t in st.get_tasks_list(limit=100).tasks}
    assert listed == {running, recent}
    assert not redis_client.exists(st.keys.events(old))


def test_metadata_with_secret_looking_keys_is_masked_before_it_is_stored(store: ProgressStore) -> None:
    tid = store.create_task("fetch_data", 1, metadata={"api_key": "k", "nested": {"password": "p"}, "ok": 1}).task_id
    assert store.require(tid).metadata == {"api_key": "***", "nested": {"password": "***"}, "ok": 1}


def test_health_reports_connected_redis_and_todays_tasks(store: ProgressStore) -> None:
    _task_in(store, TaskStatus.RUNNING)
    h = store.health_check()
    assert h.status == "healthy" and h.active_tasks == 1 and h.total_tasks_today == 1
    assert h.dependencies["redis"].status == "connected"


def test_health_reports_unhealthy_when_redis_is_unreachable() -> None:
    from taskrunner.redis_server import free_port

    st = ProgressStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    h = st.health_check()
    assert h.status == "unhealthy" and h.dependencies["redis"].status == "disconnected"


class CountingConnection(redis.Connection):
    """Counts the requests this client sends (a pipeline or a script call is one)."""

    sent = 0

    def send_packed_command(self, command: object, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[arg-type]


def test_one_update_is_one_round_trip_to_redis(redis_base: str) -> None:
    pool = redis.ConnectionPool.from_url(f"{redis_base}/0", decode_responses=True,
                                         connection_class=CountingConnection)
    st = ProgressStore(redis.Redis(connection_pool=pool))
    tid = _task_in(st, TaskStatus.RUNNING)
    st.update_progress(tid, current_items=1)  # the first call may also load the script (NOSCRIPT, then EVAL)

    before = CountingConnection.sent
    st.update_progress(tid, current_items=2, message="two")
    assert CountingConnection.sent - before == 1


def test_cleanup_keeps_a_long_task_that_started_before_the_cutoff_but_ended_recently(
    redis_client: redis.Redis,
) -> None:
    now = [1_700_000_000.0]
    st = ProgressStore(redis_client, config=StoreConfig(retention_s=3600), clock=lambda: now[0])
    long_task = _task_in(st, TaskStatus.RUNNING)
    now[0] += 7200
    st.update_progress(long_task, "completed")
    now[0] += 60

    assert st.cleanup() == 0
    assert st.require(long_task).status is TaskStatus.COMPLETED

    now[0] += 3600
    assert st.cleanup() == 1 and st.get_task_status(long_task) is None


def test_results_and_details_keep_lists_and_nesting_exactly(store: ProgressStore) -> None:
    tid = _task_in(store, TaskStatus.RUNNING)
    payload = {"failed": [], "curve": [{"d": "2024-01-04", "e": 1.5}], "empty": {}, "text": "上昇 \"quoted\""}
    store.update_progress(tid, processing_details={"steps_done": [], "n": 0})
    store.update_progress(tid, "completed", results=payload)
    rec = store.require(tid)
    assert rec.results == payload and rec.processing_details == {"steps_done": [], "n": 0}


def test_the_heartbeat_follows_writes_at_one_second_resolution(redis_client: redis.Redis) -> None:
    now = [1_700_000_000.0]
    st = ProgressStore(redis_client, clock=lambda: now[0])
    tid = _task_in(st, TaskStatus.RUNNING)
    for _ in range(6):  # a write every 0.4 s: the heartbeat must still move forward
        now[0] += 0.4
        st.update_progress(tid, current_items=1)
    score = redis_client.zscore(st.keys.heartbeats(), tid)
    assert score is not None and now[0] * 1000 - score < 1000
    st.update_progress(tid, "completed")
    assert redis_client.zscore(st.keys.heartbeats(), tid) is None


def test_only_whole_secret_words_in_keys_are_masked(store: ProgressStore) -> None:
    meta = {"smtp_password": "p", "apiKey": "k", "access-token": "t", "author": "a", "compass": "c", "tokens_x": 1}
    tid = store.create_task("fetch_data", 1, metadata=meta).task_id
    assert store.require(tid).metadata == {"smtp_password": "***", "apiKey": "***", "access-token": "***",
                                           "author": "a", "compass": "c", "tokens_x": 1}


def test_what_a_task_reports_or_returns_is_masked_too(store: ProgressStore) -> None:
    tid = _task_in(store, TaskStatus.RUNNING)
    store.apply(tid, {"details": {"conn": {"password": "x"}}, "status": "running"})
    store.apply(tid, {"results": {"api_key": "k", "ok": True}, "status": "completed"})
    rec = store.require(tid)
    assert rec.processing_details == {"conn": {"password": "***"}} and rec.results == {"api_key": "***", "ok": True}
