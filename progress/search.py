"""Searching the stored tasks: the list filters plus an owner, a parent batch and a creation-time range.

Every index is a sorted set scored by creation ms (create.lua), so a time range is a score range on the same
indexes the plain listing reads: a page costs one range read per index, a count one ZCOUNT per index, whatever
the number of stored tasks. The owner (`metadata.user_id`) and the parent batch (`metadata.parent_task_id`) have
their own indexes (with the status only), written by create.lua and moved by update.lua like the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from progress import ops, pages
from progress.keys import Keys
from progress.models import TaskList
from progress.status import TaskStatus

ACTIVE = (TaskStatus.CREATED, TaskStatus.RUNNING, TaskStatus.PAUSED)
RETRYABLE = (TaskStatus.ERROR, TaskStatus.CANCELLED)
ENDED = (TaskStatus.COMPLETED, TaskStatus.ERROR, TaskStatus.CANCELLED)
#: The statuses each bulk action applies to: cancel what still runs, retry what failed, delete what ended (a running
#: task's record is never removed under its worker).
APPLIES_TO = {"cancel": ACTIVE, "retry": RETRYABLE, "delete": ENDED}
_ID = r"^[A-Za-z0-9_.@+:-]{1,200}$"


class TaskQuery(BaseModel):
    """Which tasks: every member optional; `user` and `parent` go with the status and time range only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: TaskStatus | None = None
    task_type: str | None = Field(default=None, max_length=100)
    symbol: str | None = Field(default=None, max_length=32)
    task_name: str | None = Field(default=None, max_length=200)
    user: str | None = Field(default=None, pattern=_ID, description="owner (metadata.user_id)")
    parent: str | None = Field(default=None, pattern=_ID, description="parent batch (metadata.parent_task_id)")
    created_from: datetime | None = Field(default=None, description="created at or after this time")
    created_to: datetime | None = Field(default=None, description="created at or before this time")

    @model_validator(mode="after")
    def _combinable(self) -> TaskQuery:
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValueError("created_from must not be after created_to")
        if (self.user or self.parent) and (self.task_type or self.symbol or self.task_name):
            raise ValueError("user and parent filter with status and time only, not with task_type, symbol or name")
        if self.user and self.parent:
            raise ValueError("filter by user or by parent, not both")
        return self

    @property
    def score_range(self) -> tuple[str, str]:
        """ZRANGEBYSCORE bounds of the creation range (scores are ms plus a sub-ms tie-breaker); a time without an
        offset is UTC."""
        low = "-inf" if self.created_from is None else _ms(self.created_from, "-inf")
        high = "+inf" if self.created_to is None else _ms(self.created_to, "+inf", exclusive_after=True)
        return low, high


def _ms(when: datetime, beyond: str, *, exclusive_after: bool = False) -> str:
    """A bound in epoch ms; a time too far out for the platform's clock arithmetic is as good as unbounded."""
    try:
        ms = int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        return beyond
    return f"({ms + 1}" if exclusive_after else str(ms)


class TaskSearch(TaskList):
    """A page of matching tasks (newest first), the store-wide summary, and the matching tasks per status."""

    counts: dict[str, int] = Field(description="tasks matching every filter but the status, per status")


def forms(query: TaskQuery, type_names: dict[str, str]) -> list[dict[str, str]]:
    """The index filters whose union is the query's set of tasks (for one status)."""
    if query.user:
        return [{"user": query.user}]
    if query.parent:
        return [{"parent": query.parent}]
    return pages.filter_forms(query.task_type or None, query.symbol or None, query.task_name or None, type_names)


def indexes_by_status(keys: Keys, query: TaskQuery, type_names: dict[str, str],
                      statuses: tuple[TaskStatus, ...] | None = None) -> dict[TaskStatus, list[str]]:
    """Status -> the indexes holding the query's tasks in that status (every status, for the counts)."""
    fs = forms(query, type_names)
    # Every bucket has its own indexes (progress/keys.py): a query reads them all.
    return {s: [keys.index(s.value, bucket=b, **f) for b in keys.all_buckets() for f in fs]
            for s in (statuses or tuple(TaskStatus))}


def queue_search_reads(pipe: Any, plan: pages.ListPlan, by_status: dict[TaskStatus, list[str]], keys: Keys,
                       query: TaskQuery) -> None:
    """Queues the counts per status, the page's ranges and the summary."""
    low, high = query.score_range
    for idxs in by_status.values():
        for index in idxs:
            pipe.zcount(index, low, high)
    for index in plan.indexes:
        pipe.zrevrangebyscore(index, high, low, start=plan.first, num=plan.stop - plan.first + 1, withscores=True)
    for b in keys.all_buckets():
        pipe.hgetall(keys.counts(b))


def read_search_replies(plan: pages.ListPlan, by_status: dict[TaskStatus, list[str]],
                        replies: list[Any], buckets: int) -> tuple[dict[str, int], list[tuple[str, float]],
                                                                  dict[str, int]]:
    """Counts per status, the page's entries, and the summed counts from the replies to `queue_search_reads`."""
    counts: dict[str, int] = {}
    i = 0
    for status, idxs in by_status.items():
        counts[status.value] = sum(int(n) for n in replies[i:i + len(idxs)])
        i += len(idxs)
    ranges = replies[i:i + len(plan.indexes)]
    return counts, pages.page_entries(plan, ranges), ops.sum_counts(replies[-buckets:])


def plan_for(keys: Keys, query: TaskQuery, type_names: dict[str, str], page: int,
             limit: int) -> tuple[pages.ListPlan, dict[TaskStatus, list[str]]]:
    """The page plan (the indexes of the queried statuses) and every status's indexes (for the counts)."""
    if not 1 <= page <= 10**9 or not 1 <= limit <= 1000:
        raise ValueError("page must be between 1 and 10^9 and limit between 1 and 1000")
    by_status = indexes_by_status(keys, query, type_names)
    chosen = [i for s, idxs in by_status.items() if query.status in (None, s) for i in idxs]
    start = (page - 1) * limit
    return pages.ListPlan(chosen, start, start + limit - 1, page, limit), by_status


def build_search(plan: pages.ListPlan, query: TaskQuery, counts: dict[str, int], entries: list[tuple[str, float]],
                 hashes: list[dict[Any, Any]], counts_hash: dict[str, int], store: Any) -> TaskSearch:
    """The search response (damaged records are left out and noted by the caller's store)."""
    total = counts[query.status.value] if query.status else sum(counts.values())
    found = pages.PageReplies(total, entries, counts_hash)
    listing, _ = pages.build_list(plan, found, hashes, store.config, store.now_ms())
    return TaskSearch(**dict(listing), counts=counts)


def search(store: Any, query: TaskQuery, page: int = 1, limit: int = 20) -> TaskSearch:
    """One page of the tasks matching `query` on a sync ProgressStore."""
    names = _type_names(store) if query.task_type else {}
    plan, by_status = plan_for(store.keys, query, names, page, limit)
    pipe = store.redis.pipeline(transaction=store.keys.buckets == 1)  # one bucket: one slot, one snapshot
    queue_search_reads(pipe, plan, by_status, store.keys, query)
    counts, entries, counts_hash = read_search_replies(plan, by_status, pipe.execute(), store.keys.buckets)
    ids = [tid for tid, _ in entries]
    pipe = store.redis.pipeline(transaction=False)
    _queue(pipe, ops.record_reads(store.keys, ids))
    return build_search(plan, query, counts, entries, pipe.execute() if ids else [], counts_hash, store)


async def asearch(store: Any, query: TaskQuery, page: int = 1, limit: int = 20) -> TaskSearch:
    """One page of the tasks matching `query` on an AsyncProgressStore."""
    names = await _type_names_async(store) if query.task_type else {}
    plan, by_status = plan_for(store.keys, query, names, page, limit)
    pipe = store.redis.pipeline(transaction=store.keys.buckets == 1)  # one bucket: one slot, one snapshot
    queue_search_reads(pipe, plan, by_status, store.keys, query)
    counts, entries, counts_hash = read_search_replies(plan, by_status, await pipe.execute(), store.keys.buckets)
    ids = [tid for tid, _ in entries]
    pipe = store.redis.pipeline(transaction=False)
    _queue(pipe, ops.record_reads(store.keys, ids))
    return build_search(plan, query, counts, entries, await pipe.execute() if ids else [], counts_hash, store)


def queue_id_reads(pipe: Any, keys: Keys, query: TaskQuery, type_names: dict[str, str],
                   statuses: tuple[TaskStatus, ...], max_ids: int) -> None:
    """Queues the reads of the ids (newest first, at most `max_ids` per index) of matching tasks in `statuses`."""
    low, high = query.score_range
    for idxs in indexes_by_status(keys, query, type_names, statuses).values():
        for index in idxs:
            pipe.zrevrangebyscore(index, high, low, start=0, num=max_ids)


def merge_ids(replies: list[list[str]], max_ids: int) -> list[str]:
    """The distinct ids of the replies to `queue_id_reads`, in order, at most `max_ids`."""
    seen: dict[str, None] = {}
    for ids in replies:
        seen.update(dict.fromkeys(ids))
    return list(seen)[:max_ids]


def statuses_of(query: TaskQuery, allowed: tuple[TaskStatus, ...]) -> tuple[TaskStatus, ...]:
    """The statuses among `allowed` the query asks for."""
    return tuple(s for s in allowed if query.status in (None, s))


def matching_ids(store: Any, query: TaskQuery, allowed: tuple[TaskStatus, ...], max_ids: int) -> list[str]:
    """Ids of the tasks matching `query` whose status is in `allowed` (bulk actions), newest first per index."""
    names = _type_names(store) if query.task_type else {}
    pipe = store.redis.pipeline(transaction=False)
    queue_id_reads(pipe, store.keys, query, names, statuses_of(query, allowed), max_ids)
    return merge_ids(pipe.execute(), max_ids)


async def amatching_ids(store: Any, query: TaskQuery, allowed: tuple[TaskStatus, ...], max_ids: int) -> list[str]:
    """`matching_ids` on an AsyncProgressStore."""
    names = await _type_names_async(store) if query.task_type else {}
    pipe = store.redis.pipeline(transaction=False)
    queue_id_reads(pipe, store.keys, query, names, statuses_of(query, allowed), max_ids)
    return merge_ids(await pipe.execute(), max_ids)


def _type_names(store: Any) -> dict[str, str]:
    """Every bucket's task name -> type map, as one."""
    pipe = store.redis.pipeline(transaction=False)
    _queue(pipe, pages.type_names_reads(store.keys))
    return pages.merge_type_names(pipe.execute())


async def _type_names_async(store: Any) -> dict[str, str]:
    """`_type_names` on an AsyncProgressStore."""
    pipe = store.redis.pipeline(transaction=False)
    _queue(pipe, pages.type_names_reads(store.keys))
    return pages.merge_type_names(await pipe.execute())


def _queue(pipe: Any, reads: ops.Pipeline) -> None:
    """Queues a sans-I/O pipeline's commands on a client pipeline (sync or async alike)."""
    for cmd in reads.commands:
        getattr(pipe, cmd.name)(*cmd.args, **(cmd.kwargs or {}))
