"""Backtest tasks (queue `backtest`): strategy backtests, portfolio optimisation and Monte Carlo risk (seed 004).

Each task validates its arguments with a model from tasks/backtest/args.py, loads bars through
tasks/backtest/bars.py and leaves the numbers to the pure `quant` library.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt

from quant import StrategyParams, optimize_portfolio, risk_metrics, run_backtest
from quant.montecarlo import drawdown_summary, estimate_gbm, simulate_paths, simulate_terminal
from quant.performance import TRADING_DAYS_PER_YEAR
from tasks.backtest.args import BacktestArgs, MonteCarloArgs, Objective, PortfolioArgs
from tasks.backtest.curve import MAX_CURVE_POINTS, keep_indices
from tasks.market.bars import PriceSeries, load_closes, user_series
from tracking.errors import TransientError
from tracking.task import ProgressTask
from worker import app

# Only a storage outage is worth retrying: bad symbols or too little history fail the same way every time.
_RETRY: dict[str, Any] = {"autoretry_for": (TransientError,), "retry_backoff": 1, "retry_backoff_max": 30,
                          "retry_jitter": True, "max_retries": 3}


@app.task(base=ProgressTask, bind=True, name="tasks.backtest.strategy_backtest", args_model=BacktestArgs, **_RETRY)
def strategy_backtest(
    self: ProgressTask,
    symbol: str | None = None,
    strategy: str = "sma_crossover",
    fast: int = 20,
    slow: int = 50,
    rsi_period: int = 14,
    lower: float = 30.0,
    upper: float = 70.0,
    period: str = "2y",
    initial_cash: float = 1_000_000.0,
    fee_rate: float = 0.001,
    dates: list[dt.date] | None = None,
    closes: list[float] | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """Backtests SMA crossover or RSI mean reversion with fees over a symbol's bars or a user series."""
    params = StrategyParams.model_validate(
        {"kind": strategy, "fast": fast, "slow": slow, "rsi_period": rsi_period, "lower": lower, "upper": upper}
    )
    self.progress.define_steps(["load bars", "backtest"])
    with self.progress.step("load bars"):
        if dates is not None and closes is not None:
            series = user_series(symbol, dates, closes)
        else:
            assert symbol is not None  # the arguments model demands a symbol or a series
            series = load_closes(symbol, period, end)
    n = len(series.closes)
    self.progress.update(0, total=n, message=f"backtesting {n} bars")
    with self.progress.step("backtest"):
        result = run_backtest(
            series.dates, series.closes, params, initial_cash, fee_rate,
            on_progress=lambda done, total: self.progress.update(done, total=total, message=f"bar {done}/{total}"),
        )
    out = result.model_dump(mode="json")
    curve = out.pop("equity_curve")
    keep = keep_indices([p["equity"] for p in curve])
    return {
        "symbol": series.symbol,
        "period": None if series.source == "user" else period,
        "data": series.describe(),
        **out,
        "equity_curve": [curve[i] for i in keep],
        "equity_curve_points": len(curve),
        "equity_curve_downsampled": len(keep) < len(curve),
        "equity_curve_note": f"at most {MAX_CURVE_POINTS} points, evenly spaced, always keeping the first, the last "
                             "and the max-drawdown peak and trough",
    }


@app.task(base=ProgressTask, bind=True, name="tasks.backtest.portfolio_optimization", args_model=PortfolioArgs,
          **_RETRY)
def portfolio_optimization(
    self: ProgressTask,
    symbols: list[str],
    objective: Objective = "max_sharpe",
    period: str = "1y",
    risk_free: float = 0.0,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """Long-only mean-variance weights (summing to 1) over the daily returns of the symbols' common days."""
    self.progress.define_steps(["load bars", "estimate", "optimise"])
    loaded: list[PriceSeries] = []
    with self.progress.step("load bars"):
        self.progress.update(0, total=len(symbols), message="loading bars")
        for i, symbol in enumerate(symbols, start=1):
            loaded.append(load_closes(symbol, period, end))
            self.progress.update(i, total=len(symbols), message=f"loaded {symbol}")
    with self.progress.step("estimate"):
        returns, days = _aligned_returns(loaded)
        mean = returns.mean(axis=0) * TRADING_DAYS_PER_YEAR
        vol = returns.std(axis=0, ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)
    with self.progress.step("optimise"):
        # mode "returns" so the optimiser sees exactly the aligned returns reported here.
        best = optimize_portfolio(returns, symbols, objective, data_kind="returns", risk_free=risk_free)
    return {
        **best.model_dump(mode="json"),
        "period": period,
        "observations": int(returns.shape[0]),
        "start_date": days[0].isoformat(),
        "end_date": days[-1].isoformat(),
        "assets": [
            {**s.describe(), "annual_return": float(m), "annual_volatility": float(v)}
            for s, m, v in zip(loaded, mean, vol, strict=True)
        ],
    }


def _aligned_returns(series: list[PriceSeries]) -> tuple[npt.NDArray[np.float64], list[dt.date]]:
    """Daily simple returns (time x asset) on the days every series has, and those days."""
    common = sorted(set.intersection(*(set(s.dates) for s in series)))
    if len(common) < 3:
        raise ValueError(f"the symbols share only {len(common)} trading days; need at least 3")
    columns = []
    for s in series:
        by_day = dict(zip(s.dates, s.closes, strict=True))
        columns.append([by_day[d] for d in common])
    prices = np.asarray(columns, dtype=np.float64).T
    return prices[1:] / prices[:-1] - 1.0, common


@app.task(base=ProgressTask, bind=True, name="tasks.backtest.monte_carlo_simulation", args_model=MonteCarloArgs,
          **_RETRY)
def monte_carlo_simulation(
    self: ProgressTask,
    symbol: str | None = None,
    period: str = "1y",
    s0: float | None = None,
    mu: float | None = None,
    sigma: float | None = None,
    horizon_days: int = 21,
    n_paths: int = 100_000,
    batch_size: int = 100_000,
    seed: int = 0,
    path_stats: bool = False,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """GBM terminal returns (or daily paths) in batches; VaR/CVaR at 95/99%; a cancel stops it within one batch."""
    self.progress.define_steps(["parameters", "simulate", "risk"])
    estimate: dict[str, Any] | None = None
    with self.progress.step("parameters"):
        if symbol is not None:
            series = load_closes(symbol, period, end)
            est_mu, est_sigma = estimate_gbm(series.closes)
            estimate = {**series.describe(), "mu": est_mu, "sigma": est_sigma, "last_close": series.closes[-1]}
            s0 = series.closes[-1] if s0 is None else s0
            mu = est_mu if mu is None else mu
            sigma = est_sigma if sigma is None else sigma
    assert s0 is not None and mu is not None and sigma is not None  # the arguments model demands them
    n_batches = -(-n_paths // batch_size)

    def on_batch(done: int, total: int) -> None:
        reporter = self.progress
        writes = reporter.writes
        reporter.update(done, total=total, message=f"batch {done}/{total}")
        # One round trip per batch boundary whatever the throttle: when update() did not write, check() does,
        # and either raises TaskCancelled, so a cancel is honoured before the next batch starts.
        if reporter.writes == writes:
            reporter.check()

    drawdowns = None
    with self.progress.step("simulate"):
        self.progress.update(0, total=n_batches, message=f"{n_batches} batches of up to {batch_size} paths")
        if path_stats:
            returns, drawdowns = simulate_paths(mu, sigma, horizon_days, n_paths, batch_size, seed, on_batch)
        else:
            returns = simulate_terminal(mu, sigma, horizon_days, n_paths, batch_size, seed, on_batch)
    with self.progress.step("risk"):
        risk = risk_metrics(returns)
        dd = None if drawdowns is None else drawdown_summary(drawdowns)
    return {
        "symbol": symbol,
        "s0": s0, "mu": mu, "sigma": sigma,
        "estimate": estimate,
        "horizon_days": horizon_days, "n_paths": n_paths, "batch_size": batch_size, "n_batches": n_batches,
        "seed": seed, "path_stats": path_stats,
        "risk": risk.model_dump(mode="json"),
        # The same tail figures in yen per share at s0, which is how a trader reads them.
        "loss_per_share": {k: s0 * getattr(risk, k) for k in ("var_95", "cvar_95", "var_99", "cvar_99")},
        "max_drawdown": dd,
    }
