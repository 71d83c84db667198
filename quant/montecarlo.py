"""Monte Carlo simulation of geometric Brownian motion, in batches: terminal prices exactly, or whole paths.

Batches let a Celery task report progress and honour cancellation between batches, and keep memory bounded when
n_paths is large. A terminal distribution needs no time-stepping (exact GBM); drawdowns need the path, so
`simulate_paths` steps day by day with the same parameters, checks and random stream.
"""

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.random import PCG64, Generator

from quant._series import FloatArray, require_int_at_least
from quant.performance import TRADING_DAYS_PER_YEAR
from quant.risk import RiskMetrics, risk_metrics

__all__ = [
    "RiskMetrics",
    "drawdown_summary",
    "estimate_gbm",
    "risk_metrics",
    "simulate_gbm_batches",
    "simulate_paths",
    "simulate_terminal",
    "terminal_returns",
]

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


def _check(s0: float, mu: float, sigma: float, horizon_days: int, n_paths: int, batch_size: int, seed: int) -> None:
    if not (math.isfinite(s0) and s0 > 0.0):
        raise ValueError("s0 must be a positive finite number")
    if not (math.isfinite(mu) and math.isfinite(sigma) and sigma >= 0.0):
        raise ValueError("mu must be finite and sigma finite and >= 0")
    require_int_at_least(horizon_days, 1, "horizon_days")
    require_int_at_least(n_paths, 1, "n_paths")
    require_int_at_least(batch_size, 1, "batch_size")
    require_int_at_least(seed, 0, "seed")


def _log_step(mu: float, sigma: float, days: float) -> tuple[float, float]:
    """(drift, vol) of log price over `days` trading days: the -sigma^2/2 Ito term makes E[S_T] = s0 * exp(mu T)."""
    t = days / TRADING_DAYS_PER_YEAR
    return (mu - 0.5 * sigma * sigma) * t, sigma * math.sqrt(t)


def _rng(seed: int) -> Generator:
    # One explicit PCG64 stream per run: same seed, same batches, on every numpy version that keeps PCG64 stable.
    return Generator(PCG64(seed))


def simulate_gbm_batches(
    s0: float,
    mu: float,
    sigma: float,
    horizon_days: int,
    n_paths: int,
    batch_size: int,
    seed: int,
) -> Iterator[FloatArray]:
    """Yield arrays of GBM terminal prices S_T (annual mu, sigma; T = horizon_days/252), n_paths in total."""
    _check(s0, mu, sigma, horizon_days, n_paths, batch_size, seed)
    # This function is not itself a generator so that bad arguments raise here, not at the caller's first next().
    return _terminal_batches(s0, mu, sigma, horizon_days, n_paths, batch_size, seed)


def _terminal_batches(
    s0: float, mu: float, sigma: float, horizon_days: int, n_paths: int, batch_size: int, seed: int
) -> Iterator[FloatArray]:
    drift, vol = _log_step(mu, sigma, horizon_days)
    rng = _rng(seed)
    remaining = n_paths
    while remaining > 0:
        size = min(batch_size, remaining)
        z = rng.standard_normal(size)
        yield s0 * np.exp(drift + vol * z)
        remaining -= size


def simulate_terminal(
    mu: float, sigma: float, horizon_days: int, n_paths: int, batch_size: int, seed: int, on_batch: BatchCallback
) -> FloatArray:
    """Simple returns S_T/s0 - 1 of n_paths exact GBM terminal draws; `on_batch(done, total)` after each batch."""
    n_batches = -(-n_paths // batch_size)
    out = np.empty(n_paths, dtype=np.float64)
    filled = 0
    # s0 = 1 makes the draws returns directly; a price level never changes a simple return.
    for done, prices in enumerate(simulate_gbm_batches(1.0, mu, sigma, horizon_days, n_paths, batch_size, seed), 1):
        np.subtract(prices, 1.0, out=out[filled : filled + prices.size])
        filled += prices.size
        on_batch(done, n_batches)
    return out


def simulate_paths(
    mu: float, sigma: float, horizon_days: int, n_paths: int, batch_size: int, seed: int, on_batch: BatchCallback
) -> tuple[FloatArray, FloatArray]:
    """(terminal returns, max drawdowns) of n_paths GBM paths stepped day by day, in batches of batch_size."""
    _check(1.0, mu, sigma, horizon_days, n_paths, batch_size, seed)
    n_batches = -(-n_paths // batch_size)
    drift, vol = _log_step(mu, sigma, 1)
    rng = _rng(seed)
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


def terminal_returns(terminal_prices: FloatArray, s0: float) -> FloatArray:
    """Simple returns S_T / s0 - 1 of simulated terminal prices."""
    return np.asarray(terminal_prices, dtype=np.float64) / s0 - 1.0


def drawdown_summary(drawdowns: FloatArray) -> dict[str, object]:
    """Distribution of per-path max drawdowns (fractions of the running peak)."""
    p50, p90, p95, p99 = (float(q) for q in np.percentile(drawdowns, [50, 90, 95, 99]))
    return {
        "mean": float(drawdowns.mean()), "p50": p50, "p90": p90, "p95": p95, "p99": p99,
        "max": float(drawdowns.max()),
        "prob_at_least": {f"{level:g}": float(np.count_nonzero(drawdowns >= level) / drawdowns.size)
                          for level in DRAWDOWN_LEVELS},
    }
