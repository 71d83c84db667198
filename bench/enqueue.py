"""enqueue: publishing with progress-record creation vs plain apply_async."""

from __future__ import annotations

import redis

from bench.common import ScenarioResult, interleaved, median


def run(base_url: str, *, rounds: int = 8, per_round: int = 250) -> ScenarioResult:
    """Alternating rounds of plain and tracked publishes to a queue no worker consumes; medians."""
    from worker import app, load_tasks

    load_tasks()
    plain, tracked = app.tasks["tasks.diagnostics.noop"], app.tasks["tasks.diagnostics.tracked_noop"]
    s = interleaved(
        {
            "plain": lambda: plain.apply_async(queue="backtest"),
            "tracked": lambda: tracked.apply_async(kwargs={"updates": 0}, queue="backtest"),
        },
        rounds=rounds,
        per_round=per_round,
    )
    for db in (1, 2):
        redis.Redis.from_url(f"{base_url}/{db}").flushdb()
    plain_rate, tracked_rate = 1 / median(s["plain"]), 1 / median(s["tracked"])
    return ScenarioResult(
        name="enqueue",
        measured={"tracked_publishes_per_s": tracked_rate},
        baseline={"plain_publishes_per_s": plain_rate},
        ratio=tracked_rate / plain_rate,
        ratio_meaning="publishes/s with record creation / plain apply_async publishes/s",
        target=">= 0.9 of the plain rate",
        met=tracked_rate / plain_rate >= 0.9,
        notes=f"{rounds} alternating rounds of {per_round}; tracked includes argument validation and the record "
              "(its creation sent before the message, its answer read after: the round trips overlap)",
    )
