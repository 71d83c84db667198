"""fetch_data through the real session worker: stored bars, idempotent re-fetch, the CSV provider, bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import redis

from base.keys import AppKeys
from base.settings import get_settings
from market import SyntheticProvider, write_bars_csv
from progress import ProgressStore, TaskStatus
from tasks.market.store import last_price, load_bars
from tasks.market.tasks import fetch_data
from tests.helpers import wait_until
from tracking.errors import InvalidTaskArguments
from worker import app

pytestmark = pytest.mark.integration

END = dt.date(2024, 6, 28)  # a Friday session: the history is fixed whatever day the tests run
KEYS = AppKeys(get_settings().namespace)


def test_fetch_data_stores_the_providers_bars_and_a_refetch_skips_every_one(
    worker_store: ProgressStore, redis_base: str
) -> None:
    # Given the bars the synthetic provider serves for 3 months ending END, and a subscriber to the price channel
    expected = SyntheticProvider().fetch("7203.T", "3mo", END)
    listener = redis.Redis.from_url(f"{redis_base}/2", decode_responses=True).pubsub()  # type: ignore[no-untyped-call]
    listener.subscribe(KEYS.prices_channel("7203.T"))
    listener.get_message(timeout=5)  # the subscribe confirmation

    # When the task fetches them
    first = fetch_data.delay(symbol="7203.T", period="3mo", end=END.isoformat()).get(timeout=30)

    # Then every bar is saved, stored exactly, and the record holds the result with seed 001's fields
    assert (first["records_saved"], first["records_skipped"], first["success_rate"]) == (len(expected), 0, 100)
    assert load_bars("7203.T") == expected
    assert 0 < worker_store.redis.ttl(KEYS.bars("7203.T")) <= 7 * 86_400
    records = worker_store.get_tasks_list(task_type=fetch_data.name).tasks
    rec = worker_store.require(records[0].task_id)
    assert rec.status is TaskStatus.COMPLETED and rec.results == first and rec.symbol == "7203.T"
    assert rec.progress.current == rec.progress.total == len(expected)
    assert [s.name for s in rec.steps] == ["download", "validate", "store", "publish"]

    # And the latest close is stored and announced with its change from the previous close
    change = round((expected[-1].close - expected[-2].close) / expected[-2].close * 100, 4)
    announced = {"symbol": "7203.T", "price": expected[-1].close, "date": END.isoformat(), "change_percent": change}
    message = wait_until(lambda: listener.get_message(timeout=1), timeout=10, what="price announcement")
    assert json.loads(message["data"]) == announced
    stored = last_price("7203.T")
    assert stored is not None
    assert (stored.price, stored.date, stored.change_percent) == (expected[-1].close, END, change)

    # When the same history is fetched again, nothing is rewritten and nothing is announced
    again = fetch_data.delay(symbol="7203.T", period="3mo", end=END.isoformat()).get(timeout=30)
    assert (again["records_saved"], again["records_skipped"], again["success_rate"]) == (0, len(expected), 100)
    assert again["price_published"] is False and listener.get_message(timeout=0.5) is None
    assert load_bars("7203.T") == expected
    listener.close()


def test_the_csv_provider_reads_a_directory_passed_as_an_argument_and_skips_a_weekend_row(
    worker_store: ProgressStore, tmp_path: Path
) -> None:
    # Given a yfinance-style CSV of one month of sessions plus a stray Saturday row
    sessions = SyntheticProvider().fetch("6758.T", "1mo", END)
    saturday = sessions[10].model_copy(update={"date": dt.date(2024, 6, 15)})
    after = next(i for i, bar in enumerate(sessions) if bar.date > saturday.date)
    assert saturday.date.weekday() == 5 and 0 < after < len(sessions)
    write_bars_csv(tmp_path / "6758.T.csv", [*sessions[:after], saturday, *sessions[after:]])

    # When fetched through the csv provider with that directory
    result = fetch_data.delay(symbol="6758.T", period="1mo", provider="csv", directory=str(tmp_path)).get(timeout=30)

    # Then the sessions are stored and the weekend row is counted as skipped (invalid)
    assert result["provider"] == "csv" and result["records_received"] == len(sessions) + 1
    assert (result["records_saved"], result["records_skipped"], result["records_invalid"]) == (len(sessions), 1, 1)
    assert result["invalid"] == {"2024-06-15": "not a TSE trading day"}
    assert result["success_rate"] == round(len(sessions) / (len(sessions) + 1) * 100, 2)
    assert load_bars("6758.T") == sessions


def test_a_missing_csv_file_fails_once_as_a_permanent_error(worker_store: ProgressStore, tmp_path: Path) -> None:
    res = fetch_data.delay(symbol="9984.T", period="1mo", provider="csv", directory=str(tmp_path))

    with pytest.raises(Exception, match=r"no CSV price data for 9984\.T"):
        res.get(timeout=30)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.attempt == 1
    assert rec.error_message is not None and rec.error_message.startswith("PriceDataNotFoundError")


def test_an_invalid_symbol_fails_at_once_without_retry_and_the_record_names_the_field(
    worker_store: ProgressStore,
) -> None:
    # Published by an instrumented client: refused before anything is sent
    with pytest.raises(InvalidTaskArguments) as err:
        fetch_data.delay(symbol="TOYOTA", period="1y")
    assert [e["field"] for e in err.value.errors] == ["symbol"]

    # Sent by name (a client without the models): the worker refuses it at once
    res = app.send_task(fetch_data.name, kwargs={"symbol": "7203", "period": "10y"})
    with pytest.raises(Exception, match="invalid arguments"):
        res.get(timeout=30)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.attempt == 1
    assert {e["field"] for e in rec.processing_details["validation_errors"]} == {"symbol", "period"}
