"""market_data tasks (see the task-families issue)."""
