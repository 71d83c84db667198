"""maintenance tasks (see the task-families issue)."""
