"""Backtests on hand-built price series whose signals, fills and fees are worked out by hand in each test."""

import json
import math
import statistics
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quant.backtest import StrategyParams, max_drawdown, run_backtest, sharpe_ratio

FEE = 0.001
CASH = 1_000_000.0


def business_days(n: int) -> list[str]:
    days: list[str] = []
    d = date(2024, 1, 1)
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d.isoformat())
        d += timedelta(days=1)
    return days


def naive_max_drawdown(equity: list[float]) -> float:
    return max((1 - equity[j] / equity[i] for i in range(len(equity)) for j in range(i, len(equity))), default=0.0)


def test_max_drawdown_of_a_known_curve_is_half() -> None:
    # Peak 130 then trough 65.
    assert max_drawdown([100, 120, 90, 130, 65]) == pytest.approx(0.5)


def test_max_drawdown_is_zero_for_a_rising_curve_and_for_no_data() -> None:
    assert max_drawdown([1.0, 2.0, 3.0]) == 0.0
    assert max_drawdown([]) == 0.0


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=1, max_size=40))
def test_max_drawdown_matches_the_all_pairs_definition(equity: list[float]) -> None:
    assert max_drawdown(equity) == pytest.approx(naive_max_drawdown(equity), abs=1e-12)


def test_sharpe_ratio_is_mean_over_sample_std_times_root_252() -> None:
    returns = [0.01, -0.005, 0.002, 0.007, -0.012, 0.004]
    expected = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252)
    assert sharpe_ratio(returns) == pytest.approx(expected, rel=1e-12)


def test_sharpe_ratio_is_none_when_undefined() -> None:
    assert sharpe_ratio([0.0, 0.0, 0.0]) is None
    assert sharpe_ratio([0.01]) is None


def test_sma_crossover_backtest_matches_hand_computed_trades_fees_and_equity() -> None:
    # fast=1, slow=2: "fast > slow" means "close above the previous close", so a cross up is a rise after a fall.
    closes = [10.0, 9.0, 10.0, 12.0, 11.0, 10.0, 12.0, 13.0]
    dates = business_days(len(closes))
    # Bar 2: 9 -> 10 after 10 -> 9: buy at 10.  Bar 4: 12 -> 11 after a rise: sell at 11.
    # Bar 5: still falling: nothing.  Bar 6: 10 -> 12 after a fall: buy at 12, still held at the end.
    shares1 = CASH / (10 * (1 + FEE))
    fee1 = shares1 * 10 * FEE
    fee2 = shares1 * 11 * FEE
    cash1 = shares1 * 11 - fee2
    shares2 = cash1 / (12 * (1 + FEE))
    fee3 = shares2 * 12 * FEE
    equity = [CASH, CASH, shares1 * 10, shares1 * 12, cash1, cash1, shares2 * 12, shares2 * 13]

    result = run_backtest(
        dates, closes, StrategyParams(kind="sma_crossover", fast=1, slow=2), initial_cash=CASH, fee_rate=FEE
    )

    assert result.num_trades == 1
    trade = result.trades[0]
    assert (trade.entry_date.isoformat(), trade.exit_date.isoformat()) == (dates[2], dates[4])
    assert (trade.entry_price, trade.exit_price) == (10.0, 11.0)
    assert trade.shares == pytest.approx(shares1)
    assert trade.fees == pytest.approx(fee1 + fee2)
    assert trade.pnl == pytest.approx(cash1 - CASH)
    assert result.win_rate == 1.0
    assert result.open_position is not None
    assert result.open_position.entry_date.isoformat() == dates[6]
    assert result.open_position.shares == pytest.approx(shares2)
    assert result.total_fees == pytest.approx(fee1 + fee2 + fee3)
    assert [p.equity for p in result.equity_curve] == pytest.approx(equity)
    assert result.final_equity == pytest.approx(shares2 * 13)
    assert result.total_return == pytest.approx(shares2 * 13 / CASH - 1)
    assert result.cagr == pytest.approx((shares2 * 13 / CASH) ** (252 / 7) - 1)
    # Peak at bar 3 (shares1 * 12), trough at bar 6 (cash1 / 1.001).
    assert result.max_drawdown == pytest.approx(1 - (shares2 * 12) / (shares1 * 12))
    assert result.max_drawdown == pytest.approx(naive_max_drawdown(equity))
    daily = [equity[i] / equity[i - 1] - 1 for i in range(1, len(equity))]
    assert result.sharpe == pytest.approx(statistics.mean(daily) / statistics.stdev(daily) * math.sqrt(252))


def test_rsi_mean_reversion_counts_a_trade_that_loses_only_through_fees_as_a_loss() -> None:
    # RSI(1) is 0 after a down bar, 100 after an up bar and 50 after a flat one: buy every dip, sell every rise.
    closes = [100.0, 90.0, 99.0, 99.0, 88.0, 110.0, 100.0, 100.1]
    dates = business_days(len(closes))
    strategy = StrategyParams(kind="rsi_mean_reversion", rsi_period=1, lower=30, upper=70)
    result = run_backtest(dates, closes, strategy, initial_cash=CASH, fee_rate=FEE)

    cash = CASH
    expected_pnls = []
    for buy, sell in ((90.0, 99.0), (88.0, 110.0), (100.0, 100.1)):
        shares = cash / (buy * (1 + FEE))
        proceeds = shares * sell * (1 - FEE)
        expected_pnls.append(proceeds - cash)
        cash = proceeds

    assert result.num_trades == 3
    assert [(t.entry_price, t.exit_price) for t in result.trades] == [(90.0, 99.0), (88.0, 110.0), (100.0, 100.1)]
    assert [t.pnl for t in result.trades] == pytest.approx(expected_pnls)
    assert expected_pnls[2] < 0  # +0.1% gross is less than the 0.2% round-trip fee
    assert result.win_rate == pytest.approx(2 / 3)
    assert result.open_position is None
    assert result.final_equity == pytest.approx(cash)


def test_a_strategy_that_never_trades_keeps_its_cash_and_reports_undefined_ratios_as_null() -> None:
    closes = [float(100 + i) for i in range(30)]  # monotone: no SMA cross, RSI always 100
    result = run_backtest(business_days(30), closes, StrategyParams(kind="rsi_mean_reversion"))
    assert result.num_trades == 0 and result.win_rate is None and result.sharpe is None
    assert result.final_equity == 1_000_000 and result.max_drawdown == 0.0
    dumped = result.model_dump(mode="json")
    json.dumps(dumped, allow_nan=False)
    assert dumped["equity_curve"][0] == {"date": "2024-01-01", "equity": 1_000_000.0}


def test_progress_is_reported_about_every_percent_and_ends_at_the_total() -> None:
    n = 250
    closes = [100 + 5 * math.sin(i / 5) for i in range(n)]
    calls: list[tuple[int, int]] = []
    run_backtest(
        business_days(n),
        closes,
        StrategyParams(kind="sma_crossover", fast=3, slow=8),
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (n, n)
    assert all(total == n for _, total in calls)
    assert [d for d, _ in calls] == list(range(2, n + 1, 2))  # 250 // 100 = every 2 bars


def test_an_exception_from_the_progress_callback_cancels_the_run() -> None:
    class Cancelled(Exception):
        pass

    def cancel_at_half(done: int, total: int) -> None:
        if done >= total // 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        run_backtest(
            business_days(100), [100.0] * 100, StrategyParams(kind="sma_crossover"), on_progress=cancel_at_half
        )


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError):
        StrategyParams(kind="sma_crossover", fast=50, slow=20)
    with pytest.raises(ValueError):
        StrategyParams(kind="rsi_mean_reversion", lower=80, upper=20)
    with pytest.raises(ValueError):
        run_backtest(business_days(3), [1.0, 2.0], StrategyParams(kind="sma_crossover"))
    with pytest.raises(ValueError):
        run_backtest(["2024-01-02", "2024-01-01"], [1.0, 2.0], StrategyParams(kind="sma_crossover"))
    with pytest.raises(ValueError):
        run_backtest(business_days(2), [1.0, -2.0], StrategyParams(kind="sma_crossover"))
