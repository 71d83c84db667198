"""cleanup_expired_analysis through the real session worker: only results past their TTL leave the index."""

from __future__ import annotations

import pytest

from base.keys import AppKeys
from base.settings import get_settings
from progress import ProgressStore, TaskStatus
from worker import load_tasks

load_tasks()
from tasks.analysis.store import analysis_results, now_ms  # noqa: E402
from tasks.analysis.tasks import cleanup_expired_analysis, store_result  # noqa: E402

pytestmark = pytest.mark.integration


def test_cleanup_removes_only_the_results_past_their_ttl(worker_store: ProgressStore) -> None:
    # Given three results stored two hours ago for one hour, and two stored now for an hour
    keys = AppKeys(get_settings().namespace)
    two_hours_ago = now_ms() - 7_200_000
    expired = [f"old-{i}" for i in range(3)]
    live = [f"new-{i}" for i in range(2)]
    for aid in expired:
        store_result(aid, "technical", {"symbol": "7203.T"}, ttl_s=3600, user_id=None, at_ms=two_hours_ago)
    for aid in live:
        store_result(aid, "technical", {"symbol": "7203.T"}, ttl_s=3600, user_id=None)
    assert worker_store.redis.zcard(keys.analysis_index()) == 5

    # When the cleanup runs (two per round trip, so it takes several batches)
    res = cleanup_expired_analysis.delay(batch=2)
    out = res.get(timeout=30)

    # Then exactly the expired ones are gone from the index, and the live results are intact
    assert out["removed"] == 3 and out["remaining"] == 2
    assert sorted(worker_store.redis.zrange(keys.analysis_index(), 0, -1)) == live
    assert all(worker_store.redis.exists(keys.analysis(aid)) == 0 for aid in expired)
    for aid in live:
        stored = analysis_results().get(aid)
        assert stored is not None and stored["analysis_id"] == aid
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and (rec.progress.current, rec.progress.total) == (3, 3)


def test_cleanup_with_nothing_expired_removes_nothing(worker_store: ProgressStore) -> None:
    store_result("fresh", "sentiment", {"score": 0.5}, ttl_s=60, user_id=None)

    out = cleanup_expired_analysis.delay().get(timeout=30)

    assert out["removed"] == 0 and out["remaining"] == 1
    assert analysis_results().get("fresh") is not None
