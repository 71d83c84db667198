"""Terminal views (rich): the task table and live progress bars."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from progress import ProgressStore, TaskList, TaskRecord

console = Console()
_COLORS = {"created": "dim", "running": "cyan", "paused": "yellow", "completed": "green", "error": "red",
           "cancelled": "magenta"}


def task_table(lst: TaskList) -> None:
    """Prints a page of tasks and the summary."""
    table = Table(title=f"tasks (page {lst.pagination.page}/{lst.pagination.pages}, {lst.pagination.total} in all)")
    for col in ("task_id", "type", "symbol", "status", "progress", "message"):
        table.add_column(col)
    for t in lst.tasks:
        color = _COLORS.get(t.status.value, "")
        table.add_row(t.task_id, t.task_type, t.symbol or "", f"[{color}]{t.status.value}[/]",
                      f"{t.progress.current}/{t.progress.total} ({t.progress.percentage:g}%)", t.current_status[:60])
    console.print(table)
    console.print("summary: " + ", ".join(f"{k}={v}" for k, v in lst.summary.items()))


def watch_bars(store: ProgressStore, task_ids: Sequence[str], *, labels: dict[str, str] | None = None,
               poll: float = 0.1, timeout: float = 3600) -> dict[str, TaskRecord]:
    """Live bars for the tasks until all have ended; returns their final records."""
    final: dict[str, TaskRecord] = {}
    columns = (TextColumn("{task.description}", justify="left"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[status]}"), TimeRemainingColumn(), TextColumn("{task.fields[msg]}"))
    with Progress(*columns, console=console, transient=False) as bars:
        handles = {tid: bars.add_task((labels or {}).get(tid, tid[:8]), total=None, status="", msg="")
                   for tid in task_ids}
        deadline = time.monotonic() + timeout
        while len(final) < len(task_ids) and time.monotonic() < deadline:
            for tid in task_ids:
                if tid in final:
                    continue
                rec = store.get_task_status(tid)
                if rec is None:
                    continue
                color = _COLORS.get(rec.status.value, "")
                total = rec.progress.total or None
                done = rec.progress.current
                if rec.status.value == "completed" and not total:
                    total, done = 1, 1
                bars.update(handles[tid], total=total, completed=done, status=f"[{color}]{rec.status.value}[/]",
                            msg=(rec.error_message or rec.current_status)[:50])
                if rec.status.is_terminal:
                    final[tid] = rec
            time.sleep(poll)
    return final
