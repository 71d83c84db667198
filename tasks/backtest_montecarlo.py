"""Monte Carlo runs of geometric Brownian motion for monte_carlo_simulation: parameters, batches, summaries."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from numpy.random import PCG64, Generator

from quant import simulate_gbm_batches
from quant.performance import TRADING_DAYS_PER_YEAR

FloatArray = npt.NDArray[np.float64]
BatchCallback = Callable[[int, int], None]
DRAWDOWN_LEVELS = (0.1, 0.2, 0.3, 0.5)


def estimate_gbm(closes: Sequence[float]) -> tuple[float, float]:
    """Annual (mu, sigma) of GBM from daily closes: sigma from log-return std, mu = mean*252 + sigma^2/2."""
    logs = np.diff(np.log(np.asarray(closes, dtype=np.float64)))
    if logs.size < 2:
        raise ValueError("need at least 3 closes to estimate mu and sigma")
    sigma = float(logs.std(ddof=1)) * math.sqrt(TRADING_DAYS_PER_YEAR)
    # Log returns have drift mu - sigma^2/2 under GBM; add it back so E[S_T] = s0 * exp(mu T) matches history.
    mu = float(logs.mean()) * TRADING_DAYS_PER_YEAR + 0.5 * sigma * sigma
    return mu, sigma


def simulate_terminal(
    mu: float, sigma: float, horizon_days: int, n_paths: int, batch_size: int, seed: int, on_batch: BatchCallback
) -> FloatArray:
    """Simple returns S_T/s0 - 1 of n_paths exact GBM terminal draws; `on_batch(done, total)` after each batch."""
    n_batches = -(-n_paths // batch_size)
    out = np.empty(n_paths, dtype=np.float64)
    filled = 0
    # s0 = 1 makes the draws returns directly; a price level never changes a simple return.
    batches = simulate_gbm_batches(1.0, mu, sigma, horizon_days, n_paths, batch_size, seed)
    for done, prices in enumerate(batches, start=1):
        np.subtract(prices, 1.0, out=out[filled : filled + prices.size])
        filled += prices.size
        on_batch(done, n_batches)
    return out


def simulate_paths(
    mu: float, sigma: float, horizon_days: int, n_paths: int, batch_size: int, seed: int, on_batch: BatchCallback
) -> tuple[FloatArray, FloatArray]:
    """(terminal returns, max drawdowns) of n_paths GBM paths stepped day by day, in batches of batch_size."""
    n_batches = -(-n_paths // batch_size)
    drift = (mu - 0.5 * sigma * sigma) / TRADING_DAYS_PER_YEAR
    vol = sigma / math.sqrt(TRADING_DAYS_PER_YEAR)
    rng = Generator(PCG64(seed))
    returns = np.empty(n_paths, dtype=np.float64)
    drawdowns = np.empty(n_paths, dtype=np.float64)
    start = 0
    for done in range(1, n_batches + 1):
        size = min(batch_size, n_paths - start)
        # Log price, its running peak and the deepest log fall below that peak; memory is O(batch), not O(path).
        x, peak, fall, step = (np.zeros(size) for _ in range(4))
        for _ in range(horizon_days):
            rng.standard_normal(size, out=step)
            step *= vol
            step += drift
            x += step
            np.maximum(peak, x, out=peak)
            np.subtract(peak, x, out=step)
            np.maximum(fall, step, out=fall)
        np.expm1(x, out=returns[start : start + size])
        np.negative(np.expm1(np.negative(fall)), out=drawdowns[start : start + size])
        start += size
        on_batch(done, n_batches)
    return returns, drawdowns


def drawdown_summary(drawdowns: FloatArray) -> dict[str, object]:
    """Distribution of per-path max drawdowns (fractions of the running peak)."""
    p50, p90, p95, p99 = (float(q) for q in np.percentile(drawdowns, [50, 90, 95, 99]))
    return {
        "mean": float(drawdowns.mean()), "p50": p50, "p90": p90, "p95": p95, "p99": p99,
        "max": float(drawdowns.max()),
        "prob_at_least": {f"{level:g}": float(np.count_nonzero(drawdowns >= level) / drawdowns.size)
                          for level in DRAWDOWN_LEVELS},
    }
