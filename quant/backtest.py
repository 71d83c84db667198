"""Long-only, all-in/all-out backtester for SMA-crossover and RSI mean-reversion strategies.

Execution model: a signal computed from the close of day t is filled at that same close, fees are fee_rate times the
traded notional on each side, positions are fractional (no lot sizes) and equity is marked to market at each close.
"""

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Literal, Self

from pydantic import Field, model_validator

from quant._model import QuantModel
from quant._series import SeriesLike, as_finite_series
from quant.indicators import rsi, sma
from quant.performance import TRADING_DAYS_PER_YEAR, cagr, max_drawdown, sharpe_ratio

__all__ = [
    "BacktestResult",
    "EquityPoint",
    "OpenPosition",
    "ProgressCallback",
    "StrategyParams",
    "Trade",
    "max_drawdown",
    "run_backtest",
    "sharpe_ratio",
]

ProgressCallback = Callable[[int, int], None]


class StrategyParams(QuantModel):
    """Strategy choice and its parameters; only the fields of the chosen `kind` are used."""

    kind: Literal["sma_crossover", "rsi_mean_reversion"]
    # sma_crossover: buy when SMA(fast) crosses above SMA(slow), sell when it crosses back below.
    fast: int = Field(default=20, ge=1)
    slow: int = Field(default=50, ge=2)
    # rsi_mean_reversion: buy when RSI(rsi_period) < lower, sell when RSI > upper.
    rsi_period: int = Field(default=14, ge=1)
    lower: float = Field(default=30.0, ge=0.0, le=100.0)
    upper: float = Field(default=70.0, ge=0.0, le=100.0)

    @model_validator(mode="after")
    def _check_ordering(self) -> Self:
        if self.kind == "sma_crossover" and self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        if self.kind == "rsi_mean_reversion" and self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        return self


class Trade(QuantModel):
    """A closed round trip: one all-in buy and the all-out sell that closed it."""

    entry_date: date
    entry_price: float
    exit_date: date
    exit_price: float
    shares: float
    fees: float  # entry fee + exit fee
    pnl: float  # net of both fees
    return_pct: float  # pnl / cash committed at entry (notional + entry fee)


class OpenPosition(QuantModel):
    """A position still held at the last bar (not counted in num_trades or win_rate)."""

    entry_date: date
    entry_price: float
    shares: float
    entry_fee: float
    unrealized_pnl: float  # at the last close, after the entry fee, before any exit fee


class EquityPoint(QuantModel):
    """Marked-to-market account value at one close."""

    date: date
    equity: float


class BacktestResult(QuantModel):
    """Summary statistics, trades and equity curve of one backtest run."""

    strategy: StrategyParams
    initial_cash: float
    fee_rate: float
    final_equity: float
    total_return: float
    cagr: float | None  # None with fewer than 2 bars or when the annualised figure overflows
    sharpe: float | None  # None when daily returns have zero variance (e.g. never invested)
    max_drawdown: float
    win_rate: float | None  # None when there are no closed round trips
    num_trades: int
    total_fees: float
    trades: list[Trade]
    open_position: OpenPosition | None
    equity_curve: list[EquityPoint]


def _to_date(value: date | str) -> date:
    if isinstance(value, datetime):  # datetime is a date subclass; keep only the calendar day
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        return datetime.fromisoformat(value).date()


def _signals(closes: list[float], strategy: StrategyParams) -> list[int]:
    """+1 = buy signal, -1 = sell signal, 0 = nothing, one per bar."""
    out = [0] * len(closes)
    if strategy.kind == "sma_crossover":
        fast, slow = sma(closes, strategy.fast), sma(closes, strategy.slow)
        for i in range(1, len(closes)):
            f0, s0, f1, s1 = fast[i - 1], slow[i - 1], fast[i], slow[i]
            if f0 is None or s0 is None or f1 is None or s1 is None:
                continue
            # Act on the cross event, not on the state: a series that starts in an uptrend waits for the next cross.
            if f0 <= s0 and f1 > s1:
                out[i] = 1
            elif f0 >= s0 and f1 < s1:
                out[i] = -1
    else:
        for i, value in enumerate(rsi(closes, strategy.rsi_period)):
            if value is None:
                continue
            if value < strategy.lower:
                out[i] = 1
            elif value > strategy.upper:
                out[i] = -1
    return out


def run_backtest(
    dates: Sequence[date | str],
    closes: SeriesLike,
    strategy: StrategyParams,
    initial_cash: float = 1_000_000,
    fee_rate: float = 0.001,
    *,
    on_progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Simulate `strategy` on daily closes; `on_progress(done, total)` is called every ~1% of bars and at the end."""
    price_arr = as_finite_series(closes, "closes")
    if len(dates) != price_arr.size:
        raise ValueError(f"dates ({len(dates)}) and closes ({price_arr.size}) must have the same length")
    if price_arr.size == 0:
        raise ValueError("closes must not be empty")
    if bool((price_arr <= 0.0).any()):
        raise ValueError("closes must be strictly positive")
    if not (math.isfinite(initial_cash) and initial_cash > 0.0):
        raise ValueError("initial_cash must be a positive finite number")
    if not 0.0 <= fee_rate < 1.0:
        raise ValueError("fee_rate must be in [0, 1)")
    days = [_to_date(d) for d in dates]
    if any(b <= a for a, b in itertools.pairwise(days)):
        raise ValueError("dates must be strictly increasing")

    prices = price_arr.tolist()
    signals = _signals(prices, strategy)
    n = len(prices)
    # ~100 progress calls whatever the length: often enough for a progress bar, rare enough to be free.
    progress_step = max(1, n // 100)

    cash = float(initial_cash)
    shares = 0.0
    entry_index = -1
    entry_fee = 0.0
    trades: list[Trade] = []
    equity: list[float] = []
    total_fees = 0.0

    for i, price in enumerate(prices):
        if signals[i] > 0 and shares == 0.0:
            # All-in with the fee paid from the same cash: notional * (1 + fee_rate) == cash.
            shares = cash / (price * (1.0 + fee_rate))
            entry_fee = shares * price * fee_rate
            total_fees += entry_fee
            entry_index = i
            cash = 0.0  # set exactly rather than subtracting, so no rounding dust is left in cash
        elif signals[i] < 0 and shares > 0.0:
            notional = shares * price
            exit_fee = notional * fee_rate
            total_fees += exit_fee
            cash = notional - exit_fee
            entry_price = prices[entry_index]
            cost = shares * entry_price + entry_fee
            pnl = cash - cost
            trades.append(
                Trade(
                    entry_date=days[entry_index],
                    entry_price=entry_price,
                    exit_date=days[i],
                    exit_price=price,
                    shares=shares,
                    fees=entry_fee + exit_fee,
                    pnl=pnl,
                    return_pct=pnl / cost,
                )
            )
            shares = 0.0
        equity.append(cash + shares * price)
        if on_progress is not None and ((i + 1) % progress_step == 0 or i + 1 == n):
            # Exceptions raised by the callback propagate on purpose: that is how a caller cancels a long run.
            on_progress(i + 1, n)

    open_position = None
    if shares > 0.0:
        entry_price = prices[entry_index]
        open_position = OpenPosition(
            entry_date=days[entry_index],
            entry_price=entry_price,
            shares=shares,
            entry_fee=entry_fee,
            unrealized_pnl=shares * (prices[-1] - entry_price) - entry_fee,
        )

    daily_returns = [b / a - 1.0 for a, b in itertools.pairwise(equity)]
    final_equity = equity[-1]
    wins = sum(1 for t in trades if t.pnl > 0.0)
    return BacktestResult(
        strategy=strategy,
        initial_cash=initial_cash,
        fee_rate=fee_rate,
        final_equity=final_equity,
        total_return=final_equity / initial_cash - 1.0,
        cagr=cagr(initial_cash, final_equity, n - 1, TRADING_DAYS_PER_YEAR),
        sharpe=sharpe_ratio(daily_returns, TRADING_DAYS_PER_YEAR),
        max_drawdown=max_drawdown(equity),
        win_rate=wins / len(trades) if trades else None,
        num_trades=len(trades),
        total_fees=total_fees,
        trades=trades,
        open_position=open_position,
        equity_curve=[EquityPoint(date=d, equity=e) for d, e in zip(days, equity, strict=True)],
    )
