"""Argument models of the backtest tasks: every limit is checked when published and again in the worker."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from market import validate_symbol

PeriodName = Literal["1mo", "3mo", "6mo", "1y", "2y", "5y"]
StrategyName = Literal["sma_crossover", "rsi_mean_reversion"]
Objective = Literal["min_variance", "max_sharpe"]

# A user series longer than 20 years of sessions is not a daily backtest any more, and it bounds the trade list.
MAX_USER_BARS = 5_040
# Each batch costs one Redis round trip (the cancel check), so the batch count is what bounds that overhead.
MAX_BATCHES = 10_000
# Daily stepping draws n_paths * horizon_days normals: about 2.5e9 is tens of minutes on one core, the most a
# task under the one-hour time limit should accept.
MAX_PATH_STEPS = 2_500_000_000
# `end` is declared last in each model: positional task arguments map onto fields in declaration order.
_END_HELP = "as-of date of loaded bars; default the last completed session"


def _symbol(value: str | None) -> str | None:
    return None if value is None else validate_symbol(value)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)



class BacktestArgs(_Args):
    """Arguments of strategy_backtest: a stored/synthetic symbol, or a user series given as dates + closes."""

    symbol: str | None = Field(default=None, description="TSE code like 7203.T; optional with dates/closes")
    strategy: StrategyName = "sma_crossover"
    fast: int = Field(default=20, ge=1, le=500, description="sma_crossover: fast SMA window")
    slow: int = Field(default=50, ge=2, le=1000, description="sma_crossover: slow SMA window (> fast)")
    rsi_period: int = Field(default=14, ge=1, le=500, description="rsi_mean_reversion: RSI window")
    lower: float = Field(default=30.0, ge=0, le=100, description="rsi_mean_reversion: buy below this RSI")
    upper: float = Field(default=70.0, ge=0, le=100, description="rsi_mean_reversion: sell above this RSI (> lower)")
    period: PeriodName = "2y"
    initial_cash: float = Field(default=1_000_000.0, gt=0, le=1e12)
    fee_rate: float = Field(default=0.001, ge=0, le=0.05, description="fraction of notional paid on each side")
    dates: list[dt.date] | None = Field(default=None, max_length=MAX_USER_BARS, description="user series dates")
    closes: list[float] | None = Field(default=None, max_length=MAX_USER_BARS, description="user series closes")
    end: dt.date | None = Field(default=None, description=_END_HELP)

    @field_validator("symbol")
    @classmethod
    def _check_symbol(cls, value: str | None) -> str | None:
        return _symbol(value)

    @field_validator("slow")
    @classmethod
    def _slow_after_fast(cls, value: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")
        if info.data.get("strategy") == "sma_crossover" and fast is not None and value <= fast:
            raise ValueError(f"slow ({value}) must be longer than fast ({fast})")
        return value

    @field_validator("upper")
    @classmethod
    def _upper_above_lower(cls, value: float, info: ValidationInfo) -> float:
        lower = info.data.get("lower")
        if info.data.get("strategy") == "rsi_mean_reversion" and lower is not None and value <= lower:
            raise ValueError(f"upper ({value}) must be above lower ({lower})")
        return value

    @field_validator("dates")
    @classmethod
    def _increasing(cls, value: list[dt.date] | None) -> list[dt.date] | None:
        if value is not None and any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("dates must be strictly increasing")
        return value

    @field_validator("closes")
    @classmethod
    def _positive(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(not (math.isfinite(c) and c > 0) for c in value):
            raise ValueError("closes must be finite and > 0")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.dates is None) != (self.closes is None):
            raise ValueError("dates and closes come together (a user series) or not at all")
        if self.closes is None and self.symbol is None:
            raise ValueError("give a symbol, or a user series as dates and closes")
        if self.closes is not None and self.dates is not None:
            if len(self.closes) != len(self.dates):
                raise ValueError(f"dates ({len(self.dates)}) and closes ({len(self.closes)}) differ in length")
            if len(self.closes) < 2:
                raise ValueError("a user series needs at least 2 bars")
        return self


class PortfolioArgs(_Args):
    """Arguments of portfolio_optimization."""

    symbols: list[str] = Field(min_length=2, max_length=50, description="2..50 unique TSE codes")
    objective: Objective = "max_sharpe"
    period: PeriodName = "1y"
    risk_free: float = Field(default=0.0, ge=-0.1, le=0.5, description="annual risk-free rate (max_sharpe)")
    end: dt.date | None = Field(default=None, description=_END_HELP)

    @field_validator("symbols")
    @classmethod
    def _unique_symbols(cls, value: list[str]) -> list[str]:
        checked = [validate_symbol(s) for s in value]
        if len(set(checked)) != len(checked):
            raise ValueError("symbols must be unique")
        return checked


class MonteCarloArgs(_Args):
    """Arguments of monte_carlo_simulation: a symbol (mu/sigma estimated from its bars) or s0/mu/sigma."""

    symbol: str | None = Field(default=None, description="estimate s0/mu/sigma from this symbol's bars")
    period: PeriodName = Field(default="1y", description="history used for the estimate (with symbol)")
    s0: float | None = Field(default=None, gt=0, le=1e9, description="start price (overrides the last close)")
    mu: float | None = Field(default=None, ge=-5, le=5, description="annual drift (overrides the estimate)")
    sigma: float | None = Field(default=None, ge=0, le=5, description="annual volatility (overrides the estimate)")
    horizon_days: int = Field(default=21, ge=1, le=2520, description="trading days ahead (252 a year)")
    n_paths: int = Field(default=100_000, ge=1, le=10_000_000)
    batch_size: int = Field(default=100_000, ge=1, le=1_000_000)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    path_stats: bool = Field(default=False, description="step every day to also report each path's max drawdown")
    end: dt.date | None = Field(default=None, description=_END_HELP)

    @field_validator("symbol")
    @classmethod
    def _check_symbol(cls, value: str | None) -> str | None:
        return _symbol(value)

    @field_validator("batch_size")
    @classmethod
    def _bounded_batches(cls, value: int, info: ValidationInfo) -> int:
        n_paths = info.data.get("n_paths")
        if n_paths is not None and -(-n_paths // value) > MAX_BATCHES:
            raise ValueError(f"n_paths / batch_size gives more than {MAX_BATCHES} batches: use bigger batches")
        return value

    @field_validator("path_stats")
    @classmethod
    def _bounded_steps(cls, value: bool, info: ValidationInfo) -> bool:
        n_paths, horizon = info.data.get("n_paths"), info.data.get("horizon_days")
        if value and n_paths is not None and horizon is not None and n_paths * horizon > MAX_PATH_STEPS:
            raise ValueError(f"path_stats needs n_paths * horizon_days <= {MAX_PATH_STEPS:.1e}")
        return value

    @model_validator(mode="after")
    def _parameters_known(self) -> Self:
        if self.symbol is None and (self.s0 is None or self.mu is None or self.sigma is None):
            raise ValueError("give a symbol, or all of s0, mu and sigma")
        return self

    @property
    def n_batches(self) -> int:
        """How many batches the run has (the last may be smaller)."""
        return -(-self.n_paths // self.batch_size)
