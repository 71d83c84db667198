"""GBM simulation checked against the analytic lognormal law; risk metrics against hand-computed quantiles."""

import json
import math
from statistics import NormalDist

import numpy as np
import pytest

from quant.montecarlo import simulate_gbm_batches, terminal_returns
from quant.risk import risk_metrics

S0, MU, SIGMA, DAYS = 2500.0, 0.08, 0.25, 21


def test_var_and_cvar_of_simulated_log_returns_match_the_analytic_normal_values() -> None:
    batches = list(simulate_gbm_batches(S0, MU, SIGMA, DAYS, n_paths=400_000, batch_size=50_000, seed=12345))
    log_returns = np.log(np.concatenate(batches) / S0)
    metrics = risk_metrics(log_returns)

    t = DAYS / 252
    law = NormalDist((MU - SIGMA**2 / 2) * t, SIGMA * math.sqrt(t))
    for level, var, cvar in ((0.95, metrics.var_95, metrics.cvar_95), (0.99, metrics.var_99, metrics.cvar_99)):
        z = NormalDist().inv_cdf(level)
        expected_var = -law.inv_cdf(1 - level)
        # Normal expected shortfall: mean - sd * pdf(z) / (1 - level).
        expected_cvar = -(law.mean - law.stdev * NormalDist().pdf(z) / (1 - level))
        assert var == pytest.approx(expected_var, rel=0.02)
        assert cvar == pytest.approx(expected_cvar, rel=0.02)
    assert metrics.mean == pytest.approx(law.mean, abs=5 * law.stdev / math.sqrt(400_000))
    assert metrics.std == pytest.approx(law.stdev, rel=0.01)


def test_mean_terminal_price_grows_at_mu_thanks_to_the_ito_correction() -> None:
    prices = np.concatenate(list(simulate_gbm_batches(S0, MU, SIGMA, 252, 200_000, 64_000, seed=3)))
    t = 1.0
    sd_of_mean = S0 * math.exp(MU * t) * math.sqrt(math.exp(SIGMA**2 * t) - 1) / math.sqrt(prices.size)
    assert prices.mean() == pytest.approx(S0 * math.exp(MU * t), abs=5 * sd_of_mean)


def test_zero_volatility_gives_the_deterministic_growth_path() -> None:
    (prices,) = simulate_gbm_batches(100.0, 0.05, 0.0, 126, 10, 10, seed=0)
    assert prices.tolist() == pytest.approx([100.0 * math.exp(0.05 * 0.5)] * 10)


def test_batches_have_the_requested_sizes_and_the_same_seed_reproduces_them() -> None:
    first = list(simulate_gbm_batches(S0, MU, SIGMA, DAYS, 10, 4, seed=99))
    again = list(simulate_gbm_batches(S0, MU, SIGMA, DAYS, 10, 4, seed=99))
    other = list(simulate_gbm_batches(S0, MU, SIGMA, DAYS, 10, 4, seed=100))
    assert [b.size for b in first] == [4, 4, 2]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_a_caller_can_stop_between_batches_without_simulating_the_rest() -> None:
    # 10^12 paths would never fit in memory: only the batches actually consumed are generated.
    batches = simulate_gbm_batches(S0, MU, SIGMA, DAYS, 10**12, 1_000, seed=1)
    assert next(batches).shape == (1_000,)


def test_invalid_simulation_parameters_fail_at_call_time() -> None:
    with pytest.raises(ValueError):
        simulate_gbm_batches(S0, MU, -0.1, DAYS, 10, 10, seed=1)
    with pytest.raises(ValueError):
        simulate_gbm_batches(0.0, MU, SIGMA, DAYS, 10, 10, seed=1)
    with pytest.raises(ValueError):
        simulate_gbm_batches(S0, MU, SIGMA, DAYS, 10, 0, seed=1)


def test_risk_metrics_of_an_evenly_spaced_sample_match_hand_computed_quantiles() -> None:
    returns = [(i - 10) / 100 for i in range(21)]  # -0.10, -0.09, ..., +0.10
    m = risk_metrics(returns)
    # Linear interpolation: the 5% quantile sits at position 20 * 0.05 = 1 -> -0.09; the 1% at 0.2 -> -0.098.
    assert m.var_95 == pytest.approx(0.09)
    assert m.cvar_95 == pytest.approx((0.10 + 0.09) / 2)
    assert m.var_99 == pytest.approx(0.098)
    assert m.cvar_99 == pytest.approx(0.10)
    assert m.mean == pytest.approx(0.0, abs=1e-15)
    assert m.prob_loss == pytest.approx(10 / 21)
    assert m.percentiles["p50"] == pytest.approx(0.0, abs=1e-15)
    assert m.percentiles["p25"] == pytest.approx(-0.05)
    assert m.min == pytest.approx(-0.10)
    assert m.max == pytest.approx(0.10)
    assert m.n == 21
    json.dumps(m.model_dump(mode="json"), allow_nan=False)


def test_terminal_returns_are_relative_to_the_start_price() -> None:
    assert terminal_returns(np.array([110.0, 90.0]), 100.0).tolist() == pytest.approx([0.10, -0.10])
