"""analysis tasks (see the task-families issue)."""
