"""What operators read beyond the seed's list: search by creation range, owner and parent; the task detail with its
attempts, timeline, links and log; the capped per-task log; cascading cancel; the duration histogram."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import redis

from progress import ProgressReporter, ProgressStore, TaskStatus
from progress.cascade import cancel_tree
from progress.detail import task_detail
from progress.links import retried_as_call, run_link
from progress.resume import stream_id
from progress.search import ACTIVE, TaskQuery, matching_ids, search
from progress.tasklog import TaskLog, TaskLogHandler, redact_text


class Clock:
    """A settable clock (seconds since the epoch)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


T0 = 1_750_000_000.0  # a fixed moment: creation times below are T0 + n seconds


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


@pytest.fixture
def clocked(redis_client: redis.Redis) -> tuple[ProgressStore, Clock]:
    """A store on a clean db 0 whose clock the test sets."""
    clock = Clock(T0)
    return ProgressStore(redis_client, clock=clock), clock


def test_a_creation_range_lists_and_counts_exactly_the_tasks_created_inside_it(
    clocked: tuple[ProgressStore, Clock],
) -> None:
    store, clock = clocked
    ids = {}
    for second in range(10):
        clock.t = T0 + second
        ids[second] = store.create_task("fetch_data", 1, "7203.T" if second % 2 else "6758.T").task_id
    store.update_progress(ids[4], "running")
    store.update_progress(ids[5], "error", error_message="boom")

    found = search(store, TaskQuery(created_from=_at(3), created_to=_at(6)), 1, 50)

    assert [t.task_id for t in found.tasks] == [ids[6], ids[5], ids[4], ids[3]]  # both ends included, newest first
    assert found.pagination.total == 4
    assert found.counts == {"created": 2, "running": 1, "paused": 0, "completed": 0, "error": 1, "cancelled": 0}
    assert found.summary["created"] == 8  # the store-wide summary is unchanged by the filters
    by_symbol = search(store, TaskQuery(symbol="7203.T", status=TaskStatus.CREATED, created_to=_at(4)), 1, 50)
    assert [t.task_id for t in by_symbol.tasks] == [ids[3], ids[1]]
    with pytest.raises(ValueError, match="created_from"):
        TaskQuery(created_from=_at(5), created_to=_at(1))


def test_paging_through_every_task_visits_each_once_and_the_counts_equal_the_summary(store: ProgressStore) -> None:
    made = [store.create_task("count", 1).task_id for _ in range(230)]
    for tid in made[:7]:
        store.update_progress(tid, "error", error_message="x")
    seen: list[str] = []
    page = 1
    while True:
        found = search(store, TaskQuery(), page, 100)
        seen += [t.task_id for t in found.tasks]
        if page >= found.pagination.pages:
            break
        page += 1
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen)) == 230
    assert found.counts == found.summary == store.summary()


def test_a_users_tasks_and_a_batchs_children_have_their_own_indexes(store: ProgressStore) -> None:
    alice = [store.create_task("count", metadata={"user_id": "alice"}).task_id for _ in range(3)]
    store.create_task("count", metadata={"user_id": "bob"})
    parent = store.create_task("batch").task_id
    kids = [store.create_task("fetch_data", metadata={"parent_task_id": parent}).task_id for _ in range(2)]
    store.update_progress(alice[0], "completed")
    store.update_progress(kids[0], "running")

    mine = search(store, TaskQuery(user="alice"), 1, 50)
    assert {t.task_id for t in mine.tasks} == set(alice) and mine.counts["completed"] == 1
    assert {t.task_id for t in search(store, TaskQuery(parent=parent), 1, 50).tasks} == set(kids)
    assert matching_ids(store, TaskQuery(parent=parent), (TaskStatus.RUNNING,), 10) == [kids[0]]
    store.delete_task(kids[1])  # deleting removes it from the parent's index too
    assert [t.task_id for t in search(store, TaskQuery(parent=parent), 1, 50).tasks] == [kids[0]]
    with pytest.raises(ValueError, match="user and parent"):
        TaskQuery(user="alice", task_type="count")


def test_each_attempt_is_recorded_with_its_worker_start_end_and_outcome(clocked: tuple[ProgressStore, Clock]) -> None:
    store, clock = clocked
    tid = store.create_task("fetch_data", 10).task_id
    first = ProgressReporter(store, tid, interval=0)
    first.start(worker="w1@host")
    clock.t += 2
    first.retrying("TransientError: try again", countdown=1)
    clock.t += 1
    lost = ProgressReporter(store, tid, interval=0)
    lost.start(worker="w2@host")  # this attempt's worker dies: the next start finds it open
    clock.t += 5
    last = ProgressReporter(store, tid, interval=0)
    last.start(worker="w3@host")
    clock.t += 1
    last.fail("ValueError: bad data")

    attempts = task_detail(store, tid).attempts

    assert [(a.attempt, a.worker, a.outcome) for a in attempts] == [
        (1, "w1@host", "retry"), (2, "w2@host", "lost"), (3, "w3@host", "error")]
    assert attempts[0].error == "TransientError: try again" and attempts[2].error == "ValueError: bad data"
    assert [a.started_at for a in attempts] == [_at(0), _at(3), _at(8)]
    assert [a.ended_at for a in attempts] == [_at(2), _at(8), _at(9)]


def test_the_detail_has_arguments_links_children_timeline_and_the_log_tail(store: ProgressStore) -> None:
    parent = store.create_task("batch", 2, metadata={"args": {"symbols": ["7203.T"], "api_key": "k"},
                                                     "user_id": "alice"}).task_id
    child = store.create_task("fetch_data", metadata={"parent_task_id": parent}).task_id
    reporter = ProgressReporter(store, parent, interval=0)
    reporter.start(worker="w1")
    reporter.update(1, message="half")
    reporter.fail("RuntimeError: broke", details={"traceback": "Traceback (most recent call last):\n..."})
    run_link(store.redis, retried_as_call(store.keys, parent, "the-retry"))
    TaskLog(store.redis, store.keys).append(parent, "INFO", "hello", "tasks.x")

    d = task_detail(store, parent)

    assert d.arguments == {"symbols": ["7203.T"], "api_key": "***"}  # masked when stored
    assert d.owner == "alice" and d.retried_as == "the-retry" and d.retryable
    assert [c.task_id for c in d.children] == [child] and d.children[0].status is TaskStatus.CREATED
    assert [(e.kind, e.status.value) for e in d.timeline] == [
        ("created", "created"), ("status", "running"), ("progress", "running"), ("status", "error")]
    assert d.timeline[2].message == "half" and d.timeline[3].message == "error"
    assert d.error is not None and d.error.traceback and d.error.message == "RuntimeError: broke"
    assert [(line.level, line.message) for line in d.logs] == [("INFO", "hello")]
    assert run_link(store.redis, retried_as_call(store.keys, "gone", "x")) == 0
    assert not store.redis.exists(store.keys.record("gone"))  # a link never creates a stub record


def test_a_task_log_is_capped_expires_and_masks_secrets(store: ProgressStore) -> None:
    log = TaskLog(store.redis, store.keys, maxlen=10, ttl_s=120)
    for i in range(500):
        log.append("t1", "INFO", f"line {i} password=hunter2 url=redis://:pw@h:6379/0")
    lines = log.read("t1")
    # MAXLEN ~ trims in whole nodes: bounded near the cap, never the 500 written
    assert 10 <= len(lines) < 250 and lines[-1].message.startswith("line 499")
    assert "hunter2" not in lines[-1].message and ":pw@" not in lines[-1].message
    assert 0 < int(store.redis.ttl(store.keys.task_log("t1"))) <= 120
    assert log.read("t1", after=lines[-2].id) == lines[-1:]


def test_text_redaction_masks_assignments_bearer_tokens_and_url_passwords() -> None:
    masked = redact_text('token="abc def" {"api_key": "zz"} Authorization: Bearer abcdefghijk author=bob '
                         "amqp://user:secret@rabbit//")
    assert "abc def" not in masked and '"zz"' not in masked and "abcdefghijk" not in masked
    assert "secret@" not in masked and "author=bob" in masked


def test_the_log_handler_sends_a_tasks_records_and_the_reporters_lines_to_its_log(store: ProgressStore) -> None:
    log = TaskLog(store.redis, store.keys)
    current: list[str | None] = [None]
    handler = TaskLogHandler(lambda: log, lambda: current[0])
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        tid = store.create_task("count").task_id
        logging.getLogger("outside").warning("not in a task")
        current[0] = tid
        logging.getLogger("tasks.count").warning("inside %s", "the task")
        current[0] = None
        ProgressReporter(store, tid).log("from the reporter")  # names its task itself
    finally:
        root.removeHandler(handler)
    assert [(line.logger, line.message) for line in log.read(tid)] == [
        ("tasks.count", "inside the task"), ("progress.task", "from the reporter")]


def test_cancelling_a_parent_cancels_its_active_children_and_grandchildren_before_itself(store: ProgressStore) -> None:
    parent = store.create_task("batch").task_id
    store.update_progress(parent, "running")
    queued = store.create_task("fetch_data", metadata={"parent_task_id": parent}).task_id
    running = store.create_task("fetch_data", metadata={"parent_task_id": parent}).task_id
    store.update_progress(running, "running")
    done = store.create_task("fetch_data", metadata={"parent_task_id": parent}).task_id
    store.update_progress(done, "completed")
    grandchild = store.create_task("count", metadata={"parent_task_id": running}).task_id
    seen: list[str] = []

    cascade = cancel_tree(store, parent, "cancelled by ops", on_cancelled=seen.append)

    assert cascade.result.applied and cascade.result.status is TaskStatus.CANCELLED
    assert sorted(cascade.children) == sorted([queued, running, grandchild]) == sorted(seen)
    assert {t: store.require(t).status for t in (queued, running, done, grandchild)} == {
        queued: TaskStatus.CANCELLED, running: TaskStatus.CANCELLED, done: TaskStatus.COMPLETED,
        grandchild: TaskStatus.CANCELLED}
    assert matching_ids(store, TaskQuery(parent=parent), ACTIVE, 10) == []
    # The parent ended last: its end is not before any child's
    ends = {t: store.require(t).end_time for t in (parent, queued, running, grandchild)}
    assert all(ends[parent] >= ends[t] for t in (queued, running, grandchild))  # type: ignore[operator]
    # Every bucket has its own all-tasks stream: merged by entry id (time), they give the order of the ends. Ids of
    # different buckets' streams are only comparable by their millisecond (the sequence is per stream).
    entries = [(stream_id(eid), fields) for b in store.keys.all_buckets()
               for eid, fields in store.redis.xrange(store.keys.all_events(b))]
    cancels = sorted((eid, fields["i"]) for eid, fields in entries if fields.get("s") == "cancelled")
    assert {tid for _, tid in cancels} == {parent, queued, running, grandchild}
    parent_at = next(eid for eid, tid in cancels if tid == parent)
    if store.keys.buckets == 1:
        assert cancels[-1][1] == parent
    else:
        assert all(parent_at[0] >= eid[0] for eid, _ in cancels)


def test_ended_tasks_fill_the_duration_histogram_and_updates_are_counted(clocked: tuple[ProgressStore, Clock]) -> None:
    store, clock = clocked
    for run_s, status in ((0.05, "completed"), (3, "completed"), (4000, "error")):
        tid = store.create_task("backtest").task_id
        store.update_progress(tid, "running")
        clock.t += run_s
        store.update_progress(tid, status)
    store.update_progress(tid, "running")  # ignored: ended

    hist = store.redis.hgetall(store.keys.duration_histogram())
    assert hist["backtest|completed|0.1"] == "1" and hist["backtest|completed|5"] == "1"
    assert hist["backtest|error|+Inf"] == "1" and float(hist["backtest|completed|sum"]) == pytest.approx(3.05)
    stats = store.redis.hgetall(store.keys.stats())
    assert stats["written_updates"] == "6" and stats["ignored_updates"] == "1"
    assert store.redis.smembers(store.keys.types()) == {"backtest"}
