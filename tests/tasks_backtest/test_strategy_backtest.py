"""strategy_backtest through the real session worker, checked against hand-computed trades and equity."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from market import Bar, trading_days
from progress import ProgressStore, TaskStatus
from tasks.backtest.tasks import strategy_backtest
from tasks.market.store import save_bars
from worker import app

pytestmark = pytest.mark.integration

FEE = 0.01
BUY, SELL = 1 + FEE, 1 - FEE


def _days(n: int) -> list[dt.date]:
    return trading_days(dt.date(2024, 1, 4), dt.date(2024, 3, 29))[:n]


def _max_drawdown(values: list[float]) -> float:
    peak, worst = values[0], 0.0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, (peak - v) / peak)
    return worst


def _check_consistency(out: dict[str, Any]) -> None:
    equity = [p["equity"] for p in out["equity_curve"]]
    assert out["num_trades"] == len(out["trades"])
    wins = sum(1 for t in out["trades"] if t["pnl"] > 0)
    assert out["win_rate"] == (pytest.approx(wins / len(out["trades"])) if out["trades"] else None)
    assert out["total_return"] == pytest.approx(out["final_equity"] / out["initial_cash"] - 1)
    assert equity[-1] == pytest.approx(out["final_equity"])
    assert out["max_drawdown"] == pytest.approx(_max_drawdown(equity), rel=1e-9, abs=1e-12)


def test_an_sma_crossover_on_a_hand_built_series_trades_where_computed_by_hand(worker_store: ProgressStore) -> None:
    # fast=1, slow=2: the fast SMA crosses above the slow one on the first up-close after a non-up close, and
    # below it on the first down-close after a non-down close. Fills at that close, 1% fee each side.
    closes = [100.0, 100.0, 110.0, 120.0, 90.0, 95.0, 100.0, 130.0, 125.0, 150.0]
    days = _days(len(closes))
    res = strategy_backtest.delay(
        symbol="1301.T", fast=1, slow=2, fee_rate=FEE, initial_cash=1000.0,
        dates=[d.isoformat() for d in days], closes=closes,
    )
    out = res.get(timeout=60)

    # Buy 110 (bar 2), sell 90 (bar 4), buy 95 (bar 5), sell 125 (bar 8), buy 150 (bar 9, still open).
    sh1 = 1000 / (110 * BUY)
    cash1 = sh1 * 90 * SELL
    sh2 = cash1 / (95 * BUY)
    cash2 = sh2 * 125 * SELL
    expected = [1000, 1000, sh1 * 110, sh1 * 120, cash1, sh2 * 95, sh2 * 100, sh2 * 130, cash2, cash2 / BUY]
    assert [p["equity"] for p in out["equity_curve"]] == pytest.approx(expected, rel=1e-12)
    assert [p["date"] for p in out["equity_curve"]] == [d.isoformat() for d in days]
    assert [(t["entry_price"], t["exit_price"]) for t in out["trades"]] == [(110, 90), (95, 125)]
    assert out["num_trades"] == 2 and out["win_rate"] == 0.5
    assert out["open_position"]["entry_price"] == 150
    assert out["final_equity"] == pytest.approx(1000 * (90 / 110) * (125 / 95) * (SELL / BUY) ** 2 / BUY)
    assert out["total_return"] == pytest.approx(expected[-1] / 1000 - 1)
    assert out["cagr"] == pytest.approx((expected[-1] / 1000) ** (252 / 9) - 1)
    # Peak at 120 (bar 3); trough right after re-buying at 95, when the entry fee has been paid (bar 5).
    assert out["max_drawdown"] == pytest.approx((sh1 * 120 - sh2 * 95) / (sh1 * 120))
    assert out["total_fees"] == pytest.approx(
        sh1 * 110 * FEE + sh1 * 90 * FEE + sh2 * 95 * FEE + sh2 * 125 * FEE + cash2 / BUY * FEE)
    assert out["data"]["source"] == "user" and out["equity_curve_downsampled"] is False
    _check_consistency(out)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.symbol == "1301.T"
    assert rec.progress.current == rec.progress.total == len(closes)
    # The record keeps the same results (its JSON codec rounds floats to 14 significant digits).
    assert rec.results.keys() == out.keys() and rec.results["num_trades"] == 2
    assert rec.results["final_equity"] == pytest.approx(out["final_equity"], rel=1e-12)


def test_a_backtest_by_symbol_uses_the_stored_bars_of_the_period(worker_store: ProgressStore) -> None:
    closes = [50.0] * 4 + [100.0] * 5 + [110.0] * 5 + [90.0] * 11
    days = _days(len(closes))
    save_bars("1301.T", [Bar(symbol="1301.T", date=d, open=c, high=c, low=c, close=c, volume=100)
                         for d, c in zip(days, closes, strict=True)])

    out = strategy_backtest.delay(symbol="1301.T", period="1mo", fast=1, slow=2, fee_rate=FEE,
                                  initial_cash=1000.0).get(timeout=60)

    # 1mo is the last 21 stored bars (the 50s are dropped): one round trip, bought at 110 and sold at 90.
    assert out["data"] == {"symbol": "1301.T", "source": "stored", "bars": 21,
                           "start_date": days[4].isoformat(), "end_date": days[-1].isoformat()}
    assert [(t["entry_price"], t["exit_price"]) for t in out["trades"]] == [(110, 90)]
    assert out["final_equity"] == pytest.approx(1000 * (90 / 110) * SELL / BUY)
    assert out["win_rate"] == 0.0 and out["open_position"] is None
    _check_consistency(out)


def test_a_five_year_rsi_backtest_thins_its_curve_but_keeps_its_drawdown(worker_store: ProgressStore) -> None:
    res = strategy_backtest.delay(symbol="7203.T", strategy="rsi_mean_reversion", period="5y",
                                  end="2024-06-28", rsi_period=5, lower=35, upper=65)
    out = res.get(timeout=60)

    assert out["data"]["source"] == "synthetic" and out["equity_curve_points"] == 1260
    assert out["equity_curve_downsampled"] is True and len(out["equity_curve"]) <= 1000
    assert out["equity_curve"][-1]["date"] == "2024-06-28" and out["num_trades"] > 0
    _check_consistency(out)
    rec = worker_store.require(res.id)
    assert rec.progress.current == rec.progress.total == 1260
    assert [s.name for s in rec.steps] == ["load bars", "backtest"]


def test_a_backtest_sent_by_name_with_a_bad_fee_is_recorded_as_an_error_naming_the_field(
    worker_store: ProgressStore,
) -> None:
    res = app.send_task(strategy_backtest.name, kwargs={"symbol": "7203.T", "fee_rate": 0.2})
    with pytest.raises(Exception, match="fee_rate"):
        res.get(timeout=30)
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.ERROR and rec.attempt == 1
    assert [e["field"] for e in rec.processing_details["validation_errors"]] == ["fee_rate"]
