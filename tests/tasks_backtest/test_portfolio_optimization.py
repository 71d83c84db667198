"""portfolio_optimization through the real session worker, checked against closed forms computed here."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import pytest

from market import get_provider
from progress import ProgressStore, TaskStatus
from tasks.backtest.tasks import portfolio_optimization
from worker import app

pytestmark = pytest.mark.integration

END = dt.date(2024, 6, 28)


def _returns(symbols: list[str], period: str) -> npt.NDArray[np.float64]:
    closes = [[b.close for b in get_provider("synthetic").fetch(s, period, END)] for s in symbols]
    prices: npt.NDArray[np.float64] = np.asarray(closes, dtype=np.float64).T
    return prices[1:] / prices[:-1] - 1.0


def test_min_variance_of_two_synthetic_symbols_matches_the_two_asset_closed_form(worker_store: ProgressStore) -> None:
    symbols = ["7203.T", "6758.T"]
    res = portfolio_optimization.delay(symbols=symbols, objective="min_variance", period="1y", end=END.isoformat())
    out = res.get(timeout=60)

    r = _returns(symbols, "1y")
    cov = np.cov(r, rowvar=False, ddof=1)
    # w1 = (s2^2 - s12) / (s1^2 + s2^2 - 2 s12), clipped to [0, 1] for a long-only portfolio.
    w1 = float(np.clip((cov[1, 1] - cov[0, 1]) / (cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0, 1.0))
    assert out["weights"]["7203.T"] == pytest.approx(w1, abs=1e-7)
    assert out["weights"]["6758.T"] == pytest.approx(1 - w1, abs=1e-7)
    w = np.array([w1, 1 - w1])
    assert out["annual_volatility"] == pytest.approx(float(np.sqrt(w @ cov @ w * 252)), rel=1e-6)
    assert out["observations"] == len(r) == 251
    assert [a["source"] for a in out["assets"]] == ["synthetic", "synthetic"]
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED
    assert rec.progress.current == rec.progress.total == 2
    assert [(s.name, s.status) for s in rec.steps] == [
        ("load bars", "success"), ("estimate", "success"), ("optimise", "success")]


def test_max_sharpe_weights_are_long_only_sum_to_one_and_beat_simpler_portfolios(worker_store: ProgressStore) -> None:
    symbols = ["7203.T", "6758.T", "9984.T", "8306.T", "6861.T"]
    out = portfolio_optimization.delay(symbols=symbols, period="1y", end=END.isoformat()).get(timeout=60)

    weights = np.array([out["weights"][s] for s in symbols])
    assert weights.sum() == pytest.approx(1.0, abs=1e-9) and (weights >= 0).all()
    r = _returns(symbols, "1y")
    mu, cov = r.mean(axis=0) * 252, np.cov(r, rowvar=False, ddof=1) * 252

    def sharpe(w: npt.NDArray[np.float64]) -> float:
        return float(w @ mu / np.sqrt(w @ cov @ w))

    assert out["sharpe"] == pytest.approx(sharpe(weights), rel=1e-6)
    for candidate in [np.full(5, 0.2), *np.eye(5)]:
        assert out["sharpe"] >= sharpe(candidate) - 1e-9


def test_a_portfolio_sent_by_name_with_duplicate_symbols_is_recorded_naming_the_field(
    worker_store: ProgressStore,
) -> None:
    res = app.send_task(portfolio_optimization.name, kwargs={"symbols": ["7203.T", "7203.T"]})
    with pytest.raises(Exception, match="symbols"):
        res.get(timeout=30)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR
    assert [e["field"] for e in rec.processing_details["validation_errors"]] == ["symbols"]
