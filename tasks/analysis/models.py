"""The models of a multi-model analysis and their weighted consensus (pure functions over closes and headlines).

Each model gives a score in [-1, 1] (positive: bullish) and its own buy/sell/hold signal; the consensus is the
weighted mean score of the models that succeeded, read with CONSENSUS_THRESHOLD.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from quant import score_headlines, technical_signal

Signal = Literal["buy", "sell", "hold"]

# technical_signal's votes: RSI, MACD cross and Bollinger count 1 each, the SMA trend 0.5.
MAX_TECHNICAL_VOTES = 3.5
# A 10% move over the look-back gives a momentum score of tanh(1) ~ 0.76.
MOMENTUM_SCALE = 0.10
MODEL_THRESHOLD = 0.25
MEAN_REVERSION_WINDOW = 20
# Closes more than one standard deviation from their 20-day mean are expected to revert.
Z_ENTRY = 1.0
CONSENSUS_THRESHOLD = 0.15


class InsufficientData(ValueError):
    """A model cannot run on the data it was given (too few bars)."""


class ModelSignal(BaseModel):
    """One model's verdict; `error` set (and signal/score None) when the model could not run."""

    model_config = ConfigDict(extra="forbid")

    model: str
    signal: Signal | None
    score: float | None
    details: dict[str, Any] = {}
    error: str | None = None


class Consensus(BaseModel):
    """The weighted consensus of several models."""

    consensus: Signal
    score: float
    agreement: float  # share of the total weight whose model agrees with the consensus signal
    models: dict[str, ModelSignal]
    weights: dict[str, float]
    used: list[str]
    failed: list[str]


class NoUsableModel(ValueError):
    """No model succeeded, or every model that did has weight 0."""


def _signal(score: float, threshold: float) -> Signal:
    if score >= threshold:
        return "buy"
    if score <= -threshold:
        return "sell"
    return "hold"


def technical_model(closes: Sequence[float]) -> ModelSignal:
    """quant's rule-based technical signal, its vote sum scaled to [-1, 1]."""
    if not closes:
        raise InsufficientData("the technical model needs at least one close")
    ta = technical_signal(closes)
    return ModelSignal(model="technical", signal=ta.signal, score=ta.score / MAX_TECHNICAL_VOTES,
                       details={"votes": ta.score, "rsi14": ta.rsi14, "reasons": ta.reasons})


def momentum_model(closes: Sequence[float], days: int = 20) -> ModelSignal:
    """The return over the last `days` bars: rising prices are expected to keep rising."""
    if len(closes) < days + 1:
        raise InsufficientData(f"the momentum model needs {days + 1} closes, got {len(closes)}")
    ret = closes[-1] / closes[-1 - days] - 1.0
    score = math.tanh(ret / MOMENTUM_SCALE)
    return ModelSignal(model="momentum", signal=_signal(score, MODEL_THRESHOLD), score=score,
                       details={"days": days, "return": ret})


def mean_reversion_model(closes: Sequence[float]) -> ModelSignal:
    """The z-score of the last close against its 20-day mean: stretched prices are expected to come back."""
    if len(closes) < MEAN_REVERSION_WINDOW:
        raise InsufficientData(f"the mean-reversion model needs {MEAN_REVERSION_WINDOW} closes, got {len(closes)}")
    window = closes[-MEAN_REVERSION_WINDOW:]
    mean = statistics.fmean(window)
    std = statistics.pstdev(window)
    z = 0.0 if std == 0.0 else (closes[-1] - mean) / std
    signal: Signal = "buy" if z <= -Z_ENTRY else "sell" if z >= Z_ENTRY else "hold"
    return ModelSignal(model="mean_reversion", signal=signal, score=-math.tanh(z / 2.0),
                       details={"sma20": mean, "std20": std, "z": z})


def sentiment_model(headlines: Sequence[str]) -> ModelSignal:
    """The mean lexicon sentiment of the headlines: good news is expected to lift the price."""
    if not headlines:
        raise InsufficientData("the sentiment model needs headlines")
    report = score_headlines(list(headlines))
    signal: Signal = {"positive": "buy", "negative": "sell", "neutral": "hold"}[report.label]  # type: ignore[assignment]
    return ModelSignal(model="sentiment", signal=signal, score=report.score,
                       details={"label": report.label, "headlines": len(headlines), "n_positive": report.n_positive,
                                "n_negative": report.n_negative, "n_neutral": report.n_neutral})


def consensus(signals: Sequence[ModelSignal], weights: Mapping[str, float]) -> Consensus:
    """The weighted mean score of the models that succeeded; raises NoUsableModel when none can vote."""
    used = [s for s in signals if s.error is None and s.score is not None and weights.get(s.model, 0.0) > 0.0]
    failed = [s.model for s in signals if s.error is not None]
    total = sum(weights[s.model] for s in used)
    if not used or total <= 0.0:
        raise NoUsableModel(f"no model produced a usable signal (failed: {failed or 'none'})")
    score = sum(weights[s.model] * (s.score or 0.0) for s in used) / total
    verdict = _signal(score, CONSENSUS_THRESHOLD)
    agreeing = sum(weights[s.model] for s in used if s.signal == verdict)
    return Consensus(consensus=verdict, score=score, agreement=agreeing / total,
                     models={s.model: s for s in signals},
                     weights={s.model: weights.get(s.model, 0.0) for s in signals},
                     used=[s.model for s in used], failed=failed)


def run_model(model: str, closes: Sequence[float], headlines: Sequence[str] | None, momentum_days: int) -> ModelSignal:
    """Runs the model named `model`."""
    if model == "technical":
        return technical_model(closes)
    if model == "momentum":
        return momentum_model(closes, momentum_days)
    if model == "mean_reversion":
        return mean_reversion_model(closes)
    if model == "sentiment":
        return sentiment_model(headlines or ())
    raise ValueError(f"unknown model {model!r}")
