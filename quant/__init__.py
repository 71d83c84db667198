"""Quantitative analytics for the Japanese-equities task runner: indicators, backtests, portfolios, risk, sentiment.

Pure numpy + pydantic; nothing here imports Celery or Redis, so every function can be called and tested in-process.
Inputs and outputs crossing the package boundary are plain floats/lists or frozen pydantic models whose
`model_dump(mode="json")` is JSON-safe (undefined values are None, never NaN).
"""

from quant.backtest import BacktestResult, EquityPoint, OpenPosition, StrategyParams, Trade, run_backtest
from quant.indicators import (
    BollingerBands,
    MacdSeries,
    TechnicalAnalysis,
    bollinger,
    ema,
    macd,
    rsi,
    sma,
    technical_signal,
)
from quant.lexicon import Lexicon, load_default_lexicon
from quant.montecarlo import simulate_gbm_batches, terminal_returns
from quant.performance import cagr, max_drawdown, sharpe_ratio
from quant.portfolio import PortfolioResult, max_sharpe, min_variance, optimize_portfolio
from quant.risk import RiskMetrics, conditional_value_at_risk, risk_metrics, value_at_risk
from quant.sentiment import HeadlineSentiment, SentimentReport, TermMatch, score_headline, score_headlines
from quant.simplex import project_to_simplex

__all__ = [
    "BacktestResult",
    "BollingerBands",
    "EquityPoint",
    "HeadlineSentiment",
    "Lexicon",
    "MacdSeries",
    "OpenPosition",
    "PortfolioResult",
    "RiskMetrics",
    "SentimentReport",
    "StrategyParams",
    "TechnicalAnalysis",
    "TermMatch",
    "Trade",
    "bollinger",
    "cagr",
    "conditional_value_at_risk",
    "ema",
    "load_default_lexicon",
    "macd",
    "max_drawdown",
    "max_sharpe",
    "min_variance",
    "optimize_portfolio",
    "project_to_simplex",
    "risk_metrics",
    "rsi",
    "run_backtest",
    "score_headline",
    "score_headlines",
    "sharpe_ratio",
    "simulate_gbm_batches",
    "sma",
    "technical_signal",
    "terminal_returns",
    "value_at_risk",
]
