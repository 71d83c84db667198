"""Backtests: strategies, portfolio optimisation and Monte Carlo simulation."""
