"""Sans-I/O halves of a list page: which indexes to read (every bucket's), how their newest-first merge becomes
the page (by number, or after a `(score, id)` cursor), and the seed's list response built from the records read
(progress.plans runs them; progress.search reuses them)."""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from progress.codec import read_record
from progress.config import StoreConfig
from progress.keys import Keys
from progress.models import Pagination, TaskList
from progress.ops import Cmd, Pipeline, sum_counts
from progress.status import TaskStatus


@dataclass(frozen=True, slots=True)
class ListPlan:
    """Which indexes to read (every bucket's) and which slice of their newest-first merge is the page."""

    indexes: list[str]
    start: int
    stop: int
    page: int
    limit: int
    #: The cursor (score, id) the page starts after, if given: then each index reads at most `limit` entries.
    after: tuple[float, str] | None = None

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
    after: str | None = None,
) -> ListPlan:
    """The sorted sets holding exactly the matching tasks (one per bucket, or one per bucket, status and filter
    form), and the page's ranks. `type_names` (task name -> type, see `needs_type_names`) finds records of older
    releases; `after` (a page's `next_cursor`) starts the page after that entry instead of at `page`."""
    if not 1 <= page <= 10**9 or not 1 <= limit <= 1000:
        raise ValueError("page must be between 1 and 10^9 and limit between 1 and 1000")
    statuses = [TaskStatus(status).value] if status else [s.value for s in TaskStatus]  # ValueError names it
    forms = filter_forms(task_type or None, symbol or None, task_name or None, type_names or {})
    indexes = [keys.index(s, bucket=b, **form) for b in keys.all_buckets() for s in statuses for form in forms]
    start = (page - 1) * limit
    return ListPlan(indexes, start, start + limit - 1, page, limit, parse_cursor(after))


def parse_cursor(after: str | None) -> tuple[float, str] | None:
    """A page cursor "<score>:<task id>" as (score, id); raises ValueError naming `after` when malformed."""
    if after is None:
        return None
    score, sep, task_id = after.partition(":")
    try:
        value = float(score)
    except ValueError:
        value = math.nan
    if not sep or not task_id or not math.isfinite(value):
        raise ValueError(f"after must be a page cursor like '1700000000000.0:<task id>', not {after!r}")
    return value, task_id


def cursor_of(entry: tuple[str, float]) -> str:
    """The cursor of a page's last entry (member, score): the next page starts after it."""
    return f"{entry[1]!r}:{entry[0]}"


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


def _newest_first(e: tuple[str, float]) -> tuple[float, str]:
    # Redis's own reverse order: score, then member, both descending (ties exist across buckets).
    return e[1], e[0]


def page_entries(plan: ListPlan, ranges: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """The page's (id, score) entries from each index's range, merged newest first."""
    if plan.after is not None:
        # Per index: the entries with the cursor's score and a smaller id, then those with a lower score.
        after_id = plan.after[1]
        merged_inputs = [[e for e in ties if e[0] < after_id] + lower
                         for ties, lower in zip(ranges[0::2], ranges[1::2], strict=True)]
        return list(itertools.islice(heapq.merge(*merged_inputs, key=_newest_first, reverse=True), plan.limit))
    if len(ranges) == 1:
        return ranges[0]  # read from plan.first: already the page
    merged = heapq.merge(*ranges, key=_newest_first, reverse=True)
    return list(itertools.islice(merged, plan.start, plan.stop + 1))


def page_ids(plan: ListPlan, ranges: list[list[tuple[str, float]]]) -> list[str]:
    """The page's ids (see page_entries)."""
    return [member for member, _ in page_entries(plan, ranges)]


def _range_reads(plan: ListPlan, index: str) -> list[Cmd]:
    if plan.after is None:
        return [Cmd("zrevrange", (index, plan.first, plan.stop), {"withscores": True})]
    score = repr(plan.after[0])
    return [Cmd("zrevrangebyscore", (index, score, score), {"withscores": True}),
            Cmd("zrevrangebyscore", (index, f"({score}", "-inf"), {"start": 0, "num": plan.limit, "withscores": True})]


def page_reads(plan: ListPlan, keys: Keys) -> Pipeline:
    """The first read of a page in one round trip: sizes, ranges, every bucket's counts (a transaction when the
    store has one bucket: one slot; buckets are read side by side, each consistent only with itself)."""
    return Pipeline(
        [*(Cmd("zcard", (index,)) for index in plan.indexes),
         *(cmd for index in plan.indexes for cmd in _range_reads(plan, index)),
         *(Cmd("hgetall", (keys.counts(b),)) for b in keys.all_buckets())],
        transaction=keys.buckets == 1,
    )


class PageReplies(NamedTuple):
    """What the first read of a page found."""

    total: int
    entries: list[tuple[str, float]]
    counts: dict[str, int]

    @property
    def ids(self) -> list[str]:
        """The page's task ids."""
        return [member for member, _ in self.entries]


def read_page_replies(plan: ListPlan, replies: list[Any]) -> PageReplies:
    """The total, the page's entries and the summed counts from the replies to `page_reads`."""
    n = len(plan.indexes)
    reads = n if plan.after is None else 2 * n
    ranges = replies[n : n + reads]
    return PageReplies(sum(replies[:n]), page_entries(plan, ranges), sum_counts(replies[n + reads :]))


def type_names_reads(keys: Keys) -> Pipeline:
    """The task name -> type maps of every bucket."""
    return Pipeline([Cmd("hgetall", (keys.type_names(b),)) for b in keys.all_buckets()])


def merge_type_names(per_bucket: list[dict[str, str]]) -> dict[str, str]:
    """Every bucket's task name -> type map, as one."""
    return {name: t for names in per_bucket for name, t in names.items()}


def build_list(
    plan: ListPlan,
    page: PageReplies,
    hashes: list[dict[Any, Any]],
    cfg: StoreConfig,
    now_ms: int,
) -> tuple[TaskList, dict[str, list[str]]]:
    """Assembles the seed's list response and the damaged records left out of it (id -> problems); records deleted
    between the two reads are skipped too. One bad record never fails a page."""
    tasks = []
    damaged: dict[str, list[str]] = {}
    total = page.total
    for tid, h in zip(page.ids, hashes, strict=True):
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
        summary=summary_from_counts(page.counts),
        next_cursor=cursor_of(page.entries[-1]) if len(page.entries) == plan.limit else None,
    ), damaged


def summary_from_counts(counts: dict[str, str] | dict[str, int]) -> dict[str, int]:
    """Per-status counts, every status present (zero included) so front ends need no defaults."""
    return {s.value: max(0, int(counts.get(s.value, 0) or 0)) for s in TaskStatus}
