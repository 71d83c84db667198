"""Every Redis key and channel name the progress core uses, built in exactly one place.

Layout 2 (see LAYOUT_VERSION): every name carries a bucket hash tag, `{<ns>:<b>}:...` with
`b = crc32(task_id) mod buckets`, so that all the keys one script touches (a task's record, its stream, its
bucket's counts, indexes, heartbeats, ...) hash to one Redis Cluster slot, and the buckets spread over the
cluster's primaries. With one bucket (the default) every key sits in `{<ns>:0}`: one slot, as on a single Redis.

Every progress name starts with `{<ns>:`, and nothing else the app names does (notifications and the app's keys
start with `<ns>:`, see base/keys.py), so no task id can name another feature's key or channel: the id only
ever follows `}:task:`, `}:events:` or `}:chan:`. crc32 (zlib's, the IEEE polynomial) is stable across processes,
machines and Python versions, unlike `hash()`; changing the number of buckets moves tasks, which is why the layout
(version and bucket count) is stored (`layout`) and checked at start.
"""

from __future__ import annotations

import re
import zlib
from functools import lru_cache
from itertools import combinations

# Filter dimensions combined with the status in the sorted-set indexes. Indexes move when a task changes status,
# so their names end with the status: the client appends it to a prefix built here (see `status_prefixes`).
_STATIC_DIMS = ("type", "symbol")

#: The key layout this code reads and writes (1: `<ns>:task:<id>` without buckets; 2: bucket hash tags).
LAYOUT_VERSION = 2

#: What a task id may be: no braces (hash tags), glob characters (SCAN/PSUBSCRIBE patterns), spaces or controls.
TASK_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
_TASK_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


def check_task_id(task_id: str) -> str:
    """Returns `task_id` if it may name a task; raises ValueError naming the rule otherwise."""
    if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
        raise ValueError(f"task_id must be 1-200 of A-Z a-z 0-9 _ . : - , not {task_id!r}")
    return task_id


class Keys:
    """Builds the names of the progress core's keys under one namespace, spread over `buckets` hash tags."""

    __slots__ = ("_per_bucket", "_routine", "_tags", "buckets", "namespace")

    def __init__(self, namespace: str = "tr", buckets: int = 1) -> None:
        if buckets < 1:
            raise ValueError(f"buckets must be at least 1, not {buckets}")
        self.namespace = namespace
        self.buckets = buckets
        # Built once: every progress write needs its bucket's tag.
        self._tags = tuple(f"{{{namespace}:{b}}}" for b in range(buckets))
        self._per_bucket: tuple[list[str], ...] = tuple(
            [self.counts(b), self.all_events(b), self.stats(b), self.heartbeats(b), self.durations(b),
             self.duration_histogram(b)]
            for b in range(buckets)
        )
        self._routine = tuple((self.stats(b), self.heartbeats(b)) for b in range(buckets))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Keys) and (self.namespace, self.buckets) == (other.namespace, other.buckets)

    def __hash__(self) -> int:
        return hash((self.namespace, self.buckets))

    def __repr__(self) -> str:
        return f"Keys({self.namespace!r}, buckets={self.buckets})"

    # --- buckets ------------------------------------------------------------------------------------------------

    def bucket(self, task_id: str) -> int:
        """The bucket holding a task: crc32 of its UTF-8 id modulo the number of buckets (0 when there is one)."""
        return 0 if self.buckets == 1 else zlib.crc32(task_id.encode()) % self.buckets

    def tag(self, bucket: int) -> str:
        """The hash tag of a bucket: `{<ns>:<b>}` (every key of the bucket starts with it: one cluster slot)."""
        return self._tags[bucket]

    def task_tag(self, task_id: str) -> str:
        """The hash tag of the bucket holding a task."""
        return self._tags[0 if self.buckets == 1 else zlib.crc32(task_id.encode()) % self.buckets]

    def all_buckets(self) -> range:
        """Every bucket number."""
        return range(self.buckets)

    # --- one task -----------------------------------------------------------------------------------------------

    def record(self, task_id: str) -> str:
        """Hash holding one task's record."""
        return f"{self.task_tag(task_id)}:task:{task_id}"

    def record_pattern(self, id_prefix: str, bucket: int) -> str:
        """SCAN pattern matching a bucket's records whose id starts with `id_prefix` (glob characters escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in id_prefix)
        return f"{self._glob_tag(bucket)}:task:{escaped}*"

    def record_id(self, key: str) -> str:
        """The task id a record key names (the inverse of `record`)."""
        return key.split("}:task:", 1)[1]

    def task_names(self, task_id: str) -> tuple[str, str, str, int]:
        """A task's record, event stream, channel and bucket at once (the update hot path hashes the id once)."""
        b = 0 if self.buckets == 1 else zlib.crc32(task_id.encode()) % self.buckets
        tag = self._tags[b]
        return f"{tag}:task:{task_id}", f"{tag}:events:{task_id}", f"{tag}:chan:{task_id}", b

    def update_names(self, task_id: str) -> tuple[list[str], str]:
        """update.lua's fixed KEYS for a task (record, stream, then its bucket's counts, all-events stream, stats,
        heartbeats, durations, duration histogram) and its channel: the reporter's hot path, so built in one call."""
        b = 0 if self.buckets == 1 else zlib.crc32(task_id.encode()) % self.buckets
        tag = self._tags[b]
        return [f"{tag}:task:{task_id}", f"{tag}:events:{task_id}"] + self._per_bucket[b], f"{tag}:chan:{task_id}"

    def progress_names(self, task_id: str) -> tuple[list[str], str]:
        """progress.lua's KEYS for a task (record, stream, its bucket's stats and heartbeats) and its channel: the
        routine write's, built in one call."""
        b = 0 if self.buckets == 1 else zlib.crc32(task_id.encode()) % self.buckets
        tag = self._tags[b]
        stats, heartbeats = self._routine[b]
        return [f"{tag}:task:{task_id}", f"{tag}:events:{task_id}", stats, heartbeats], f"{tag}:chan:{task_id}"

    def task_log(self, task_id: str) -> str:
        """Capped stream of the log records a task emitted (TTL; progress.tasklog), in the task's bucket."""
        return f"{self.task_tag(task_id)}:log:{task_id}"

    def events(self, task_id: str) -> str:
        """Stream of one task's change events (resumable by event id)."""
        return f"{self.task_tag(task_id)}:events:{task_id}"

    def channel(self, task_id: str) -> str:
        """Pub/Sub channel announcing one task's changes (a shard channel on a cluster: it carries the tag)."""
        return f"{self.task_tag(task_id)}:chan:{task_id}"

    def channel_pattern(self) -> str:
        """PSUBSCRIBE pattern matching every task channel of every bucket (plain Pub/Sub only)."""
        return f"{{{_glob(self.namespace)}:*}}:chan:*"

    def is_channel(self, channel: str) -> bool:
        """Whether `channel` is a task channel of this namespace (never a notification or app channel)."""
        head, sep, _ = channel.partition("}:chan:")
        return bool(sep) and head.startswith(f"{{{self.namespace}:") and head[len(self.namespace) + 2:].isdigit()

    def task_of_channel(self, channel: str) -> str:
        """The task id a task channel names."""
        return channel.split("}:chan:", 1)[1]

    # --- one bucket ---------------------------------------------------------------------------------------------

    def all_events(self, bucket: int = 0) -> str:
        """Capped stream of the bucket's tasks' change events (dashboards)."""
        return f"{self._tags[bucket]}:events"

    def counts(self, bucket: int = 0) -> str:
        """Hash of status -> number of the bucket's stored records in that status."""
        return f"{self._tags[bucket]}:counts"

    def stats(self, bucket: int = 0) -> str:
        """Hash of the bucket's counters (ignored late updates, ...)."""
        return f"{self._tags[bucket]}:stats"

    def unreadable(self, bucket: int = 0) -> str:
        """Set of the ids of the bucket's records a reader could not parse (skipped in lists, counted in health)."""
        return f"{self._tags[bucket]}:unreadable"

    def heartbeats(self, bucket: int = 0) -> str:
        """Sorted set of the bucket's running task ids scored by their last write (stale-task sweep)."""
        return f"{self._tags[bucket]}:heartbeats"

    def creation_tie(self, bucket: int = 0) -> str:
        """String "<ms> <n>": the bucket's last creation's ms and how many it created before it in that ms."""
        return f"{self._tags[bucket]}:created-tie"

    def durations(self, bucket: int = 0) -> str:
        """Hash of task type -> the bucket's recent creation-to-completion times in ms (","-joined, newest last)."""
        return f"{self._tags[bucket]}:durations"

    def type_names(self, bucket: int = 0) -> str:
        """Hash of task name -> task type, for every name a record of the bucket was created with."""
        return f"{self._tags[bucket]}:type-names"

    def types(self, bucket: int = 0) -> str:
        """Set of every task type a record of the bucket was created with (metrics count tasks per type from it)."""
        return f"{self._tags[bucket]}:types"

    def duration_histogram(self, bucket: int = 0) -> str:
        """Hash "type|status|le" -> the bucket's tasks whose run (start to end) took at most `le` seconds, plus
        "type|status|sum" (update.lua, when a started task ends: Prometheus's duration histograms)."""
        return f"{self._tags[bucket]}:duration-hist"

    def index(
        self,
        status: str,
        *,
        task_type: str | None = None,
        symbol: str | None = None,
        task_name: str | None = None,
        user: str | None = None,
        parent: str | None = None,
        bucket: int = 0,
    ) -> str:
        """Sorted set (score: creation ms, see create.lua) of the ids of the bucket's tasks in `status` matching the
        filters.

        There is one per bucket, status and combination of type and symbol, so any filtered page is one range read
        per bucket; a listing without a status filter merges the per-status sets (cost set by the page, never by
        the number of tasks). The task name has its own index (with the status only): a finer form of the type.
        """
        parts = [f"{self._tags[bucket]}:idx"]
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

    def status_prefixes(
        self, task_type: str, symbol: str | None, task_name: str | None = None, *, bucket: int = 0
    ) -> list[str]:
        """Prefixes that, with the status appended, name every index of the bucket holding a task of this type,
        symbol and name (stored in the record as `sidx`: the client builds a move's index keys from them)."""
        return list(_status_prefixes(self, task_type, symbol, task_name, bucket))

    def owner_prefixes(self, user: str | None, parent: str | None, *, bucket: int = 0) -> list[str]:
        """Prefixes of the indexes of a task's owner and of its parent batch in its bucket (each alone, with the
        status appended): a user's own tasks and a batch's children are then one range read per status and bucket,
        kept by the same scripts."""
        marker = "\x00"
        found = [self.index(marker, user=user, bucket=bucket)] if user is not None else []
        found += [self.index(marker, parent=parent, bucket=bucket)] if parent is not None else []
        return [name.removesuffix(marker) for name in found]

    # --- the store as a whole -----------------------------------------------------------------------------------

    def layout(self) -> str:
        """String holding the stored layout, "<version> <buckets>" (checked at start; see progress.layout)."""
        return f"{{{self.namespace}:meta}}:layout"

    def index_pattern(self, bucket: int) -> str:
        """SCAN pattern matching every index of a bucket."""
        return f"{self._glob_tag(bucket)}:idx:*"

    def _glob_tag(self, bucket: int) -> str:
        return "{" + _glob(self.namespace) + ":" + str(bucket) + "}"


class LegacyKeys:
    """The names of layout 1 (no buckets: `<ns>:task:<id>`, `<ns>:counts`, ...), read only by the migration."""

    __slots__ = ("namespace",)

    def __init__(self, namespace: str = "tr") -> None:
        self.namespace = namespace

    def record_pattern(self) -> str:
        """SCAN pattern matching every layout-1 record."""
        return f"{_glob(self.namespace)}:task:*"

    def record_id(self, key: str) -> str:
        """The task id a layout-1 record key names."""
        return key[len(self.namespace) + len(":task:"):]

    def events(self, task_id: str) -> str:
        """A task's layout-1 event stream."""
        return f"{self.namespace}:events:{task_id}"

    def index_pattern(self) -> str:
        """SCAN pattern matching every layout-1 index."""
        return f"{_glob(self.namespace)}:idx:*"

    def store_wide(self) -> dict[str, str]:
        """The layout-1 keys of the whole store, by their layout-2 per-bucket name (`Keys.counts` -> "counts")."""
        ns = self.namespace
        return {"all_events": f"{ns}:events", "counts": f"{ns}:counts", "stats": f"{ns}:stats",
                "unreadable": f"{ns}:unreadable", "heartbeats": f"{ns}:heartbeats",
                "creation_tie": f"{ns}:created-tie", "durations": f"{ns}:durations",
                "type_names": f"{ns}:type-names", "types": f"{ns}:types",
                "duration_histogram": f"{ns}:duration-hist"}


def _glob(text: str) -> str:
    """`text` with Redis glob characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


@lru_cache(maxsize=4096)
def _status_prefixes(
    keys: Keys, task_type: str, symbol: str | None, task_name: str | None, bucket: int
) -> tuple[str, ...]:
    # Cached: every publish of a tracked task needs them, and a deployment has few types and symbols.
    marker = "\x00"
    subsets: list[dict[str, str]] = _filter_subsets(task_type, symbol)
    if task_name is not None:
        subsets.append({"task_name": task_name})
    return tuple(keys.index(marker, bucket=bucket, **f).removesuffix(marker) for f in subsets)


def _filter_subsets(task_type: str, symbol: str | None) -> list[dict[str, str]]:
    """Every combination of the task's static filter values, the empty one first."""
    values = {"type": task_type, "symbol": symbol}
    present = [d for d in _STATIC_DIMS if values[d] is not None]
    out: list[dict[str, str]] = []
    for n in range(len(present) + 1):
        for combo in combinations(present, n):
            out.append({("task_type" if d == "type" else d): str(values[d]) for d in combo})
    return out
