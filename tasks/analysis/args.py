"""Arguments of the analysis tasks: one pydantic model per task, validated at publish and again in the worker."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from tasks.analysis.store import DEFAULT_TTL_S
from tracking.ownership import OWNS_USER, OwnedTaskId

Symbol = Annotated[str, Field(pattern=r"^[0-9]{4}\.T$", description="TSE code plus '.T', e.g. 7203.T")]
PeriodName = Literal["1mo", "3mo", "6mo", "1y", "2y", "5y"]
# What the API's `analysis:<user>` topic accepts, so every user a task announces to can subscribe.
UserId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,128}$", description="announce the result to this user"),
                   OWNS_USER]
Headline = Annotated[str, Field(min_length=1, max_length=1000)]
Headlines = Annotated[list[Headline], Field(min_length=1, max_length=500)]
TtlS = Annotated[int, Field(ge=1, le=30 * 86_400, description="seconds the result is kept")]
ModelName = Literal["technical", "momentum", "mean_reversion", "sentiment"]
Weight = Annotated[float, Field(ge=0.0, le=1_000.0, allow_inf_nan=False)]

PRICE_MODELS: tuple[ModelName, ...] = ("technical", "momentum", "mean_reversion")


def _resolved(models: list[ModelName] | None, headlines: list[str] | None) -> list[ModelName]:
    """The models to run: as given, else the price models plus sentiment when there are headlines."""
    if models is not None:
        return list(models)
    return [*PRICE_MODELS, *(("sentiment",) if headlines else ())]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TechnicalArgs(_Args):
    """Arguments of `stock_technical_analysis`."""

    symbol: Symbol
    period: PeriodName = "1y"
    user_id: UserId | None = None
    ttl_s: TtlS = DEFAULT_TTL_S


class SentimentArgs(_Args):
    """Arguments of `sentiment_analysis`."""

    headlines: Headlines
    symbol: Symbol | None = None
    user_id: UserId | None = None
    ttl_s: TtlS = DEFAULT_TTL_S


class MultiModelArgs(_Args):
    """Arguments of `multi_model_analysis`; models default to the price models, plus sentiment given headlines.

    Cross-field checks are field validators (not one model validator), so an error names the field at fault.
    """

    symbol: Symbol
    models: list[ModelName] | None = Field(default=None, min_length=1, max_length=4)
    headlines: Headlines | None = Field(default=None, validate_default=True)
    weights: dict[ModelName, Weight] | None = None
    period: PeriodName = "1y"
    momentum_days: int = Field(default=20, ge=1, le=250, description="look-back of the momentum model")
    user_id: UserId | None = None
    ttl_s: TtlS = DEFAULT_TTL_S

    @field_validator("models")
    @classmethod
    def _distinct(cls, models: list[ModelName] | None) -> list[ModelName] | None:
        if models is not None and len(set(models)) != len(models):
            raise ValueError("each model may be named once")
        return models

    @field_validator("headlines")
    @classmethod
    def _headlines_for_sentiment(cls, headlines: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if "sentiment" in (info.data.get("models") or ()) and not headlines:
            raise ValueError("the sentiment model needs headlines")
        return headlines

    @field_validator("weights")
    @classmethod
    def _weights_of_models(cls, weights: dict[str, float] | None, info: ValidationInfo) -> dict[str, float] | None:
        if weights is None or "models" not in info.data:
            return weights
        models = _resolved(info.data.get("models"), info.data.get("headlines"))
        unused = sorted(set(weights) - set(models))
        if unused:
            raise ValueError(f"{unused} are not among the models {models}")
        if sum(weights.get(m, 1.0) for m in models) <= 0.0:
            raise ValueError("at least one model needs a positive weight")
        return weights

    @model_validator(mode="after")
    def _resolve_models(self) -> Self:
        self.models = _resolved(self.models, self.headlines)
        return self

    def model_weights(self) -> dict[str, float]:
        """Each model's weight (1.0 where none was given)."""
        given = self.weights or {}
        return {m: float(given.get(m, 1.0)) for m in self.models or ()}


class ModelArgs(_Args):
    """Arguments of `run_model`, one child of a multi-model analysis."""

    model: ModelName
    symbol: Symbol
    period: PeriodName = "1y"
    headlines: Headlines | None = None
    momentum_days: int = Field(default=20, ge=1, le=250)
    parent_task_id: OwnedTaskId | None = None


class ConsensusArgs(_Args):
    """Arguments of `finish_consensus`, the chord callback (the children's results come first)."""

    results: list[dict[str, Any]]
    parent_task_id: OwnedTaskId
    weights: dict[str, Weight]
    symbol: Symbol
    period: PeriodName
    user_id: UserId | None = None
    ttl_s: TtlS = DEFAULT_TTL_S


class CleanupArgs(_Args):
    """Arguments of `cleanup_expired_analysis`."""

    batch: int = Field(default=500, ge=1, le=10_000, description="results removed per round trip")
