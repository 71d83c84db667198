"""Sans-I/O halves of a list page: which indexes to read, how the newest-first merge becomes the page, and the
seed's list response built from the records read (progress.plans runs them; progress.search reuses them)."""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any

from progress.codec import read_record
from progress.config import StoreConfig
from progress.keys import Keys
from progress.models import Pagination, TaskList
from progress.ops import Cmd, Pipeline
from progress.status import TaskStatus


@dataclass(frozen=True, slots=True)
class ListPlan:
    """Which indexes to read and which slice of their newest-first merge is the page."""

    indexes: list[str]
    start: int
    stop: int
    page: int
    limit: int

    @property
    def first(self) -> int:
        """Rank to read each index from: the page itself from one index; from the top when merging several."""
        return self.start if len(self.indexes) == 1 else 0


def list_plan(
    keys: Keys,
    status: str | None,
    task_type: str | None,
    symbol: str | None,
    page: int,
    limit: int,
    *,
    task_name: str | None = None,
    type_names: dict[str, str] | None = None,
) -> ListPlan:
    """The sorted sets holding exactly the matching tasks (one, or one per status and filter form), and the
    page's ranks. `type_names` (task name -> type, see `needs_type_names`) finds records of older releases."""
    if not 1 <= page <= 10**9 or not 1 <= limit <= 1000:
        raise ValueError("page must be between 1 and 10^9 and limit between 1 and 1000")
    statuses = [TaskStatus(status).value] if status else [s.value for s in TaskStatus]  # ValueError names it
    forms = filter_forms(task_type or None, symbol or None, task_name or None, type_names or {})
    indexes = [keys.index(s, **form) for s in statuses for form in forms]
    start = (page - 1) * limit
    return ListPlan(indexes, start, start + limit - 1, page, limit)


def needs_type_names(task_type: str | None) -> bool:
    """Whether a listing must first read the task name -> type map (a filter by type)."""
    return bool(task_type)


def filter_forms(
    task_type: str | None, symbol: str | None, task_name: str | None, type_names: dict[str, str]
) -> list[dict[str, str]]:
    """The disjoint index filters whose union is the requested set of tasks.

    Records of releases before task names were stored have their full name as their type: a filter by type also
    reads the type indexes of the names recorded with that type, and a filter by name the type index of that name.
    """
    if task_name is not None:
        if task_type is not None or symbol is not None:
            raise ValueError("task_name filters alone (with a status): filter by task_type to combine with symbol")
        return [{"task_name": task_name}, {"task_type": task_name}]
    base = {"symbol": symbol} if symbol is not None else {}
    if task_type is None:
        return [base]
    forms = [{**base, "task_type": task_type}]
    forms += [{**base, "task_type": name} for name, t in sorted(type_names.items()) if t == task_type and name != t]
    if task_type in type_names and type_names[task_type] != task_type and symbol is None:
        forms.append({"task_name": task_type})  # a full name given as the type: today's records of that name
    return forms


def page_ids(plan: ListPlan, ranges: list[list[tuple[str, float]]]) -> list[str]:
    """The page from each index's newest `stop + 1` entries, merged newest first (ties by id, stable)."""
    if len(ranges) == 1:
        return [member for member, _ in ranges[0]]  # read from plan.first: already the page
    merged = heapq.merge(*ranges, key=lambda e: (-e[1], e[0]))
    return [member for member, _ in itertools.islice(merged, plan.start, plan.stop + 1)]


def page_reads(plan: ListPlan, keys: Keys) -> Pipeline:
    """The first read of a page, in one transaction: sizes, ranges, counts."""
    return Pipeline(
        [*(Cmd("zcard", (index,)) for index in plan.indexes),
         *(Cmd("zrevrange", (index, plan.first, plan.stop), {"withscores": True}) for index in plan.indexes),
         Cmd("hgetall", (keys.counts(),))],
        transaction=True,
    )


def read_page_replies(plan: ListPlan, replies: list[Any]) -> tuple[int, list[str], dict[str, str]]:
    """The total, the page's ids and the counts from the replies to `page_reads`."""
    n = len(plan.indexes)
    return sum(replies[:n]), page_ids(plan, replies[n : 2 * n]), replies[-1]


def build_list(
    plan: ListPlan,
    total: int,
    ids: list[str],
    hashes: list[dict[Any, Any]],
    counts: dict[str, str],
    cfg: StoreConfig,
    now_ms: int,
) -> tuple[TaskList, dict[str, list[str]]]:
    """Assembles the seed's list response and the damaged records left out of it (id -> problems); records deleted
    between the two reads are skipped too. One bad record never fails a page."""
    tasks = []
    damaged: dict[str, list[str]] = {}
    for tid, h in zip(ids, hashes, strict=True):
        if not h:
            continue
        record, problems = read_record(h, cfg.tz, now_ms, tid)
        if problems or record is None:
            damaged[tid] = problems
        else:
            tasks.append(record)
    return TaskList(
        tasks=tasks,
        pagination=Pagination(
            page=plan.page, limit=plan.limit, total=total, pages=max(1, math.ceil(total / plan.limit))
        ),
        summary=summary_from_counts(counts),
    ), damaged


def summary_from_counts(counts: dict[str, str]) -> dict[str, int]:
    """Per-status counts, every status present (zero included) so front ends need no defaults."""
    return {s.value: max(0, int(counts.get(s.value, 0) or 0)) for s in TaskStatus}
