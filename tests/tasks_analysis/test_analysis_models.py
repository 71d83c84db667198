"""The multi-model pieces in-process: each model's score, the weighted consensus, and the argument models."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from quant import technical_signal
from tasks.analysis.args import ModelArgs, MultiModelArgs, SentimentArgs, TechnicalArgs
from tasks.analysis.models import (
    InsufficientData,
    ModelSignal,
    NoUsableModel,
    consensus,
    mean_reversion_model,
    momentum_model,
    technical_model,
)


def _fields(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in exc.value.errors()]


def test_momentum_scores_the_return_over_its_look_back() -> None:
    # Given closes that rose from 100 to 110 over the last 20 bars
    closes = [90.0] * 5 + [100.0] + [105.0] * 19 + [110.0]
    # When / Then: the return is +10%, scored tanh(0.10 / 0.10)
    sig = momentum_model(closes, days=20)
    assert sig.details["return"] == pytest.approx(0.10)
    assert sig.score == pytest.approx(math.tanh(1.0)) and sig.signal == "buy"
    falling = momentum_model([100.0] * 20 + [97.0], days=20)
    assert falling.score == pytest.approx(math.tanh(-0.3)) and falling.signal == "sell"


def test_momentum_needs_one_more_close_than_its_look_back() -> None:
    with pytest.raises(InsufficientData, match="needs 21 closes, got 20"):
        momentum_model([100.0] * 20, days=20)


def test_mean_reversion_buys_a_close_stretched_below_its_twenty_day_mean() -> None:
    closes = [100.0, 102.0] * 9 + [101.0, 90.0]
    window = closes[-20:]
    mean = sum(window) / 20
    std = math.sqrt(sum((c - mean) ** 2 for c in window) / 20)
    z = (90.0 - mean) / std

    sig = mean_reversion_model(closes)

    assert sig.details["z"] == pytest.approx(z) and z < -1.0
    assert sig.signal == "buy" and sig.score == pytest.approx(-math.tanh(z / 2.0)) and (sig.score or 0.0) > 0


def test_a_flat_series_has_no_mean_reversion_signal() -> None:
    sig = mean_reversion_model([500.0] * 25)
    assert sig.details["z"] == 0.0 and sig.signal == "hold" and sig.score == 0.0


def test_the_technical_model_scales_quants_votes_to_minus_one_plus_one() -> None:
    # A steady rise, then a jump: overbought RSI (-1), a bullish MACD cross (+1), above the upper band (-1), uptrend
    # (+0.5), as quant's reasons say; the model keeps quant's verdict and divides the vote sum by the 3.5 maximum.
    closes = [100.0 + i for i in range(59)] + [200.0]
    ta = technical_signal(closes)
    assert any("bullish cross" in r for r in ta.reasons) and any("above upper" in r for r in ta.reasons)

    sig = technical_model(closes)

    assert sig.details["votes"] == pytest.approx(-1.0 + 1.0 - 1.0 + 0.5)
    assert sig.score == pytest.approx(-0.5 / 3.5) and sig.signal == ta.signal == "hold"


def test_the_consensus_is_the_weighted_mean_of_the_models_that_ran() -> None:
    signals = [
        ModelSignal(model="technical", signal="buy", score=0.6),
        ModelSignal(model="momentum", signal="sell", score=-0.3),
        ModelSignal(model="mean_reversion", signal=None, score=None, error="too few bars"),
    ]
    weights = {"technical": 2.0, "momentum": 1.0, "mean_reversion": 5.0}

    c = consensus(signals, weights)

    assert c.score == pytest.approx((2.0 * 0.6 + 1.0 * -0.3) / 3.0)  # 0.3: above the 0.15 threshold
    assert c.consensus == "buy" and c.used == ["technical", "momentum"] and c.failed == ["mean_reversion"]
    assert c.agreement == pytest.approx(2.0 / 3.0)
    assert c.models["mean_reversion"].error == "too few bars"


def test_a_weak_consensus_holds() -> None:
    signals = [ModelSignal(model="technical", signal="buy", score=0.2),
               ModelSignal(model="momentum", signal="sell", score=-0.1)]
    c = consensus(signals, {"technical": 1.0, "momentum": 1.0})
    assert c.score == pytest.approx(0.05) and c.consensus == "hold"


def test_no_consensus_without_a_model_that_ran_with_weight() -> None:
    failed = ModelSignal(model="momentum", signal=None, score=None, error="too few bars")
    zero = ModelSignal(model="technical", signal="buy", score=0.9)
    with pytest.raises(NoUsableModel, match="momentum"):
        consensus([failed, zero], {"momentum": 1.0, "technical": 0.0})


@pytest.mark.parametrize(
    ("model", "kwargs", "field"),
    [
        (TechnicalArgs, {"symbol": "7203"}, "symbol"),
        (TechnicalArgs, {"symbol": "7203.T", "period": "10y"}, "period"),
        (TechnicalArgs, {"symbol": "7203.T", "user_id": "a b"}, "user_id"),
        (TechnicalArgs, {"symbol": "7203.T", "colour": "red"}, "colour"),
        (SentimentArgs, {"headlines": []}, "headlines"),
        (SentimentArgs, {"headlines": ["ok"] * 501}, "headlines"),
        (SentimentArgs, {"headlines": ["ok", "x" * 1001]}, "headlines.1"),
        (MultiModelArgs, {"symbol": "7203.T", "models": ["sentiment"]}, "headlines"),
        (MultiModelArgs, {"symbol": "7203.T", "models": ["technical", "technical"]}, "models"),
        (MultiModelArgs, {"symbol": "7203.T", "models": ["astrology"]}, "models.0"),
        (MultiModelArgs, {"symbol": "7203.T", "weights": {"sentiment": 1.0}}, "weights"),
        (MultiModelArgs, {"symbol": "7203.T", "weights": {"technical": -1.0}}, "weights.technical"),
        (ModelArgs, {"model": "technical", "symbol": "7203.T", "parent_task_id": "a b"}, "parent_task_id"),
    ],
)
def test_invalid_arguments_name_the_field(model: type[Any], kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        model(**kwargs)
    assert field in _fields(exc)


def test_multi_model_runs_sentiment_only_when_headlines_are_given() -> None:
    assert MultiModelArgs(symbol="7203.T").models == ["technical", "momentum", "mean_reversion"]
    with_news = MultiModelArgs(symbol="7203.T", headlines=["増益"], weights={"sentiment": 3.0})
    assert with_news.models == ["technical", "momentum", "mean_reversion", "sentiment"]
