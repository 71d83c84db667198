"""backtest tasks (see the task-families issue)."""
