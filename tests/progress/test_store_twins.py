"""ProgressStore and AsyncProgressStore are twins: the same public methods with the same parameters (the async ones
awaited), and one contract that both keep, run against each on real Redis."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from progress import (
    AsyncProgressStore,
    InvalidTransition,
    NotReplicated,
    ProgressStore,
    StepDefinition,
    TaskStatus,
)
from tests.progress.conftest import Backend


def _public(cls: type) -> dict[str, Any]:
    return {name: inspect.getattr_static(cls, name) for name in dir(cls) if not name.startswith("_")}


def test_both_stores_have_the_same_public_methods_with_the_same_parameters() -> None:
    sync, aio = _public(ProgressStore), _public(AsyncProgressStore)

    assert sorted(sync) == sorted(aio)
    for name, member in sync.items():
        assert _parameters(member)[1:] == _parameters(aio[name])[1:], name  # [0]: the store (self, cls, the core)


def _parameters(member: Any) -> list[tuple[str, Any, Any, Any]]:
    function = member.__func__ if isinstance(member, classmethod) else member
    return [(p.name, p.kind, p.default, p.annotation) for p in inspect.signature(function).parameters.values()]


def test_every_method_that_talks_to_redis_is_awaited_on_the_async_store() -> None:
    for name, member in _public(ProgressStore).items():
        twin = _public(AsyncProgressStore)[name]
        if twin is member or isinstance(member, classmethod):
            continue  # inherited from the sans-I/O core (now_ms), or a constructor
        assert not (inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member)), name
        assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin), name


class _Blocking:
    """The async store behind a blocking face, so one contract runs against both stores."""

    def __init__(self, store: AsyncProgressStore, loop: asyncio.AbstractEventLoop) -> None:
        self._store, self._loop = store, loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not inspect.iscoroutinefunction(attr) and not inspect.isasyncgenfunction(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            return self._iterate(result) if inspect.isasyncgen(result) else self._loop.run_until_complete(result)

        return call

    def _iterate(self, agen: AsyncIterator[Any]) -> Iterator[Any]:
        while True:
            try:
                yield self._loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return




@pytest.fixture(params=["sync", "async"])
def twin(request: pytest.FixtureRequest, redis_client: redis.Redis, backend: Backend) -> Iterator[Any]:
    """Each store in turn on a clean db 0, with a clock the test can move (`twin.clock[0]`)."""
    now = [1_700_000_000.0]
    config = backend.config(retention_s=60)
    if request.param == "sync":
        store: Any = ProgressStore(redis_client, config=config, clock=lambda: now[0])
        store.clock = now
        yield store
        return
    loop = asyncio.new_event_loop()
    client = backend.async_client()
    face: Any = _Blocking(AsyncProgressStore(client, config=config, clock=lambda: now[0]), loop)
    face.clock = now
    yield face
    loop.run_until_complete(client.aclose())
    loop.close()


def test_a_created_task_is_read_back_listed_and_counted(twin: Any) -> None:
    created = twin.create_task("fetch_data", 10, "7203.T", {"user_id": "u1"}, message="queued")

    rec = twin.require(created.task_id)
    assert created.created and rec.status is TaskStatus.CREATED and rec.symbol == "7203.T"
    assert rec.metadata == {"user_id": "u1"} and rec.current_status == "queued"
    assert not twin.create_task("fetch_data", 10, task_id=created.task_id).created  # idempotent
    page = twin.get_tasks_list(status="created", symbol="7203.T")
    assert [t.task_id for t in page.tasks] == [created.task_id] and page.pagination.total == 1
    assert twin.summary()["created"] == 1 and twin.get_task_status("nope") is None


def test_updates_apply_in_order_and_a_refused_transition_raises(twin: Any) -> None:
    tid = twin.create_task("fetch_data", 10).task_id

    assert twin.update_progress(tid, "running", 3, "three", processing_details={"a": 1}).applied
    assert twin.update_progress(tid, current_items=5).progress.current == 5
    with pytest.raises(InvalidTransition):
        twin.update_progress(tid, "created")
    rec = twin.require(tid)
    assert rec.status is TaskStatus.RUNNING and rec.current_status == "three" and rec.processing_details == {"a": 1}


def test_pause_resume_and_cancel_move_the_task_and_a_cancelled_task_takes_no_more_changes(twin: Any) -> None:
    tid = twin.create_task("fetch_data", 10).task_id
    twin.update_progress(tid, "running", 1)

    assert twin.pause_task(tid).status is TaskStatus.PAUSED
    assert twin.resume_task(tid).status is TaskStatus.RUNNING
    assert twin.cancel_task(tid, "operator").status is TaskStatus.CANCELLED
    assert not twin.update_progress(tid, "running", 9).applied
    assert twin.require(tid).current_status == "operator" and twin.require(tid).ignored_updates == 1


def test_defined_steps_are_recorded_pending_and_give_an_eta(twin: Any) -> None:
    tid = twin.create_task("fetch_data").task_id
    twin.update_progress(tid, "running")

    twin.define_steps(tid, [StepDefinition(name="download", estimated_ms=4000), StepDefinition(name="store")])

    rec = twin.require(tid)
    assert [(s.name, s.status) for s in rec.steps] == [("download", "pending"), ("store", "pending")]
    assert rec.eta_seconds == 4.0


def test_delete_removes_a_task_and_cleanup_only_those_ended_past_retention(twin: Any) -> None:
    gone, old, recent, running = (twin.create_task("fetch_data").task_id for _ in range(4))
    assert twin.delete_task(gone) and twin.get_task_status(gone) is None
    twin.update_progress(old, "completed")
    twin.clock[0] += 120  # past the 60 s retention
    twin.update_progress(recent, "completed")
    twin.update_progress(running, "running")

    assert twin.cleanup() == 1
    assert twin.get_task_status(old) is None
    assert twin.get_task_status(recent) is not None and twin.get_task_status(running) is not None
    assert sum(twin.summary().values()) == 2


def test_health_reports_redis_connected_and_the_running_tasks(twin: Any) -> None:
    twin.update_progress(twin.create_task("fetch_data").task_id, "running")

    health = twin.health_check()

    assert health.status == "healthy" and health.dependencies["redis"].status == "connected"
    assert health.active_tasks == 1


def test_watch_replays_a_finished_task_from_its_first_event_and_resumes_after_any_id(twin: Any) -> None:
    tid = twin.create_task("fetch_data", 3, message="queued").task_id
    for i in range(1, 4):
        twin.update_progress(tid, "running", i, f"item {i}")
    twin.update_progress(tid, "completed", 3, "done")

    full = list(twin.watch(tid, after="0-0", timeout=5))
    rest = list(twin.watch(tid, after=full[1].id, timeout=5))
    snapshot = list(twin.watch(tid, timeout=5))

    assert [e.kind for e in full] == ["created", "status", "progress", "progress", "status"]
    assert [e.message for e in full] == ["queued", "item 1", "item 2", "item 3", "done"]
    assert [e.id for e in rest] == [e.id for e in full[2:]]
    assert [(e.kind, e.status) for e in snapshot] == [("snapshot", TaskStatus.COMPLETED)]
    with pytest.raises(ValueError, match="stream event id"):
        list(twin.watch(tid, after="1-1\n"))


def test_watch_follows_a_task_until_it_ends_and_write_is_the_raw_update(twin: Any) -> None:
    tid = twin.create_task("fetch_data", 2).task_id
    written = twin.write(tid, {"status": "running", "current": 1, "message": "one"})
    twin.write(tid, {"status": "completed", "current": 2})

    events = list(twin.watch(tid, after=written.event_id, timeout=5))

    assert written.applied and written.status is TaskStatus.RUNNING
    assert [(e.status, e.current, e.message) for e in events] == [(TaskStatus.COMPLETED, 2, "one")]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_with_replicas_required_creation_and_final_states_wait_for_them_and_routine_progress_does_not(
    kind: str, redis_client: redis.Redis, backend: Backend
) -> None:
    if backend.cluster:
        with pytest.raises(ValueError, match="min_replicas"):
            ProgressStore(redis_client, config=backend.config(min_replicas=1))
        return
    config = backend.config(min_replicas=1, replica_timeout_ms=20)  # the test Redis has no replica: WAIT answers 0
    loop = asyncio.new_event_loop()
    client = backend.async_client()
    store: Any = (ProgressStore(redis_client, config=config) if kind == "sync"
                  else _Blocking(AsyncProgressStore(client, config=config), loop))
    try:
        with pytest.raises(NotReplicated):
            store.create_task("fetch_data", 2, task_id="t1")
        assert store.write("t1", {"status": "running", "current": 1}).applied  # no WAIT: it would raise
        assert store.update_progress("t1", current_items=2).applied
        with pytest.raises(NotReplicated):
            store.cancel_task("t1")
        assert store.require("t1").status is TaskStatus.CANCELLED  # applied on the primary all the same
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
