"""Seed 001's health document: the reads it takes (per bucket; INFO alone) and the document built from the replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from progress.config import StoreConfig
from progress.keys import Keys
from progress.models import DependencyHealth, HealthReport, MemoryUsage
from progress.ops import Cmd, Pipeline, status_indexes, sum_counts
from progress.status import TaskStatus

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


def health_reads(keys: Keys, cfg: StoreConfig, now_ms: int) -> Pipeline:
    """The reads of the health document, per bucket: counts, today's tasks per status, stats, unreadable records.
    (INFO goes alone: a cluster cannot pipeline it.)"""
    midnight = start_of_day_ms(now_ms, cfg)
    cmds: list[Cmd] = []
    for b in keys.all_buckets():
        cmds += [Cmd("hgetall", (keys.counts(b),)),
                 *(Cmd("zcount", (index, midnight, "+inf")) for index in status_indexes(keys, b)),
                 Cmd("hgetall", (keys.stats(b),)),
                 Cmd("scard", (keys.unreadable(b),))]
    return Pipeline(cmds)


def memory_read() -> Cmd:
    """INFO memory (a cluster client asks every node)."""
    return Cmd("info", ("memory",))


def used_memory(reply: dict[str, Any]) -> dict[str, Any]:
    """INFO memory's `used_memory`, summed over the nodes when a cluster client answered per node."""
    if reply and all(isinstance(v, dict) for v in reply.values()):
        return {"used_memory": sum(int(v.get("used_memory", 0)) for v in reply.values())}
    return reply


def health_from_replies(ping_ms: float, replies: list[Any], memory: dict[str, Any]) -> HealthReport:
    """The health document from the replies to `health_reads` and INFO memory."""
    per = len(TaskStatus) + 3
    counts: list[dict[str, str]] = []
    stats: list[dict[str, str]] = []
    today = unreadable = 0
    for i in range(0, len(replies), per):
        chunk = replies[i : i + per]
        counts.append(chunk[0])
        today += sum(int(n) for n in chunk[1 : 1 + len(TaskStatus)])
        stats.append(chunk[-2])
        unreadable += int(chunk[-1] or 0)
    summed = {k: str(v) for k, v in sum_counts(counts).items()}
    return build_health(ping_ms, summed, today, {k: str(v) for k, v in sum_counts(stats).items()},
                        used_memory(memory), unreadable=unreadable)


def start_of_day_ms(now_ms: int, cfg: StoreConfig) -> int:
    """Midnight of the current day in the display time zone, in epoch ms."""
    now = datetime.fromtimestamp(now_ms / 1000.0, cfg.tz)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)
