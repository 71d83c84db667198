"""Distribution risk metrics of simulated or historical returns: VaR, CVaR, moments and percentiles."""

import numpy as np

from quant._model import QuantModel
from quant._series import FloatArray, SeriesLike, as_finite_series

# Percentile levels reported in RiskMetrics.percentiles, keyed "p1", "p5", ...
PERCENTILE_LEVELS = (1, 5, 10, 25, 50, 75, 90, 95, 99)


class RiskMetrics(QuantModel):
    """Summary of a return distribution; VaR and CVaR are positive loss fractions (0.12 = 12% loss)."""

    n: int
    mean: float
    std: float  # sample std (ddof=1); 0.0 for a single observation
    min: float
    max: float
    prob_loss: float  # fraction of returns < 0
    var_95: float
    cvar_95: float
    var_99: float
    cvar_99: float
    percentiles: dict[str, float]


def value_at_risk(returns: SeriesLike, confidence: float) -> float:
    """Historical VaR: -quantile(returns, 1 - confidence), a positive number for a loss."""
    r = _non_empty(returns)
    _check_confidence(confidence)
    # Not clipped at 0: a negative VaR honestly says that even the tail outcome is a gain.
    return float(-np.quantile(r, 1.0 - confidence))


def conditional_value_at_risk(returns: SeriesLike, confidence: float) -> float:
    """Expected shortfall: -mean of the returns at or below the VaR quantile."""
    r = _non_empty(returns)
    _check_confidence(confidence)
    cutoff = np.quantile(r, 1.0 - confidence)
    # Never empty: a linearly interpolated quantile is >= the sample minimum.
    return float(-r[r <= cutoff].mean())


def risk_metrics(terminal_returns: SeriesLike) -> RiskMetrics:
    """VaR/CVaR at 95% and 99%, mean, std, extremes and percentiles of `terminal_returns`."""
    r = _non_empty(terminal_returns)
    quantiles = np.percentile(r, PERCENTILE_LEVELS)
    return RiskMetrics(
        n=int(r.size),
        mean=float(r.mean()),
        std=float(r.std(ddof=1)) if r.size > 1 else 0.0,
        min=float(r.min()),
        max=float(r.max()),
        prob_loss=float(np.count_nonzero(r < 0.0) / r.size),
        var_95=value_at_risk(r, 0.95),
        cvar_95=conditional_value_at_risk(r, 0.95),
        var_99=value_at_risk(r, 0.99),
        cvar_99=conditional_value_at_risk(r, 0.99),
        percentiles={f"p{level}": float(q) for level, q in zip(PERCENTILE_LEVELS, quantiles, strict=True)},
    )


def _non_empty(returns: SeriesLike) -> FloatArray:
    r = as_finite_series(returns, "returns")
    if r.size == 0:
        raise ValueError("returns must not be empty")
    return r


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
