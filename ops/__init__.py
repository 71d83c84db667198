"""Operations on a running deployment: the broker view, the stale-task sweep, metrics, health."""
