"""Portfolio optimisers checked against closed forms and against brute-force comparisons on the simplex."""

import json
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quant.portfolio import max_sharpe, min_variance, optimize_portfolio
from quant.simplex import project_to_simplex


def two_asset_cov(s1: float, s2: float, rho: float) -> list[list[float]]:
    return [[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]]


def test_min_variance_with_diagonal_covariance_is_proportional_to_inverse_variance() -> None:
    variances = [0.04, 0.09, 0.01, 0.16]
    cov = [[v if i == j else 0.0 for j in range(4)] for i, v in enumerate(variances)]
    inverse_total = sum(1 / v for v in variances)
    assert min_variance(cov) == pytest.approx([(1 / v) / inverse_total for v in variances], abs=1e-9)


def test_min_variance_of_two_assets_matches_the_analytic_weight() -> None:
    s1, s2, rho = 0.2, 0.3, 0.3
    w1 = (s2**2 - rho * s1 * s2) / (s1**2 + s2**2 - 2 * rho * s1 * s2)
    assert min_variance(two_asset_cov(s1, s2, rho)) == pytest.approx([w1, 1 - w1], abs=1e-9)


def test_min_variance_clips_to_a_corner_when_the_unconstrained_optimum_would_short() -> None:
    s1, s2, rho = 0.1, 0.3, 0.9
    unconstrained_w1 = (s2**2 - rho * s1 * s2) / (s1**2 + s2**2 - 2 * rho * s1 * s2)
    assert unconstrained_w1 > 1  # would short asset 2
    assert min_variance(two_asset_cov(s1, s2, rho)) == pytest.approx([1.0, 0.0], abs=1e-9)


def test_max_sharpe_with_diagonal_covariance_is_proportional_to_excess_return_over_variance() -> None:
    mu, variances, rf = [0.08, 0.12, 0.05], [0.04, 0.09, 0.01], 0.02
    cov = np.diag(variances).tolist()
    raw = [(m - rf) / v for m, v in zip(mu, variances, strict=True)]
    assert max_sharpe(mu, cov, risk_free=rf) == pytest.approx([r / sum(raw) for r in raw], abs=1e-9)


def test_max_sharpe_gives_zero_weight_to_an_uncorrelated_asset_below_the_risk_free_rate() -> None:
    # Diagonal KKT: held assets have w ∝ (mu - rf)/var; an uncorrelated asset with mu < rf only lowers the ratio.
    mu, variances, rf = [0.10, 0.01, 0.07], [0.04, 0.02, 0.03], 0.02
    weights = max_sharpe(mu, np.diag(variances).tolist(), risk_free=rf)
    raw = [0.08 / 0.04, 0.0, 0.05 / 0.03]
    assert weights == pytest.approx([r / sum(raw) for r in raw], abs=1e-9)


def test_max_sharpe_of_two_correlated_assets_matches_the_tangency_formula() -> None:
    cov = np.array(two_asset_cov(0.2, 0.25, 0.4))
    excess = np.array([0.06, 0.08])
    # Tangency portfolio Σ^-1 e / 1'Σ^-1 e, written out for 2x2 via the adjugate.
    a, b, d = cov[0, 0], cov[0, 1], cov[1, 1]
    y = [d * excess[0] - b * excess[1], a * excess[1] - b * excess[0]]
    assert min(y) > 0
    assert max_sharpe(excess, cov) == pytest.approx([y[0] / sum(y), y[1] / sum(y)], abs=1e-9)


@settings(max_examples=25, deadline=None, database=None)
@given(st.integers(min_value=2, max_value=8), st.integers(min_value=0, max_value=2**32 - 1))
def test_optimal_weights_are_long_only_sum_to_one_and_beat_random_portfolios(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n + 5, n))
    cov = a.T @ a / (n + 5) + 0.01 * np.eye(n)
    mu = rng.normal(0.05, 0.1, n)
    mu[0] = abs(mu[0]) + 0.01  # at least one asset above the risk-free rate
    candidates = rng.dirichlet(np.ones(n), size=500)
    candidates = np.vstack([candidates, np.eye(n)])  # include every single-asset portfolio

    w = np.array(min_variance(cov))
    assert (w >= 0).all() and math.isclose(w.sum(), 1.0, abs_tol=1e-12)
    assert w @ cov @ w <= min(c @ cov @ c for c in candidates) + 1e-12

    w = np.array(max_sharpe(mu, cov))
    assert (w >= 0).all() and math.isclose(w.sum(), 1.0, abs_tol=1e-12)
    best_random = max((c @ mu) / math.sqrt(c @ cov @ c) for c in candidates)
    assert (w @ mu) / math.sqrt(w @ cov @ w) >= best_random - 1e-12


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(st.floats(min_value=-10, max_value=10), min_size=1, max_size=12))
def test_simplex_projection_matches_a_bisection_on_the_threshold(v: list[float]) -> None:
    # The projection is max(v - theta, 0) where theta solves sum(max(v - theta, 0)) = 1; find theta by bisection.
    lo, hi = min(v) - 1.0, max(v)
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(max(x - mid, 0.0) for x in v) > 1 else (lo, mid)
    expected = [max(x - lo, 0.0) for x in v]
    assert project_to_simplex(v).tolist() == pytest.approx(expected, abs=1e-9)


def test_optimize_portfolio_from_prices_matches_the_two_asset_closed_form_on_sample_statistics() -> None:
    r_a = [0.010, -0.004, 0.006, 0.002, -0.008, 0.012, 0.001, -0.003]
    r_b = [-0.002, 0.005, 0.001, 0.007, 0.003, -0.004, 0.006, 0.002]
    prices = [[100.0, 50.0]]
    for ra, rb in zip(r_a, r_b, strict=True):
        prices.append([prices[-1][0] * (1 + ra), prices[-1][1] * (1 + rb)])

    result = optimize_portfolio(prices, ["7203.T", "6758.T"], "min_variance")

    var_a, var_b, cov_ab = statistics.variance(r_a), statistics.variance(r_b), statistics.covariance(r_a, r_b)
    w_a = (var_b - cov_ab) / (var_a + var_b - 2 * cov_ab)
    assert 0 < w_a < 1
    assert result.weights == pytest.approx({"7203.T": w_a, "6758.T": 1 - w_a}, abs=1e-9)
    annual_return = 252 * (w_a * statistics.mean(r_a) + (1 - w_a) * statistics.mean(r_b))
    annual_vol = math.sqrt(252 * (w_a**2 * var_a + (1 - w_a) ** 2 * var_b + 2 * w_a * (1 - w_a) * cov_ab))
    assert result.expected_annual_return == pytest.approx(annual_return, rel=1e-9)
    assert result.annual_volatility == pytest.approx(annual_vol, rel=1e-9)
    assert result.sharpe == pytest.approx(annual_return / annual_vol, rel=1e-9)
    assert result.converged
    json.dumps(result.model_dump(mode="json"), allow_nan=False)


def test_optimize_portfolio_accepts_returns_and_is_deterministic() -> None:
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0005, 0.01, size=(250, 4)) @ np.array(
        [[1, 0.3, 0, 0], [0, 1, 0.2, 0], [0, 0, 1, 0.5], [0, 0, 0, 1.0]]
    )
    symbols = ["A", "B", "C", "D"]
    first = optimize_portfolio(returns, symbols, "max_sharpe", data_kind="returns")
    second = optimize_portfolio(returns.tolist(), symbols, "max_sharpe", data_kind="returns")
    assert first == second
    assert math.isclose(sum(first.weights.values()), 1.0, abs_tol=1e-12)


def test_invalid_optimisation_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="risk-free"):
        max_sharpe([0.01, 0.02], np.eye(2).tolist(), risk_free=0.05)
    with pytest.raises(ValueError, match="singular"):
        max_sharpe([0.05, 0.05], [[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        min_variance([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="semi-definite"):
        min_variance([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="unique"):
        optimize_portfolio([[1.0, 1.0], [1.1, 1.2], [1.2, 1.1]], ["A", "A"])
