"""Every Redis key and channel name the progress core uses, built in exactly one place."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

# Filter dimensions combined with the status in the sorted-set indexes. Indexes move when a task changes status,
# so their names end with the status: the Lua scripts append it to a prefix built here (see `status_prefixes`).
_STATIC_DIMS = ("type", "symbol")


@dataclass(frozen=True, slots=True)
class Keys:
    """Builds the names of the progress core's keys under one namespace."""

    namespace: str = "tr"

    def record(self, task_id: str) -> str:
        """Hash holding one task's record."""
        return f"{self.namespace}:task:{task_id}"

    def record_pattern(self, id_prefix: str) -> str:
        """SCAN pattern matching the records whose id starts with `id_prefix` (glob characters in it escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in id_prefix)
        return f"{self.record(escaped)}*"

    def events(self, task_id: str) -> str:
        """Stream of one task's change events (resumable by event id)."""
        return f"{self.namespace}:events:{task_id}"

    def all_events(self) -> str:
        """Capped stream of every task's change events (dashboards)."""
        return f"{self.namespace}:events"

    def channel(self, task_id: str) -> str:
        """Pub/Sub channel announcing one task's changes."""
        return f"{self.namespace}:chan:{task_id}"

    def counts(self) -> str:
        """Hash of status -> number of stored records in that status."""
        return f"{self.namespace}:counts"

    def stats(self) -> str:
        """Hash of store-wide counters (ignored late updates, ...)."""
        return f"{self.namespace}:stats"

    def unreadable(self) -> str:
        """Set of the ids of stored records a reader could not parse (skipped in lists, counted in health)."""
        return f"{self.namespace}:unreadable"

    def heartbeats(self) -> str:
        """Sorted set of running task ids scored by their last write (stale-task sweep)."""
        return f"{self.namespace}:heartbeats"

    def creation_tie(self) -> str:
        """String "<ms> <n>": the last creation's ms and how many tasks were created before it in that ms."""
        return f"{self.namespace}:created-tie"

    def durations(self) -> str:
        """Hash of task type -> recent creation-to-completion times in ms (","-joined, newest last)."""
        return f"{self.namespace}:durations"

    def type_names(self) -> str:
        """Hash of task name -> task type, for every name a record was created with."""
        return f"{self.namespace}:type-names"

    def types(self) -> str:
        """Set of every task type a record was created with (metrics count tasks per type from it)."""
        return f"{self.namespace}:types"

    def duration_histogram(self) -> str:
        """Hash "type|status|le" -> tasks whose run (start to end) took at most `le` seconds, plus "type|status|sum"
        (update.lua, when a started task ends: Prometheus's duration histograms)."""
        return f"{self.namespace}:duration-hist"

    def task_log(self, task_id: str) -> str:
        """Capped stream of the log records a task emitted (TTL; progress.tasklog)."""
        return f"{self.namespace}:log:{task_id}"

    def index(
        self, status: str, *, task_type: str | None = None, symbol: str | None = None, task_name: str | None = None,
        user: str | None = None, parent: str | None = None,
    ) -> str:
        """Sorted set (score: creation ms, see create.lua) of the ids of tasks in `status` matching the filters.

        There is one per status and combination of type and symbol, so any filtered page is one range read; a
        listing without a status filter merges the per-status sets (cost set by the page, never by the number of
        tasks). The task name has its own index (with the status only): it is a finer form of the type.
        """
        parts = [f"{self.namespace}:idx"]
        if task_name is not None:
            parts.append(f"name={task_name}")
        if task_type is not None:
            parts.append(f"type={task_type}")
        if symbol is not None:
            parts.append(f"symbol={symbol}")
        if user is not None:
            parts.append(f"user={user}")
        if parent is not None:
            parts.append(f"parent={parent}")
        # Always last, so that `status_prefixes` + status rebuilds the same name.
        parts.append(f"status={status}")
        return ":".join(parts)

    def status_prefixes(self, task_type: str, symbol: str | None, task_name: str | None = None) -> list[str]:
        """Prefixes that, with the status appended, name every index holding a task of this type, symbol, name."""
        return list(_status_prefixes(self.namespace, task_type, symbol, task_name))

    def owner_prefixes(self, user: str | None, parent: str | None) -> list[str]:
        """Prefixes of the indexes of a task's owner and of its parent batch (each alone, with the status appended):
        a user's own tasks and a batch's children are then one range read per status, kept by the same scripts."""
        marker = "\x00"
        found = [self.index(marker, user=user)] if user is not None else []
        found += [self.index(marker, parent=parent)] if parent is not None else []
        return [name.removesuffix(marker) for name in found]


@lru_cache(maxsize=4096)
def _status_prefixes(namespace: str, task_type: str, symbol: str | None, task_name: str | None) -> tuple[str, ...]:
    # Cached: every publish of a tracked task needs them, and a deployment has few types and symbols.
    marker = "\x00"
    keys = Keys(namespace)
    subsets: list[dict[str, str]] = _filter_subsets(task_type, symbol)
    if task_name is not None:
        subsets.append({"task_name": task_name})
    return tuple(keys.index(marker, **f).removesuffix(marker) for f in subsets)


def _filter_subsets(task_type: str, symbol: str | None) -> list[dict[str, str]]:
    """Every combination of the task's static filter values, the empty one first."""
    values = {"type": task_type, "symbol": symbol}
    present = [d for d in _STATIC_DIMS if values[d] is not None]
    out: list[dict[str, str]] = []
    for n in range(len(present) + 1):
        for combo in combinations(present, n):
            out.append({("task_type" if d == "type" else d): str(values[d]) for d in combo})
    return out
