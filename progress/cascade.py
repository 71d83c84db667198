"""Cascading cancel: cancelling a batch or chord parent cancels its queued and running children first.

Children are found through the parent index (metadata.parent_task_id, see progress.search), grandchildren too. A
child's record says `cancelled` at once: a queued child then ends as soon as a worker takes it (its start is
refused), a running one at its next progress write. The parent is cancelled last, once every child has ended, so
it never reads `cancelled` while a child still counts as running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from progress import search
from progress.models import UpdateResult

MAX_CHILDREN = 10_000


@dataclass
class Cascade:
    """What a cascading cancel did: the parent's result and the children it cancelled."""

    result: UpdateResult
    children: list[str] = field(default_factory=list)


def _child_query(task_id: str) -> search.TaskQuery:
    return search.TaskQuery(parent=task_id)


def cancel_tree(store: Any, task_id: str, reason: str = "cancelled",
                on_cancelled: Callable[[str], None] | None = None) -> Cascade:
    """Cancels the task's active children (depth first), then the task; `on_cancelled(id)` runs for each child
    cancelled (e.g. to revoke its queued message)."""
    cancelled: list[str] = []
    seen = {task_id}

    def descend(parent: str) -> None:
        for child in search.matching_ids(store, _child_query(parent), search.ACTIVE, MAX_CHILDREN):
            if child in seen:
                continue
            seen.add(child)
            descend(child)
            if store.cancel_task(child, reason=f"{reason} (parent {task_id})").applied:
                cancelled.append(child)
                if on_cancelled is not None:
                    on_cancelled(child)

    descend(task_id)
    return Cascade(store.cancel_task(task_id, reason=reason), cancelled)


async def acancel_tree(store: Any, task_id: str, reason: str = "cancelled") -> Cascade:
    """`cancel_tree` on an AsyncProgressStore."""
    cancelled: list[str] = []
    seen = {task_id}

    async def descend(parent: str) -> None:
        for child in await search.amatching_ids(store, _child_query(parent), search.ACTIVE, MAX_CHILDREN):
            if child in seen:
                continue
            seen.add(child)
            await descend(child)
            if (await store.cancel_task(child, reason=f"{reason} (parent {task_id})")).applied:
                cancelled.append(child)

    await descend(task_id)
    return Cascade(await store.cancel_task(task_id, reason=reason), cancelled)
