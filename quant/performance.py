"""Performance statistics of an equity curve: max drawdown, Sharpe ratio, CAGR."""

import math

import numpy as np

from quant._series import SeriesLike, as_finite_series, require_int_at_least

TRADING_DAYS_PER_YEAR = 252


def max_drawdown(equity: SeriesLike) -> float:
    """Largest peak-to-trough fall of `equity` as a positive fraction of the peak (0.25 = -25%)."""
    e = as_finite_series(equity, "equity")
    if e.size == 0:
        return 0.0
    if bool(np.any(e < 0.0)):
        raise ValueError("equity must be non-negative")
    peaks = np.maximum.accumulate(e)
    # A zero peak means nothing was ever invested: there is nothing to lose, so count it as no drawdown.
    drawdowns = np.divide(peaks - e, peaks, out=np.zeros_like(e), where=peaks > 0.0)
    return float(drawdowns.max())


def sharpe_ratio(returns: SeriesLike, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float | None:
    """Annualised Sharpe ratio of periodic returns (risk-free 0, sample std); None if undefined."""
    require_int_at_least(periods_per_year, 1, "periods_per_year")
    r = as_finite_series(returns, "returns")
    # None rather than 0 or inf: with fewer than two returns or zero volatility the ratio is genuinely undefined.
    if r.size < 2 or float(np.ptp(r)) == 0.0:
        return None
    return float(r.mean() / r.std(ddof=1) * math.sqrt(periods_per_year))


def cagr(
    start_value: float, end_value: float, n_periods: int, periods_per_year: int = TRADING_DAYS_PER_YEAR
) -> float | None:
    """Compound annual growth rate over `n_periods` periods; None if undefined or not representable."""
    require_int_at_least(periods_per_year, 1, "periods_per_year")
    if n_periods <= 0 or not start_value > 0.0 or not end_value >= 0.0:
        return None
    try:
        value = (end_value / start_value) ** (periods_per_year / n_periods) - 1.0
    except OverflowError:
        # Annualising a big move over a few days can exceed float range; that number would be meaningless anyway.
        return None
    return value if math.isfinite(value) else None
