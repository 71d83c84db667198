"""Long-only mean-variance optimisation (minimum variance, maximum Sharpe) with weights summing to 1."""

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from quant._model import QuantModel
from quant._series import FloatArray, require_int_at_least
from quant.performance import TRADING_DAYS_PER_YEAR
from quant.simplex import SimplexSolution, minimize_on_simplex

Objective = Literal["min_variance", "max_sharpe"]

# Relative tolerances for "this input is meant to be symmetric / PSD": sample covariances carry rounding noise.
_SYMMETRY_RTOL = 1e-8
_PSD_RTOL = 1e-10
# Beyond this condition number max-Sharpe is ill-posed (a near-riskless long-only combination makes the ratio explode,
# typically because there are fewer observations than assets), so it is refused instead of answered with noise.
_MAX_SHARPE_CONDITION = 1e10


class PortfolioResult(QuantModel):
    """Optimal weights with the portfolio's annualised expected return, volatility and Sharpe ratio."""

    objective: Objective
    weights: dict[str, float]
    expected_annual_return: float  # arithmetic: periods_per_year * mean periodic return
    annual_volatility: float
    sharpe: float | None  # None for a zero-volatility portfolio
    risk_free: float
    converged: bool
    iterations: int


def _as_covariance(cov: npt.ArrayLike) -> FloatArray:
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"cov must be a non-empty square matrix, got shape {c.shape}")
    if not bool(np.all(np.isfinite(c))):
        raise ValueError("cov must contain only finite numbers")
    scale = max(float(np.abs(c).max()), np.finfo(np.float64).tiny)
    if float(np.abs(c - c.T).max()) > _SYMMETRY_RTOL * scale:
        raise ValueError("cov must be symmetric")
    c = 0.5 * (c + c.T)  # remove the rounding asymmetry so eigvalsh and the solver see the same matrix
    if float(np.linalg.eigvalsh(c)[0]) < -_PSD_RTOL * scale:
        raise ValueError("cov must be positive semi-definite")
    return c


def _restricted_solution(c: FloatArray, rhs: FloatArray, support: npt.NDArray[np.bool_]) -> FloatArray | None:
    """Solve C_SS y = rhs_S and normalise to weights; None when that is not a valid long-only candidate."""
    idx = np.flatnonzero(support)
    try:
        y = np.linalg.solve(c[np.ix_(idx, idx)], rhs[idx])
    except np.linalg.LinAlgError:
        return None  # singular on this support: let projected gradient carry on
    total = float(y.sum())
    if not math.isfinite(total) or total <= 0.0:
        return None
    w = np.zeros(c.shape[0])
    w[idx] = y / total
    # Weights that should be exactly 0 come out as +-1e-17; anything clearly negative means the support is wrong.
    if float(w.min()) < -1e-12:
        return None
    return np.maximum(w, 0.0)


def _solve_min_variance(c: FloatArray) -> SimplexSolution:
    n = c.shape[0]
    lam_max = float(np.linalg.eigvalsh(c)[-1])
    if lam_max <= 0.0:
        # A zero matrix: every portfolio has zero variance, so return the least arbitrary one.
        return SimplexSolution(weights=np.full(n, 1.0 / n), iterations=0, converged=True)

    def value_and_gradient(w: FloatArray) -> tuple[float, FloatArray]:
        cw = c @ w
        return float(w @ cw), 2.0 * cw

    ones = np.ones(n)
    # On a fixed support S the minimiser is C_SS^-1 1 / (1' C_SS^-1 1): the classic closed form.
    return minimize_on_simplex(
        value_and_gradient,
        ones / n,
        lipschitz=2.0 * lam_max,  # exact Lipschitz constant of the gradient 2Cw
        support_solver=lambda s: _restricted_solution(c, ones, s),
    )


def _solve_max_sharpe(mu: FloatArray, c: FloatArray, risk_free: float) -> SimplexSolution:
    excess = mu - risk_free
    if not bool(np.any(excess > 0.0)):
        # With every excess return <= 0 the "best" Sharpe is not a meaningful optimisation target.
        raise ValueError("max_sharpe needs at least one asset whose expected return exceeds the risk-free rate")
    variances = np.diag(c)
    if bool(np.any((variances <= 0.0) & (excess > 0.0))):
        raise ValueError("an asset with zero variance and positive excess return makes the Sharpe ratio unbounded")
    eigenvalues = np.linalg.eigvalsh(c)
    if float(eigenvalues[0]) <= float(eigenvalues[-1]) / _MAX_SHARPE_CONDITION:
        raise ValueError(
            "cov is singular or nearly so (fewer observations than assets?): max_sharpe is ill-posed; "
            "use more history, fewer assets or min_variance"
        )

    def value_and_gradient(w: FloatArray) -> tuple[float, FloatArray]:
        cw = c @ w
        var = float(w @ cw)
        if var <= 0.0:
            raise ValueError("cov is singular: a zero-variance portfolio exists, so the Sharpe ratio is unbounded")
        sd = math.sqrt(var)
        ret = float(excess @ w)
        # Minimise -Sharpe; the Sharpe ratio is pseudo-concave where ret > 0, so any KKT point is the global optimum.
        return -ret / sd, -(excess / sd - ret * cw / (sd * var))

    # Start from the best single asset: its Sharpe is > 0, and descent keeps it so (the pseudo-concave region).
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(variances > 0.0, excess / np.sqrt(np.where(variances > 0.0, variances, 1.0)), -np.inf)
    x0 = np.zeros(c.shape[0])
    x0[int(np.argmax(ratios))] = 1.0
    _, g0 = value_and_gradient(x0)
    # On a fixed support the tangency portfolio is C_SS^-1 (mu - rf)_S, normalised to sum to 1.
    return minimize_on_simplex(
        value_and_gradient,
        x0,
        lipschitz=10.0 * float(np.abs(g0).max()),  # rough guess; the line search adapts it
        support_solver=lambda s: _restricted_solution(c, excess, s),
    )


def min_variance(cov: npt.ArrayLike) -> list[float]:
    """Long-only minimum-variance weights (sum to 1) for covariance matrix `cov`."""
    return [float(w) for w in _solve_min_variance(_as_covariance(cov)).weights]


def max_sharpe(mean_returns: npt.ArrayLike, cov: npt.ArrayLike, risk_free: float = 0.0) -> list[float]:
    """Long-only maximum-Sharpe (tangency) weights (sum to 1); inputs must share one period (e.g. annual)."""
    c = _as_covariance(cov)
    mu = np.asarray(mean_returns, dtype=np.float64).ravel()
    if mu.size != c.shape[0] or not bool(np.all(np.isfinite(mu))) or not math.isfinite(risk_free):
        raise ValueError("mean_returns must be finite with one entry per row of cov, and risk_free finite")
    return [float(w) for w in _solve_max_sharpe(mu, c, risk_free).weights]


def optimize_portfolio(
    data: Sequence[Sequence[float]] | FloatArray,
    symbols: Sequence[str],
    objective: Objective = "max_sharpe",
    *,
    data_kind: Literal["prices", "returns"] = "prices",
    risk_free: float = 0.0,
    periods_per_year: int = TRADING_DAYS_PER_YEAR,
) -> PortfolioResult:
    """Optimise weights from a (time x asset) matrix of prices or periodic returns; risk_free is annual."""
    require_int_at_least(periods_per_year, 1, "periods_per_year")
    m = np.asarray(data, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != len(symbols) or len(symbols) == 0:
        raise ValueError(f"data must be a (time x {len(symbols)}) matrix, one column per symbol; got shape {m.shape}")
    if len(set(symbols)) != len(symbols):
        raise ValueError("symbols must be unique")
    if not bool(np.all(np.isfinite(m))) or not math.isfinite(risk_free):
        raise ValueError("data and risk_free must be finite")
    if data_kind == "prices":
        if bool(np.any(m <= 0.0)):
            raise ValueError("prices must be strictly positive")
        returns = m[1:] / m[:-1] - 1.0
    else:
        returns = m
    if returns.shape[0] < 2:
        raise ValueError("need at least 2 return observations to estimate a covariance matrix")

    # Annualise first so that risk_free, the optimiser and the reported figures all use one unit.
    mu = returns.mean(axis=0) * periods_per_year
    cov = np.atleast_2d(np.cov(returns, rowvar=False, ddof=1)) * periods_per_year
    c = _as_covariance(cov)
    solution = _solve_min_variance(c) if objective == "min_variance" else _solve_max_sharpe(mu, c, risk_free)

    w = solution.weights
    expected = float(w @ mu)
    vol = math.sqrt(max(float(w @ c @ w), 0.0))  # clamp -1e-20 style rounding before the sqrt
    return PortfolioResult(
        objective=objective,
        weights={s: float(x) for s, x in zip(symbols, w, strict=True)},
        expected_annual_return=expected,
        annual_volatility=vol,
        sharpe=(expected - risk_free) / vol if vol > 0.0 else None,
        risk_free=risk_free,
        converged=solution.converged,
        iterations=solution.iterations,
    )
