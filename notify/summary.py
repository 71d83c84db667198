"""The daily operations summary: tasks created in the last 24 h, counted by status and by task type."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection
from datetime import datetime

from pydantic import BaseModel, Field

from notify.models import NotificationType
from progress import ProgressStore, TaskStatus
from progress.ops import status_indexes

DAY_S = 86_400
_CHUNK = 500


class DailySummary(BaseModel):
    """Counts of the tasks created in one window (statuses as they are now)."""

    window_start: datetime
    window_end: datetime
    total: int
    by_status: dict[str, int] = Field(description="every status, zeros included")
    by_type: dict[str, int]
    by_type_status: dict[str, dict[str, int]]


def daily_summary(
    store: ProgressStore, *, now_ms: int | None = None, window_s: int = DAY_S, exclude: Collection[str] = (),
    owner: str | None = None,
) -> DailySummary:
    """Counts the tasks created in the window from the per-status indexes (cost bounded by the window's tasks);
    with `owner`, only the tasks enqueued for that user (their record's metadata.user_id)."""
    end = store.now_ms() if now_ms is None else now_ms
    start = end - window_s * 1000
    by_status: Counter[str] = Counter()
    by_type_status: dict[str, Counter[str]] = {}
    for index in status_indexes(store.keys):  # one sorted set per status: together, every task
        offset = 0
        while True:
            # Paged, so a busy day never makes one huge reply.
            ids: list[str] = store.redis.zrangebyscore(  # type: ignore[assignment]
                index, start, end, start=offset, num=_CHUNK
            )
            offset += len(ids)
            wanted = [i for i in ids if i not in exclude]
            pipe = store.redis.pipeline(transaction=False)
            for tid in wanted:
                pipe.hmget(store.keys.record(tid), "status", "type", "meta")
            for status, task_type, meta in pipe.execute() if wanted else []:
                if status is None:
                    continue  # removed by cleanup between the two reads
                if owner is not None and _owner(meta) != owner:
                    continue
                by_status[status] += 1
                by_type_status.setdefault(task_type or "", Counter())[status] += 1
            if len(ids) < _CHUNK:
                break
    tz = store.config.tz
    return DailySummary(
        window_start=datetime.fromtimestamp(start / 1000.0, tz),
        window_end=datetime.fromtimestamp(end / 1000.0, tz),
        total=sum(by_status.values()),
        by_status={s.value: by_status.get(s.value, 0) for s in TaskStatus},
        by_type={t: sum(c.values()) for t, c in sorted(by_type_status.items())},
        by_type_status={t: dict(sorted(c.items())) for t, c in sorted(by_type_status.items())},
    )


def _owner(meta: str | None) -> str | None:
    """metadata.user_id of a record's stored metadata JSON (the API records who enqueued the task there)."""
    try:
        decoded = json.loads(meta) if meta else None
    except ValueError:
        return None
    user = decoded.get("user_id") if isinstance(decoded, dict) else None
    return user if isinstance(user, str) else None


def render(summary: DailySummary) -> tuple[NotificationType, str, str]:
    """The summary as a notification: its type (warning when tasks failed), title and text."""
    failed = summary.by_status.get(TaskStatus.ERROR.value, 0)
    kind = NotificationType.WARNING if failed else NotificationType.SUCCESS
    title = f"Daily summary: {summary.total} tasks, {failed} failed"
    lines = [f"Tasks created {summary.window_start:%Y-%m-%d %H:%M} - {summary.window_end:%Y-%m-%d %H:%M}: "
             f"{summary.total}"]
    lines.append("By status: " + ", ".join(f"{s} {n}" for s, n in summary.by_status.items() if n) or "none")
    lines += [f"- {t}: " + ", ".join(f"{s} {n}" for s, n in c.items()) for t, c in summary.by_type_status.items()]
    text = "\n".join(lines)
    if len(text) > 4_900:
        text = text[:4_900] + "\n..."
    return kind, title, text
