"""update_all_stock_prices through the real session worker: one aggregate progress for a parallel batch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from market import SyntheticProvider, write_bars_csv
from progress import ProgressStore, TaskRecord, TaskStatus
from tasks.market.store import load_bars
from tasks.market.tasks import fetch_data, update_all_stock_prices
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

END = dt.date(2024, 6, 28)
SYMBOLS = [f"{code}.T" for code in range(7201, 7221)]  # 20 distinct codes


def _children_entries(rec: TaskRecord) -> set[str]:
    return {key.removeprefix("child:") for key in rec.processing_details if key.startswith("child:")}


def test_a_batch_of_twenty_symbols_shows_one_aggregate_progress_that_rises_to_100(
    worker_store: ProgressStore,
) -> None:
    expected = {s: SyntheticProvider().fetch(s, "1mo", END) for s in SYMBOLS}

    res = update_all_stock_prices.delay(symbols=SYMBOLS, period="1mo", end=END.isoformat())

    # While it runs: sample the parent record; each sample counts exactly the children that reported to it, and
    # every one of those has ended in its own record (read after the parent, so it cannot lag behind it).
    samples: list[float] = []

    def sample() -> bool:
        rec = worker_store.get_task_status(res.id)
        if rec is None:
            return False
        reported = _children_entries(rec)
        assert rec.progress.current == len(reported)
        for child in reported:
            child_rec = worker_store.require(child)
            assert child_rec.status.is_terminal and child_rec.task_name == fetch_data.name
        samples.append(rec.progress.percentage)
        return rec.status.is_terminal

    wait_until(sample, timeout=60, interval=0.005, what="the batch to end")
    launched = res.get(timeout=10)
    assert launched["batch"] and len(launched["children"]) == len(SYMBOLS)

    # Then the parent's percentage never went down and ended at 100 %
    assert samples == sorted(samples) and samples[-1] == 100
    # And its event history shows every child's step: current went 0, 1, ..., 20 in order
    events = list(worker_store.watch(res.id, after="0-0", timeout=5))
    currents = [e.current for e in events if e.total == len(SYMBOLS)]
    assert currents == sorted(currents) and set(range(len(SYMBOLS) + 1)) <= set(currents)

    # And the parent's count equals the children that finished, read from their own records
    parent = worker_store.require(res.id)
    children = [worker_store.require(c) for c in launched["children"]]
    finished = [c for c in children if c.status is TaskStatus.COMPLETED]
    assert parent.status is TaskStatus.COMPLETED and parent.progress.current == len(finished) == len(SYMBOLS)
    assert _children_entries(parent) == set(launched["children"])
    assert parent.progress.total == len(SYMBOLS) and parent.progress.percentage == 100

    # And its results aggregate the children: every bar of every symbol was saved
    results = parent.results
    assert results["records_saved"] == sum(len(bars) for bars in expected.values())
    assert (results["succeeded"], results["failed"], results["failures"]) == (len(SYMBOLS), 0, {})
    assert {s: o["records_saved"] for s, o in results["per_symbol"].items()} == {s: len(b) for s, b in expected.items()}
    assert all(load_bars(s) == bars for s, bars in expected.items())


def test_a_child_that_fails_permanently_is_reported_and_the_batch_still_completes(
    worker_store: ProgressStore, tmp_path: Path
) -> None:
    # Given CSV files for two symbols of three
    present = ["8001.T", "8002.T"]
    for symbol in present:
        write_bars_csv(tmp_path / f"{symbol}.csv", SyntheticProvider().fetch(symbol, "1mo", END))

    res = update_all_stock_prices.delay(symbols=[*present, "8003.T"], provider="csv", directory=str(tmp_path))
    launched = res.get(timeout=30)
    wait_until(lambda: worker_store.require(res.id).status.is_terminal, timeout=30, what="the batch to end")

    # Then the batch completes, counts all three children, and names the failure
    parent = worker_store.require(res.id)
    assert parent.status is TaskStatus.COMPLETED and parent.progress.current == 3
    assert (parent.results["succeeded"], parent.results["failed"]) == (2, 1)
    assert parent.results["failures"]["8003.T"].startswith("PriceDataNotFoundError")
    # And the failed child's own record says error
    statuses = {worker_store.require(c).symbol: worker_store.require(c).status for c in launched["children"]}
    assert statuses == {"8001.T": TaskStatus.COMPLETED, "8002.T": TaskStatus.COMPLETED, "8003.T": TaskStatus.ERROR}


def test_a_child_that_crashes_unexpectedly_ends_the_batch_as_error_instead_of_leaving_it_running(
    worker_store: ProgressStore, tmp_path: Path
) -> None:
    # Given one readable CSV and one that is not text at all (a bug-like failure, not a market data error)
    write_bars_csv(tmp_path / "8101.T.csv", SyntheticProvider().fetch("8101.T", "1mo", END))
    (tmp_path / "8102.T.csv").write_bytes(b"Date,Open,High,Low,Close,Volume\n\xff\xfe\xfa,1,1,1,1,1\n")

    res = update_all_stock_prices.delay(symbols=["8101.T", "8102.T"], provider="csv", directory=str(tmp_path))
    res.get(timeout=30)

    # Then the chord's error callback ends the parent as error
    wait_until(lambda: worker_store.require(res.id).status.is_terminal, timeout=30, what="the batch to end")
    parent = worker_store.require(res.id)
    assert parent.status is TaskStatus.ERROR and parent.progress.current == 2
    assert parent.error_message is not None and parent.error_message.startswith("batch failed: ChordError")
    assert "UnicodeDecodeError" in parent.error_message
