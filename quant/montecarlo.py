"""Monte Carlo simulation of geometric Brownian motion terminal prices, in batches.

Batches let a Celery task report progress and honour cancellation between batches, and keep memory bounded when
n_paths is large. Only terminal prices are simulated: exact GBM needs no time-stepping for a terminal distribution.
"""

import math
from collections.abc import Iterator

import numpy as np
from numpy.random import PCG64, Generator

from quant._series import FloatArray, require_int_at_least
from quant.performance import TRADING_DAYS_PER_YEAR
from quant.risk import RiskMetrics, risk_metrics

__all__ = ["RiskMetrics", "risk_metrics", "simulate_gbm_batches", "terminal_returns"]


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
    if not (math.isfinite(s0) and s0 > 0.0):
        raise ValueError("s0 must be a positive finite number")
    if not (math.isfinite(mu) and math.isfinite(sigma) and sigma >= 0.0):
        raise ValueError("mu must be finite and sigma finite and >= 0")
    require_int_at_least(horizon_days, 1, "horizon_days")
    require_int_at_least(n_paths, 1, "n_paths")
    require_int_at_least(batch_size, 1, "batch_size")
    require_int_at_least(seed, 0, "seed")
    # This function is not itself a generator so that bad arguments raise here, not at the caller's first next().
    return _batches(
        s0=s0, mu=mu, sigma=sigma, horizon_days=horizon_days, n_paths=n_paths, batch_size=batch_size, seed=seed
    )


def _batches(
    *, s0: float, mu: float, sigma: float, horizon_days: int, n_paths: int, batch_size: int, seed: int
) -> Iterator[FloatArray]:
    t = horizon_days / TRADING_DAYS_PER_YEAR
    # Exact solution of dS = mu S dt + sigma S dW: the -sigma^2/2 Ito term makes E[S_T] = s0 * exp(mu T).
    drift = (mu - 0.5 * sigma * sigma) * t
    vol = sigma * math.sqrt(t)
    # One explicit PCG64 stream per run: same seed, same batches, on every numpy version that keeps PCG64 stable.
    rng = Generator(PCG64(seed))
    remaining = n_paths
    while remaining > 0:
        size = min(batch_size, remaining)
        z = rng.standard_normal(size)
        yield s0 * np.exp(drift + vol * z)
        remaining -= size


def terminal_returns(terminal_prices: FloatArray, s0: float) -> FloatArray:
    """Simple returns S_T / s0 - 1 of simulated terminal prices."""
    return np.asarray(terminal_prices, dtype=np.float64) / s0 - 1.0
