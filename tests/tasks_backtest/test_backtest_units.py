"""In-process checks of the backtest task helpers: curve thinning, argument limits, batch-boundary cancel."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from quant.montecarlo import estimate_gbm, simulate_paths, simulate_terminal
from tasks.backtest.curve import keep_indices
from tasks.backtest.tasks import monte_carlo_simulation, portfolio_optimization, strategy_backtest
from tracking.errors import InvalidTaskArguments


def _max_drawdown(values: list[float]) -> float:
    peak, worst = values[0], 0.0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, (peak - v) / peak)
    return worst


def test_a_thinned_equity_curve_keeps_its_ends_and_its_max_drawdown() -> None:
    rng = np.random.default_rng(3)
    equity = (1000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, 5000)))).tolist()

    keep = keep_indices(equity, limit=1000)

    assert len(keep) <= 1000 and keep == sorted(set(keep))
    assert keep[0] == 0 and keep[-1] == len(equity) - 1
    assert _max_drawdown([equity[i] for i in keep]) == pytest.approx(_max_drawdown(equity), rel=1e-12)


def test_a_short_equity_curve_is_returned_whole() -> None:
    assert keep_indices([1.0, 2.0, 0.5], limit=1000) == [0, 1, 2]


@pytest.mark.parametrize(
    ("task", "kwargs", "field"),
    [
        (strategy_backtest, {"symbol": "7203.T", "fee_rate": 0.06}, "fee_rate"),
        (strategy_backtest, {"symbol": "7203.T", "fast": 30, "slow": 10}, "slow"),
        (strategy_backtest, {"symbol": "7203", "period": "1y"}, "symbol"),
        (strategy_backtest, {"symbol": "7203.T", "period": "7y"}, "period"),
        (strategy_backtest, {"symbol": "7203.T", "leverage": 2}, "leverage"),
        (strategy_backtest, {"dates": ["2024-01-04", "2024-01-04"], "closes": [1.0, 2.0]}, "dates"),
        (portfolio_optimization, {"symbols": ["7203.T", "7203.T"]}, "symbols"),
        (portfolio_optimization, {"symbols": ["7203.T"]}, "symbols"),
        (portfolio_optimization, {"symbols": [f"{1000 + i}.T" for i in range(51)]}, "symbols"),
        (monte_carlo_simulation, {"symbol": "7203.T", "n_paths": 10_000_001}, "n_paths"),
        (monte_carlo_simulation, {"symbol": "7203.T", "batch_size": 1_000_001}, "batch_size"),
        (monte_carlo_simulation, {"symbol": "7203.T", "n_paths": 100_000, "batch_size": 5}, "batch_size"),
        (monte_carlo_simulation, {"symbol": "7203.T", "horizon_days": 0}, "horizon_days"),
        (monte_carlo_simulation, {"symbol": "7203.T", "horizon_days": 2521}, "horizon_days"),
    ],
)
def test_invalid_arguments_fail_in_the_caller_naming_the_field(task: object, kwargs: dict[str, object],
                                                                field: str) -> None:
    with pytest.raises(InvalidTaskArguments) as err:
        task.delay(**kwargs)  # type: ignore[attr-defined]
    assert field in {e["field"] for e in err.value.errors}


def test_a_monte_carlo_needs_a_symbol_or_all_three_parameters() -> None:
    with pytest.raises(InvalidTaskArguments, match="give a symbol, or all of s0, mu and sigma"):
        monte_carlo_simulation.delay(s0=100.0, mu=0.05)


@pytest.mark.parametrize("simulate", [simulate_terminal, simulate_paths])
def test_a_callback_that_raises_at_a_batch_boundary_stops_the_simulation_there(simulate: object) -> None:
    calls: list[int] = []

    def on_batch(done: int, total: int) -> None:
        calls.append(done)
        if done == 3:
            raise KeyboardInterrupt  # stands in for TaskCancelled: anything raised must stop the run

    with pytest.raises(KeyboardInterrupt):
        simulate(0.05, 0.2, 5, 1000, 100, 1, on_batch)  # type: ignore[operator]
    assert calls == [1, 2, 3]


def test_gbm_estimates_use_annualised_daily_log_returns() -> None:
    closes = [100.0, 101.0, 99.0, 102.0, 103.0]
    logs = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    m = sum(logs) / len(logs)
    sd = math.sqrt(sum((x - m) ** 2 for x in logs) / (len(logs) - 1))

    mu, sigma = estimate_gbm(closes)

    assert sigma == pytest.approx(sd * math.sqrt(252))
    assert mu == pytest.approx(m * 252 + 0.5 * (sd * math.sqrt(252)) ** 2)
