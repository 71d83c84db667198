"""Builds seed 001's health document from what Redis answered."""

from __future__ import annotations

from typing import Any

from progress.models import DependencyHealth, HealthReport, MemoryUsage

VERSION = "0.1.0"


def build_health(
    ping_ms: float | None,
    counts: dict[str, str],
    today: int,
    stats: dict[str, str],
    memory: dict[str, Any],
    *,
    unreadable: int = 0,
) -> HealthReport:
    """The health report; unhealthy when Redis did not answer (ping_ms is None)."""
    stored = sum(max(0, int(v or 0)) for v in counts.values())
    return HealthReport(
        status="healthy" if ping_ms is not None else "unhealthy",
        version=VERSION,
        active_tasks=int(counts.get("running", 0) or 0),
        total_tasks_today=int(today),
        memory_usage=MemoryUsage(
            tasks_in_memory=stored, memory_usage_mb=round(int(memory.get("used_memory", 0)) / 1_048_576, 2)
        ),
        dependencies={
            "redis": DependencyHealth(
                status="connected" if ping_ms is not None else "disconnected",
                response_time_ms=None if ping_ms is None else round(ping_ms, 3),
            )
        },
        ignored_updates=int(stats.get("ignored_updates", 0) or 0),
        unreadable_records=unreadable,
        superseded_writes=int(stats.get("superseded_writes", 0) or 0),
    )
