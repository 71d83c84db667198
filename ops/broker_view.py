"""What the broker holds, on either transport: queue depths, and where (if anywhere) a task's message is.

Redis (also behind Sentinel): read through kombu's own Redis channel, so every key name is kombu's, not ours. kombu
keeps each queue as one list per priority step (`queue`, `queue<sep>1` ... with our sep ':'), and, for acks_late
delivery, every delivered but unacknowledged message in the `unacked` hash (delivery tag -> [message, exchange,
routing key]) with its delivery time in `unacked_index`. A message stays there until its worker acks it; a worker
that dies leaves it there until some consumer restores it after `visibility_timeout`.

RabbitMQ (AMQP): the depth of a queue is a passive `queue_declare` (its ready messages). There is no unacked list to
read or restore: RabbitMQ gives a consumer's unacknowledged messages back to their queue the moment its channel
closes (a dead worker's connection), and a queue's messages cannot be read without consuming them. So `queued`
answers conservatively (a task may be waiting whenever one of the queues holds anything) and `unacked` is empty:
redelivery is the broker's job, and the sweep only decides when a task is lost.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from amqp.exceptions import NotFound
from celery import Celery

_SCAN_CHUNK = 500


class BrokerView:
    """One broker connection for reading queue depths and finding (or restoring) a task's message."""

    transport = "?"
    # Whether `queued` reads the messages themselves (Redis) or only knows that a queue is not empty (AMQP).
    exact = False

    @classmethod
    @contextmanager
    def open(cls, app: Celery) -> Iterator[Any]:
        """A view on the app's broker (RedisBrokerView or AmqpBrokerView), closed on exit."""
        with app.connection_for_read() as conn:
            # Fail fast: a health check or a sweep must answer, not retry for minutes while the broker is down.
            conn.ensure_connection(max_retries=1, interval_start=0.2, interval_step=0.2,  # type: ignore[arg-type]
                                   timeout=5)  # kombu takes fractions of a second; the stubs say int
            if conn.transport.driver_type == "amqp":
                yield AmqpBrokerView(conn)
            else:
                yield RedisBrokerView(conn.default_channel)

    def ping(self) -> None:
        """One round trip to the broker (raises when it does not answer)."""
        raise NotImplementedError

    def depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Messages waiting in each queue."""
        raise NotImplementedError

    def unacked(self, task_ids: set[str]) -> dict[str, str]:
        """Task id -> delivery tag of the given tasks' delivered-but-unacknowledged messages the broker will not
        give back by itself."""
        raise NotImplementedError

    def queued(self, task_ids: set[str], queues: Iterable[str], *, limit: int) -> set[str]:
        """The given tasks whose message may wait in one of `queues`."""
        raise NotImplementedError

    def restore(self, delivery_tag: str) -> None:
        """Moves an unacknowledged message back to its queue now."""
        raise NotImplementedError


class RedisBrokerView(BrokerView):
    """kombu's Redis transport, read through its own channel."""

    transport = "redis"
    exact = True

    def __init__(self, channel: Any) -> None:
        self._chan = channel
        self.client: Any = channel.client

    def ping(self) -> None:
        """PING on the broker's Redis."""
        self.client.ping()

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
        """Moves an unacknowledged message back to its queue now, marked redelivered, under a NEW delivery tag.

        kombu's own `restore_by_tag` keeps the tag, so the attempt the sweep gave up on (a worker that hung, not
        died) would, on waking, ack the tag the next delivery is recorded under, and a later death of that next
        worker would leave nothing to restore. A fresh tag fences the old delivery at the broker too: its ack
        removes nothing of the new one's.
        """
        qos = self._chan.qos

        def restore_transaction(pipe: Any) -> None:
            raw = pipe.hget(qos.unacked_key, delivery_tag)
            pipe.multi()
            qos._remove_from_indices(delivery_tag, pipe)
            if raw:
                payload, exchange, routing_key = json.loads(raw)
                with contextlib.suppress(KeyError, TypeError):
                    payload["properties"]["delivery_tag"] = uuid.uuid4().hex
                self._chan._do_restore_message(payload, exchange, routing_key, pipe)

        self.client.transaction(restore_transaction, qos.unacked_key)


class AmqpBrokerView(BrokerView):
    """RabbitMQ: depths by passive declare; redelivery left to the broker (see the module's docstring)."""

    transport = "amqp"
    exact = False

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._chan: Any = None

    def _channel(self) -> Any:
        if self._chan is None:
            self._chan = self._conn.channel()
        return self._chan

    def ping(self) -> None:
        """A passive declare of a built-in exchange: one round trip that changes nothing."""
        self._channel().exchange_declare("amq.direct", "direct", passive=True)

    def depths(self, queues: Iterable[str]) -> dict[str, int]:
        """Ready messages in each queue (a queue never declared yet holds none)."""
        out: dict[str, int] = {}
        for queue in queues:
            try:
                _, count, _ = self._channel().queue_declare(queue=queue, passive=True)
                out[queue] = int(count)
            except NotFound:
                # RabbitMQ closes a channel on a failed passive declare: the next queue needs a new one.
                out[queue] = 0
                with contextlib.suppress(Exception):
                    self._chan.close()
                self._chan = None
        return out

    def unacked(self, task_ids: set[str]) -> dict[str, str]:
        """Always empty: RabbitMQ itself requeues the unacknowledged messages of a consumer that went away."""
        return {}

    def queued(self, task_ids: set[str], queues: Iterable[str], *, limit: int) -> set[str]:
        """Every given task when any of `queues` holds a message (RabbitMQ's queues cannot be read in place)."""
        return set(task_ids) if any(self.depths(queues).values()) else set()

    def restore(self, delivery_tag: str) -> None:
        """Never needed on RabbitMQ (`unacked` returns nothing to restore)."""
        raise NotImplementedError("RabbitMQ requeues unacknowledged messages itself")


def _task_id(raw: bytes | str) -> str | None:
    """The Celery task id inside one `unacked` hash value."""
    try:
        message = json.loads(raw)[0]
        task_id = message.get("headers", {}).get("id")
    except (ValueError, IndexError, AttributeError, TypeError):
        return None
    return task_id if isinstance(task_id, str) else None
