"""No record can make reading fail: a record damaged around the store (written raw with HSET: bytes that are not
UTF-8, a status that does not exist, JSON that does not parse, a count that is not a number) is left out of list
pages, read as far as it can be by status, counted in health and logged once, by the sync and the async store."""

from __future__ import annotations

import asyncio
import logging

import pytest

from progress import AsyncProgressStore, ProgressStore, TaskStatus
from tests.progress.conftest import Backend

# field -> raw value; each poisons one record in one way.
POISONS: dict[str, tuple[str, bytes]] = {
    "not-utf8": ("msg", b"\xff\xfe broken"),
    "bad-status": ("status", b"sleeping"),
    "bad-json": ("d:rows", b"{not json"),
    "bad-number": ("cur", b"lots"),
}


@pytest.fixture
def poisoned(store: ProgressStore, backend: Backend) -> dict[str, str]:
    """Two good tasks and one damaged per kind of poison, all in the same index (a list page shows them all)."""
    ids = {"good-1": store.create_task("fetch_data", 5, task_id="good-1").task_id}
    raw = backend.client(decode=False)  # writes bytes as given, around the store
    for name, (field, value) in POISONS.items():
        ids[name] = store.create_task("fetch_data", 5, task_id=name).task_id
        raw.hset(store.keys.record(name), field, value)
    ids["good-2"] = store.create_task("fetch_data", 5, task_id="good-2").task_id
    raw.close()
    return ids


def test_a_list_page_skips_damaged_records_and_shows_every_other(
    store: ProgressStore, poisoned: dict[str, str]
) -> None:
    page = store.get_tasks_list(limit=50)

    assert {t.task_id for t in page.tasks} == {"good-1", "good-2"}
    assert page.pagination.total == 2 + len(POISONS)  # the index still holds them: an operator can find them
    filtered = store.get_tasks_list(status="created", task_type="fetch_data", limit=50)
    assert {t.task_id for t in filtered.tasks} == {"good-1", "good-2"}


def test_each_damaged_record_is_counted_in_health_and_logged_once(
    store: ProgressStore, poisoned: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="progress.store"):
        store.get_tasks_list(limit=50)
        store.get_tasks_list(limit=50)
        store.get_task_status("bad-json")

    assert store.health_check().unreadable_records == len(POISONS)
    logged = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(logged) == len(POISONS) and any("bad-json" in m and "d:rows" in m for m in logged)


def test_a_damaged_record_still_reads_by_id_with_what_can_be_read(
    store: ProgressStore, poisoned: dict[str, str]
) -> None:
    unreadable_text = store.require("not-utf8")
    assert unreadable_text.status is TaskStatus.CREATED and "broken" in unreadable_text.current_status
    bad_status = store.require("bad-status")
    assert bad_status.status is TaskStatus.ERROR and "sleeping" in (bad_status.error_message or "")
    assert store.require("bad-json").processing_details == {}
    assert store.require("bad-number").progress.current == 0


def test_watching_a_damaged_record_starts_with_its_snapshot(store: ProgressStore, poisoned: dict[str, str]) -> None:
    first = next(iter(store.watch("not-utf8", timeout=1)))

    assert first.kind == "snapshot" and first.task_id == "not-utf8"


def test_deleting_a_damaged_record_takes_it_out_of_the_health_count(
    store: ProgressStore, poisoned: dict[str, str]
) -> None:
    store.get_tasks_list(limit=50)

    assert store.delete_task("bad-json")
    assert store.health_check().unreadable_records == len(POISONS) - 1


def test_the_async_store_lists_reads_and_counts_the_same_way(
    backend: Backend, store: ProgressStore, poisoned: dict[str, str]
) -> None:
    async def run() -> None:
        client = backend.async_client()
        try:
            astore = AsyncProgressStore(client, config=backend.config())
            page = await astore.get_tasks_list(limit=50)
            assert {t.task_id for t in page.tasks} == {"good-1", "good-2"}
            assert (await astore.require("not-utf8")).task_id == "not-utf8"
            assert (await astore.health_check()).unreadable_records == len(POISONS)
        finally:
            await client.aclose()

    asyncio.run(run())
