"""What the Redis broker holds, read through kombu's own Redis channel so every key name is kombu's, not ours.

kombu keeps each queue as one list per priority step (`queue`, `queue<sep>1` ... with our sep ':'), and, for
acks_late delivery, every delivered but unacknowledged message in the `unacked` hash (delivery tag -> [message,
exchange, routing key]) with its delivery time in `unacked_index`. A message stays there until its worker acks it;
a worker that dies leaves it there until some consumer restores it after `visibility_timeout`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery

_SCAN_CHUNK = 500


class BrokerView:
    """One broker connection for reading queue depths and finding (or restoring) a task's message."""

    def __init__(self, channel: Any) -> None:
        self._chan = channel
        self.client: Any = channel.client

    @classmethod
    @contextmanager
    def open(cls, app: Celery) -> Iterator[BrokerView]:
        """A view on the app's broker, closed on exit."""
        with app.connection_for_read() as conn:
            # Fail fast: a health check or a sweep must answer, not retry for minutes while Redis is down.
            conn.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.2, timeout=5)
            yield cls(conn.default_channel)

    def queue_lists(self, queue: str) -> list[str]:
        """The Redis lists holding `queue`'s messages, highest priority first (names as kombu builds them)."""
        names: list[str] = []
        for step in self._chan.priority_steps:
            name = self._chan._q_for_pri(queue, step)
            if name not in names:
                names.append(name)
        return names

    def depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages waiting in each queue (LLEN of its priority lists, one round trip)."""
        queues = list(queues)
        pipe = self.client.pipeline(transaction=False)
        plan = [(q, self.queue_lists(q)) for q in queues]
        for _, lists in plan:
            for name in lists:
                pipe.llen(name)
        sizes = iter(pipe.execute())
        return {q: sum(int(next(sizes)) for _ in lists) for q, lists in plan}

    def unacked(self, task_ids: set[str]) -> dict[str, str]:
        """Task id -> delivery tag of the given tasks' delivered-but-unacknowledged messages."""
        found: dict[str, str] = {}
        if not task_ids:
            return found
        for tag, raw in self.client.hscan_iter(self._chan.unacked_key, count=_SCAN_CHUNK):
            task_id = _task_id(raw)
            if task_id in task_ids:
                found[task_id] = tag.decode() if isinstance(tag, bytes) else str(tag)
        return found

    def queued(self, task_ids: set[str], queues: Iterable[str], *, limit: int) -> set[str]:
        """The given tasks whose message waits in one of `queues` (at most `limit` messages read per queue).

        A queue longer than `limit` is not read to the end: its tasks count as possibly queued (returned too), so a
        deep backlog never gets a waiting task declared lost.
        """
        wanted = {t.encode() for t in task_ids}
        hits: set[str] = set()
        for queue in queues:
            read = 0
            for name in self.queue_lists(queue):
                length = int(self.client.llen(name))
                for start in range(0, length, _SCAN_CHUNK):
                    if read >= limit:
                        return set(task_ids)
                    chunk = self.client.lrange(name, start, start + _SCAN_CHUNK - 1)
                    read += len(chunk)
                    for raw in chunk:
                        hits.update(t.decode() for t in wanted if t in raw)
        return hits

    def restore(self, delivery_tag: str) -> None:
        """Moves an unacknowledged message back to its queue now, marked redelivered (kombu's own transaction)."""
        self._chan.qos.restore_by_tag(delivery_tag)


def _task_id(raw: bytes | str) -> str | None:
    """The Celery task id inside one `unacked` hash value."""
    try:
        message = json.loads(raw)[0]
        task_id = message.get("headers", {}).get("id")
    except (ValueError, IndexError, AttributeError, TypeError):
        return None
    return task_id if isinstance(task_id, str) else None
