"""notifications tasks (see the task-families issue)."""
