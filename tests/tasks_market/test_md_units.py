"""The market data helpers without a worker: error mapping, bar checks, batch summary, bar and alert storage."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import redis

from base.keys import AppKeys
from market import Bar, CsvProvider, MarketDataError, Period, PriceDataNotFoundError, SyntheticProvider
from progress import TaskStatus
from tasks.market import tasks as market_data
from tasks.market.alerts import (
    FiredAlert,
    PriceAlert,
    add_alert,
    fired_alerts,
    list_alerts,
    mark_fired,
    remove_alert,
    unfired,
)
from tasks.market.batch import summarize
from tasks.market.fetch import ProviderConfigError, check_bars, download, make_provider
from tasks.market.store import BarStore, LastPrice
from tasks.market.tasks import fetch_data
from tracking.errors import TransientError
from worker.store import progress_store

END = dt.date(2024, 6, 28)


class FailingProvider:
    """A provider whose every fetch raises the given exception."""

    name = "failing"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def fetch(self, symbol: str, period: str, end: dt.date | None = None) -> list[Bar]:
        raise self.exc


@pytest.mark.parametrize("exc", [TimeoutError("read timed out"), ConnectionResetError("reset"),
                                 redis.ConnectionError("gone")])
def test_network_failures_while_downloading_become_transient_errors(exc: Exception) -> None:
    with pytest.raises(TransientError, match=r"failing fetch of 7203\.T failed"):
        download(FailingProvider(exc), "7203.T", Period.ONE_MONTH, END)


@pytest.mark.parametrize("exc", [PriceDataNotFoundError("no data"), ValueError("a bug")])
def test_missing_data_and_bugs_are_not_retried(exc: Exception) -> None:
    # PriceDataNotFoundError is an OSError too: the market family must win over the I/O rule
    with pytest.raises(type(exc)):
        download(FailingProvider(exc), "7203.T", Period.ONE_MONTH, END)


def test_fetch_data_retries_transient_errors_with_capped_backoff() -> None:
    assert fetch_data.autoretry_for == (TransientError,)
    assert (fetch_data.max_retries, fetch_data.retry_backoff, fetch_data.retry_backoff_max) == (3, True, 60)


def test_a_batch_child_turns_its_last_transient_failure_into_an_error_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(market_data, "make_provider", lambda *a, **k: FailingProvider(TimeoutError("slow")))
    kwargs = {"symbol": "7203.T", "period": "1mo"}
    parent = progress_store().create_task("batch", task_id=f"parent-{uuid.uuid4()}")

    # Alone, the last attempt raises (Celery records the failure)...
    alone = fetch_data.apply(kwargs=kwargs, retries=3)
    assert isinstance(alone.result, TransientError)
    # ...but in a batch it returns a result so the chord callback still runs, and its own record says error.
    child = fetch_data.apply(kwargs={**kwargs, "parent_task_id": parent.task_id}, retries=3)
    assert child.result == {"symbol": "7203.T", "success": False,
                            "error": "TransientError: failing fetch of 7203.T failed: TimeoutError: slow"}
    rec = progress_store().require(child.id)
    assert rec.status is TaskStatus.ERROR and rec.error_message == child.result["error"]
    assert progress_store().require(parent.task_id).progress.current == 1


def test_check_bars_keeps_sessions_once_and_says_why_it_refused_the_rest() -> None:
    good = SyntheticProvider().fetch("7203.T", "1mo", END)
    weekend = good[0].model_copy(update={"date": dt.date(2024, 6, 1)})
    future = good[0].model_copy(update={"date": dt.date(2024, 7, 1)})
    other = good[1].model_copy(update={"symbol": "6758.T"})

    checked = check_bars("7203.T", [good[3], *good, weekend, good[3], future, other], today=END)

    assert checked.bars == good and checked.invalid_count == 5
    assert checked.invalid == {good[3].date.isoformat(): "duplicate day", "2024-06-01": "not a TSE trading day",
                               "2024-07-01": "in the future", good[1].date.isoformat(): "bar of 6758.T, not 7203.T"}


def test_the_csv_provider_needs_a_directory_from_the_call_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TASKRUNNER_CSV_DIR", raising=False)
    with pytest.raises(ProviderConfigError, match="TASKRUNNER_CSV_DIR"):
        make_provider("csv")
    assert issubclass(ProviderConfigError, MarketDataError)

    monkeypatch.setenv("TASKRUNNER_CSV_DIR", str(tmp_path))
    provider = make_provider("csv")
    assert isinstance(provider, CsvProvider) and provider.directory == tmp_path


def test_the_batch_summary_counts_successes_failures_and_missing_results() -> None:
    results = [{"symbol": "1111.T", "success": True, "records_saved": 21, "records_skipped": 2, "last_price": 10.0},
               {"symbol": "2222.T", "success": False, "error": "PriceDataNotFoundError: none"}]

    summary = summarize(results, ["1111.T", "2222.T", "3333.T"])

    assert (summary.symbols, summary.succeeded, summary.failed) == (3, 1, 2)
    assert (summary.records_saved, summary.records_skipped, summary.success_rate) == (21, 2, 33.33)
    assert summary.failures == {"2222.T": "PriceDataNotFoundError: none", "3333.T": "no result"}


def test_saving_bars_writes_only_new_or_changed_days(redis_client: redis.Redis) -> None:
    store = BarStore(redis_client, AppKeys(), ttl_s=120)
    bars = SyntheticProvider().fetch("7203.T", "1mo", END)

    assert store.save_bars("7203.T", bars[:10]) == 10
    changed = bars[5].model_copy(update={"volume": bars[5].volume + 100})
    assert store.save_bars("7203.T", [*bars[:5], changed, *bars[6:]]) == 1 + len(bars) - 10
    assert store.load_bars("7203.T") == [*bars[:5], changed, *bars[6:]]
    assert 0 < redis_client.ttl(AppKeys().bars("7203.T")) <= 120
    with pytest.raises(ValueError, match=r"bar of 7203\.T"):
        store.save_bars("6758.T", bars[:1])


def test_an_older_price_never_replaces_a_newer_one(redis_client: redis.Redis) -> None:
    store = BarStore(redis_client, AppKeys(), ttl_s=120)
    now = dt.datetime.now(dt.UTC)
    newer = LastPrice(symbol="7203.T", price=2500.0, date=END, updated_at=now)
    older = LastPrice(symbol="7203.T", price=2400.0, date=END - dt.timedelta(days=1), updated_at=now)

    assert store.set_last_price(newer) is True
    assert store.set_last_price(older) is False
    assert store.set_last_price(newer) is False  # unchanged: not announced again
    assert store.last_price("7203.T") == newer


def test_alerts_are_stored_fire_once_and_adding_one_again_rearms_it(redis_client: redis.Redis) -> None:
    alert = PriceAlert(id="x1", user_id="alice", symbol="7203.T", kind="above", threshold=2000)
    add_alert(alert, client=redis_client)
    redis_client.hset(AppKeys().alerts(), "broken", "{not json")
    assert [a.id for a in list_alerts(client=redis_client)] == ["x1"]

    fired = FiredAlert(alert_id="x1", user_id="alice", symbol="7203.T", price=2100.0, price_date=END,
                       message="m", fired_at=dt.datetime.now(dt.UTC), notification_task_id="n1")
    assert mark_fired(fired, client=redis_client) is True
    assert mark_fired(fired.model_copy(update={"notification_task_id": "n2"}), client=redis_client) is False
    assert fired_alerts(client=redis_client)["x1"].notification_task_id == "n1"
    assert unfired(["x1"], client=redis_client) == []

    add_alert(alert, client=redis_client)
    assert unfired(["x1"], client=redis_client) == ["x1"]
    assert remove_alert("x1", client=redis_client) is True and remove_alert("x1", client=redis_client) is False
    assert list_alerts(client=redis_client) == []
