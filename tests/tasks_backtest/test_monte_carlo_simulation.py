"""monte_carlo_simulation through the real session worker: analytic lognormal tails, estimates, cancel."""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist

import numpy as np
import pytest
from celery.result import AsyncResult

from market import get_provider
from progress import ProgressStore, TaskStatus
from tasks.backtest.tasks import monte_carlo_simulation
from tests.helpers import wait_until
from worker import app

pytestmark = pytest.mark.integration

N = NormalDist()


def _lognormal_tails(mu: float, sigma: float, days: int, confidence: float) -> tuple[float, float]:
    """(VaR, CVaR) of R = exp(a + b Z) - 1 with a = (mu - sigma^2/2) T, b = sigma sqrt(T)."""
    t = days / 252
    a, b = (mu - sigma**2 / 2) * t, sigma * math.sqrt(t)
    alpha = 1 - confidence
    z = N.inv_cdf(alpha)
    var = 1 - math.exp(a + b * z)
    # E[e^(a+bZ); Z < z] = e^(a + b^2/2) Phi(z - b)
    cvar = 1 - math.exp(a + b * b / 2) * N.cdf(z - b) / alpha
    return var, cvar


def test_var_and_cvar_of_given_parameters_match_the_lognormal_distribution(worker_store: ProgressStore) -> None:
    res = monte_carlo_simulation.delay(s0=1000.0, mu=0.08, sigma=0.3, horizon_days=252, n_paths=400_000,
                                       batch_size=50_000, seed=7)
    out = res.get(timeout=60)

    risk = out["risk"]
    for level in (95, 99):
        var, cvar = _lognormal_tails(0.08, 0.3, 252, level / 100)
        # Several standard errors of the empirical quantile at 400,000 draws (about 0.001 at 99%).
        assert risk[f"var_{level}"] == pytest.approx(var, abs=0.005)
        assert risk[f"cvar_{level}"] == pytest.approx(cvar, abs=0.005)
        assert out["loss_per_share"][f"var_{level}"] == pytest.approx(1000.0 * risk[f"var_{level}"])
    assert risk["mean"] == pytest.approx(math.exp(0.08) - 1, abs=0.003)
    assert risk["n"] == 400_000 and out["n_batches"] == 8 and out["max_drawdown"] is None
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.COMPLETED and rec.progress.current == rec.progress.total == 8


def test_daily_paths_have_the_same_terminal_law_and_drawdowns_at_least_the_final_loss(
    worker_store: ProgressStore,
) -> None:
    out = monte_carlo_simulation.delay(s0=500.0, mu=0.0, sigma=0.4, horizon_days=21, n_paths=100_000,
                                       batch_size=25_000, seed=3, path_stats=True).get(timeout=60)

    var, _ = _lognormal_tails(0.0, 0.4, 21, 0.95)
    assert out["risk"]["var_95"] == pytest.approx(var, abs=0.005)
    # A path that ends 10% down fell at least 10% from its peak (the start counts as a peak).
    t = 21 / 252
    p_end_down = N.cdf((math.log(0.9) + 0.08 * t) / (0.4 * math.sqrt(t)))
    assert out["max_drawdown"]["prob_at_least"]["0.1"] >= p_end_down - 0.005
    assert 0.0 < out["max_drawdown"]["p50"] < out["max_drawdown"]["p99"] < 1.0


def test_a_riskless_drift_gives_one_outcome_and_no_drawdown(worker_store: ProgressStore) -> None:
    out = monte_carlo_simulation.delay(s0=100.0, mu=0.1, sigma=0.0, horizon_days=10, n_paths=1000,
                                       batch_size=300, path_stats=True).get(timeout=60)

    growth = math.exp(0.1 * 10 / 252) - 1
    assert out["risk"]["var_99"] == pytest.approx(-growth, rel=1e-9)
    assert out["risk"]["min"] == pytest.approx(out["risk"]["max"], rel=1e-9)
    assert out["max_drawdown"]["max"] == 0.0 and out["n_batches"] == 4


def test_a_symbol_gives_s0_and_annualised_log_return_estimates_from_its_bars(worker_store: ProgressStore) -> None:
    end = dt.date(2024, 6, 28)
    out = monte_carlo_simulation.delay(symbol="9984.T", period="1y", end=end.isoformat(),
                                       n_paths=1000, batch_size=1000).get(timeout=60)

    closes = np.array([b.close for b in get_provider("synthetic").fetch("9984.T", "1y", end)])
    logs = np.diff(np.log(closes))
    sigma = logs.std(ddof=1) * math.sqrt(252)
    assert out["s0"] == closes[-1] and out["sigma"] == pytest.approx(sigma)
    assert out["mu"] == pytest.approx(logs.mean() * 252 + sigma**2 / 2)
    assert out["estimate"]["source"] == "synthetic" and out["estimate"]["bars"] == 252


def test_a_run_cancelled_halfway_ends_cancelled_within_one_batch(worker_store: ProgressStore) -> None:
    # Daily stepping makes each batch of 100,000 paths x 126 days take a noticeable fraction of a second, so the
    # remaining 20 batches leave ample room for the cancel to land before the run could finish.
    res = monte_carlo_simulation.delay(s0=100.0, mu=0.05, sigma=0.2, horizon_days=126, n_paths=4_000_000,
                                       batch_size=100_000, path_stats=True)

    def halfway() -> bool:
        rec = worker_store.get_task_status(res.id)
        return rec is not None and rec.progress.total == 40 and rec.progress.current >= 20

    wait_until(halfway, timeout=60, what="half of the batches done")
    at_cancel = worker_store.cancel_task(res.id).progress.current

    wait_until(lambda: AsyncResult(res.id, app=app).state == "REVOKED", timeout=30, what="the task to stop")
    rec = worker_store.require(res.id)
    assert rec.status is TaskStatus.CANCELLED and rec.results == {}
    assert 20 <= rec.progress.current <= at_cancel + 1 < 40
