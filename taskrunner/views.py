"""Terminal views (rich): the task table and live progress bars."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from progress import ProgressStore, TaskList, TaskRecord

console = Console()
# 13 characters of a uuid4 (8 hex, dash, 4 hex: 48 random bits) name one task among millions, as git's short ids do;
# `taskrunner status` and the other commands take any unique prefix.
ID_PREFIX = 13
_COLORS = {"created": "dim", "running": "cyan", "paused": "yellow", "completed": "green", "error": "red",
           "cancelled": "magenta"}


def task_table(lst: TaskList) -> None:
    """Prints a page of tasks and the summary within the terminal's width (80 columns when not a terminal).

    Ids are shown as prefixes `taskrunner status ID` accepts, never cut; the type and the message give way.
    """
    shown = short_ids([t.task_id for t in lst.tasks])
    id_w = max([2, *map(len, shown)])
    type_w = min(20, max([4, *(len(t.task_type) for t in lst.tasks)]))
    fixed = id_w + type_w + 6 + 9 + 5 + 5  # symbol, status, done and one space between each of the 6 columns
    msg_w = max(0, console.width - fixed - 1)
    table = Table(title=f"tasks (page {lst.pagination.page}/{lst.pagination.pages}, {lst.pagination.total} in all)",
                  box=None, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold")
    table.add_column("id", no_wrap=True, width=id_w)
    table.add_column("type", no_wrap=True, overflow="ellipsis", width=type_w)
    table.add_column("symbol", no_wrap=True, overflow="ellipsis", width=6)
    table.add_column("status", no_wrap=True, width=9)
    table.add_column("done", no_wrap=True, justify="right", width=5)
    table.add_column("message", no_wrap=True, overflow="ellipsis", width=msg_w)
    for t, short in zip(lst.tasks, shown, strict=True):
        color = _COLORS.get(t.status.value, "")
        table.add_row(short, t.task_type, t.symbol or "", f"[{color}]{t.status.value}[/]",
                      f"{t.progress.percentage:.0f}%", t.error_message or t.current_status)
    console.print(table)
    console.print("summary: " + ", ".join(f"{k}={v}" for k, v in lst.summary.items()))


def short_ids(ids: Sequence[str], length: int = ID_PREFIX) -> list[str]:
    """Each id cut to `length` characters, longer where that prefix is shared by another id shown."""
    out = []
    for tid in ids:
        n = min(length, len(tid))
        while n < len(tid) and any(o != tid and o.startswith(tid[:n]) for o in ids):
            n += 1
        out.append(tid[:n])
    return out


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
