"""Synthetic (made-up) prices are only used when chosen; without a chosen provider a task fails at once saying how
to choose one, and a provider refuses a symbol it has no data for (issue 16, item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from progress import TaskStatus
from tasks.market.fetch import ProviderConfigError, make_provider
from worker import load_tasks
from worker.store import progress_store

load_tasks()
from tasks.analysis.tasks import stock_technical_analysis  # noqa: E402
from tasks.market.tasks import fetch_data  # noqa: E402


@pytest.fixture
def no_provider_chosen(monkeypatch: pytest.MonkeyPatch, progress_redis: redis.Redis) -> None:
    """This process as a fresh install sees it: TASKRUNNER_MARKET_PROVIDER unset."""
    monkeypatch.delenv("TASKRUNNER_MARKET_PROVIDER", raising=False)


def test_no_provider_is_implied_and_the_error_says_how_to_choose_one(no_provider_chosen: None) -> None:
    with pytest.raises(ProviderConfigError, match=r"set TASKRUNNER_MARKET_PROVIDER .* synthetic \(made-up prices\)"):
        make_provider(None)


@pytest.mark.parametrize(("task", "kwargs"), [
    (fetch_data, {"symbol": "9999.T"}),
    (stock_technical_analysis, {"symbol": "9999.T"}),
])
def test_without_a_chosen_provider_a_task_fails_once_and_its_record_says_why(
    no_provider_chosen: None, task: object, kwargs: dict[str, str]
) -> None:
    res = task.apply(kwargs=kwargs)  # type: ignore[attr-defined]  # runs here, through the same tracked path

    rec = progress_store().require(res.id)
    assert res.state == "FAILURE"
    assert rec.status is TaskStatus.ERROR and rec.attempt == 1
    assert rec.error_message is not None and "no price provider chosen" in rec.error_message


def test_a_provider_refuses_a_symbol_it_has_no_data_for_without_retrying(
    progress_redis: redis.Redis, tmp_path: Path
) -> None:
    res = fetch_data.apply(kwargs={"symbol": "9999.T", "provider": "csv", "directory": str(tmp_path)})

    rec = progress_store().require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.attempt == 1
    assert rec.error_message is not None and "no CSV price data for 9999.T" in rec.error_message


def test_chosen_synthetic_prices_say_so_in_the_result(progress_redis: redis.Redis) -> None:
    res = fetch_data.apply(kwargs={"symbol": "7203.T", "period": "1mo", "provider": "synthetic"})
    assert res.get()["provider"] == "synthetic"
