"""Operations on a running deployment: the broker view, the stale-task and step-timeout sweeps, metrics, health."""
