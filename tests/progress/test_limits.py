"""One set of limits on every write path of the store (progress/limits.py): message length, details/results size,
nesting depth, valid Unicode. Each is checked before anything is written, and the error names the field."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from progress import AsyncProgressStore, InvalidValue, ProgressReporter, ProgressStore, TaskStatus
from progress.limits import default_limits
from tests.progress.conftest import Backend

LIMITS = default_limits()


def _deep(levels: int) -> dict[str, Any]:
    """An object nested `levels` deep, built without recursion."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


# name of the bad member -> (change member, bad value); each bad in exactly one way.
BAD: dict[str, tuple[str, Any]] = {
    "message too long": ("message", "m" * (LIMITS.max_message_chars + 1)),
    "message with a lone surrogate": ("message", "ok \ud800"),
    "message as undecodable bytes": ("message", b"\xff\xfe"),
    "error too long": ("error_message", "e" * (LIMITS.max_error_chars + 1)),
    "details too big": ("details", {"blob": "d" * LIMITS.max_details_bytes}),
    "details too deep": ("details", _deep(LIMITS.max_json_depth + 1)),
    "details nested 100k deep": ("details", _deep(100_000)),
    "details with a lone surrogate key": ("details", {"\udcff": 1}),
    "details with bytes": ("details", {"raw": b"\xff"}),
    "results too big": ("results", {"blob": "r" * LIMITS.max_results_bytes}),
    "results nested 100k deep": ("results", _deep(100_000)),
    "results not JSON": ("results", {"when": {1, 2}}),
}


def _snapshot(client: redis.Redis, store: ProgressStore, tid: str) -> tuple[Any, int]:
    return client.hgetall(store.keys.record(tid)), client.xlen(store.keys.events(tid))


@pytest.fixture
def running(store: ProgressStore) -> str:
    tid = store.create_task("fetch_data", 10).task_id
    store.apply(tid, {"status": "running", "start": True, "message": "running"})
    return tid


@pytest.mark.parametrize("case", list(BAD))
def test_the_store_api_refuses_an_over_limit_or_unencodable_change_naming_the_field_and_writes_nothing(
    store: ProgressStore, redis_client: redis.Redis, running: str, case: str
) -> None:
    member, value = BAD[case]
    before = _snapshot(redis_client, store, running)

    with pytest.raises(InvalidValue) as refused:
        store.apply(running, {"current": 5, member: value})

    assert refused.value.field == member and member in str(refused.value)
    assert _snapshot(redis_client, store, running) == before
    rec = store.require(running)  # the record still reads
    assert rec.progress.current == 0 and rec.status is TaskStatus.RUNNING


@pytest.mark.parametrize("case", list(BAD))
def test_update_progress_refuses_the_same_values_with_a_value_error_naming_the_field(
    store: ProgressStore, redis_client: redis.Redis, running: str, case: str
) -> None:
    member, value = BAD[case]
    keyword = {"details": "processing_details"}.get(member, member)
    before = _snapshot(redis_client, store, running)

    with pytest.raises(ValueError, match=member):
        store.update_progress(running, current_items=5, **{keyword: value})

    assert _snapshot(redis_client, store, running) == before


@pytest.mark.parametrize("case", [c for c in BAD if BAD[c][0] in ("message", "details")])
def test_the_reporter_refuses_an_over_limit_progress_value_and_nothing_of_that_write_is_stored(
    store: ProgressStore, redis_client: redis.Redis, running: str, case: str
) -> None:
    member, value = BAD[case]
    rep = ProgressReporter(store, running, interval=0.0)
    before = _snapshot(redis_client, store, running)

    with pytest.raises(InvalidValue, match=member):
        rep.update(3, **{member: value})

    assert _snapshot(redis_client, store, running) == before
    rep.update(4, message="fine")  # the refused values are not kept pending: the next write goes through
    assert store.require(running).progress.current == 4


@pytest.mark.parametrize("case", ["message too long", "message with a lone surrogate", "message as undecodable bytes"])
def test_create_task_refuses_a_bad_message_and_creates_nothing(
    store: ProgressStore, redis_client: redis.Redis, case: str
) -> None:
    _, value = BAD[case]

    with pytest.raises(ValueError, match="message"):
        store.create_task("fetch_data", 1, task_id="t-bad", message=value)

    assert redis_client.exists(store.keys.record("t-bad")) == 0
    assert store.summary()["created"] == 0


def test_create_task_refuses_metadata_nested_100k_deep_without_recursion_error(
    store: ProgressStore, redis_client: redis.Redis
) -> None:
    with pytest.raises(ValueError, match="metadata"):
        store.create_task("fetch_data", 1, task_id="t-deep", metadata=_deep(100_000))

    assert redis_client.exists(store.keys.record("t-deep")) == 0


def test_the_store_applies_its_configured_limits_not_only_the_defaults(redis_client: redis.Redis) -> None:
    from progress import Limits, StoreConfig

    small = ProgressStore(redis_client, config=StoreConfig(limits=Limits(max_message_chars=10)))
    tid = small.create_task("fetch_data", 1).task_id

    small.apply(tid, {"message": "x" * 10})
    with pytest.raises(InvalidValue, match="longer than 10 characters"):
        small.apply(tid, {"message": "x" * 11})


@pytest.mark.parametrize("case", ["results too big", "results nested 100k deep", "results not JSON"])
def test_a_result_over_the_limits_ends_the_task_error_with_the_reason_never_running(
    store: ProgressStore, running: str, case: str
) -> None:
    _, value = BAD[case]
    rep = ProgressReporter(store, running, interval=0.0)
    rep.update(7)

    with pytest.raises(InvalidValue, match="results"):
        rep.complete(value)

    rec = store.require(running)
    assert rec.status is TaskStatus.ERROR
    assert rec.error_message is not None and "could not be recorded as completed: results:" in rec.error_message
    assert rec.results == {} and rep.finished


def test_a_failure_whose_text_is_over_the_limit_still_ends_the_task_with_the_text_cut(
    store: ProgressStore, running: str
) -> None:
    rep = ProgressReporter(store, running, interval=0.0)

    rep.fail("E" * (LIMITS.max_error_chars * 3) + "\ud800")

    rec = store.require(running)
    assert rec.status is TaskStatus.ERROR and rec.error_message is not None
    assert len(rec.error_message) == LIMITS.max_error_chars and rec.error_message.endswith("(cut)")


def test_the_async_store_refuses_the_same_values(backend: Backend, store: ProgressStore, running: str) -> None:
    async def run() -> None:
        client = backend.async_client()
        try:
            astore = AsyncProgressStore(client, config=backend.config())
            for member, value in BAD.values():
                with pytest.raises(InvalidValue, match=member):
                    await astore.apply(running, {member: value})
        finally:
            await client.aclose()

    asyncio.run(run())
    assert store.require(running).progress.current == 0

