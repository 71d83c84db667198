"""kombu's Redis transport, hardened for two bad days: garbage on a queue's list and Redis at `maxmemory`.

Configured as `broker_transport` for redis:// and rediss:// brokers (worker/config.py). Three small changes to
kombu 5.7's `kombu.transport.redis`, each where kombu itself would stop the worker:

- **Garbage.** kombu decodes what BRPOP returns with `loads` and hands it on as a message; anything else (not JSON,
  a JSON array or string, an object without `properties`, a body its encoding cannot decode) raises inside the
  consumer's event loop, and the worker exits or reconnects (which redelivers the task it was running). Here each
  item is checked first; one that is not a kombu message goes to the dead-letter list (tracking/bad_messages.py) and
  the consumer reads on.
- **Delivery at maxmemory.** BRPOP still pops at maxmemory (it frees memory), but recording the delivery in the
  `unacked` hash is refused (OOM). The popped message is then held in this process, no further message is taken,
  and each loop tick retries the record until Redis accepts it; then the message runs. On close, a held message
  is pushed back to its list.
- **Acks at maxmemory.** kombu removes an acknowledged message from `unacked` and `unacked_index` inside MULTI/EXEC,
  and Redis refuses every command queued in MULTI at maxmemory, even deletions. Without MULTI both deletions are
  allowed; each alone is safe (a restore ignores an index entry whose message is gone).
"""

# kombu's stubs describe its public API; this module subclasses the Redis channel's internals (kombu 5.7's
# _brpop_read and friends), so the lines that reach them say so with an `attr-defined`/`misc` ignore.

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from time import monotonic
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from tracking.bad_messages import dead_letter

log = logging.getLogger(__name__)
_RETRY_MAX_S = 2.0


class RefusedForMemory(Exception):
    """Redis refused to record a delivery (OOM): nothing was written, the message is only in this process."""


def envelope_problem(payload: Any, decode_body: Any) -> str | None:
    """Why a decoded BRPOP item is not a kombu message this transport can deliver (None: it is one)."""
    if not isinstance(payload, dict):
        kind = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(
            type(payload), "null")
        return f"not a kombu message: a JSON {kind}"
    props = payload.get("properties")
    if not isinstance(props, dict):
        return "not a kombu message: no `properties` object"
    if not props.get("delivery_tag"):
        return "not a kombu message: no `properties.delivery_tag`"
    info = props.get("delivery_info")
    if not isinstance(info, dict) or "exchange" not in info or "routing_key" not in info:
        return "not a kombu message: no `properties.delivery_info` with exchange and routing_key"
    headers = payload.get("headers")
    if headers is not None and not isinstance(headers, dict):
        return "not a kombu message: `headers` is not an object"
    body, encoding = payload.get("body"), props.get("body_encoding")
    if body and encoding:
        try:
            decode_body(body, encoding)
        except Exception as exc:  # any codec failure: kombu would raise it in the event loop
            return f"body cannot be decoded as {encoding}: {type(exc).__name__}: {exc}"
    return None


class QoS(kombu_redis.QoS):
    """kombu's QoS whose index updates run without MULTI, and whose refused delivery says so (see above)."""

    def append(self, message: Any, delivery_tag: str) -> None:
        """Records a delivery in `unacked`; RefusedForMemory when Redis is at maxmemory."""
        try:
            super().append(message, delivery_tag)
        except redis.OutOfMemoryError as exc:
            raise RefusedForMemory(str(exc)) from exc

    @contextmanager
    def pipe_or_acquire(self, pipe: Any = None, client: Any = None) -> Iterator[Any]:
        """The caller's pipeline, or a new one without MULTI (Redis refuses MULTI at maxmemory, even for DEL)."""
        if pipe:
            yield pipe
        else:
            with self.channel.conn_or_acquire(client) as conn:  # type: ignore[attr-defined]
                yield conn.pipeline(transaction=False)


class Channel(kombu_redis.Channel):
    """kombu's Redis channel that dead-letters garbage and waits out a refused delivery (see above)."""

    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (payload, queue, list key, raw item) of a popped message Redis would not let us record; retried per tick.
        self._held: tuple[dict[str, Any], str, bytes, bytes] | None = None
        self._held_retry_at = 0.0
        self._held_delay = 0.1

    def _brpop_read(self, **options: Any) -> bool:
        # kombu 5.7's _brpop_read, with the item checked before delivery and a refused delivery held.
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:  # type: ignore[attr-defined]
                self.client.connection.disconnect()  # the next iteration reconnects
                raise
            if not dest__item:
                raise Empty()
            key, item = dest__item
            dest = bytes_to_str(key).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)  # type: ignore[attr-defined]
            payload = self._vetted(item, dest)
            if payload is not None:
                self._deliver_or_hold(payload, dest, key, item)
            return True
        finally:
            self._in_poll = None  # kombu's own value for "no BRPOP pending"
            self._flush_brpop_reauth()  # type: ignore[attr-defined]

    def _brpop_start(self, timeout: Any = None) -> None:
        # Called every loop tick while no BRPOP is pending: a held message goes first, and no new one is taken
        # until it is recorded (and then the next tick decides, as QoS may be full now).
        if self._held is not None:
            self._deliver_held()
            return
        super()._brpop_start(timeout)  # type: ignore[misc]

    def _vetted(self, item: bytes, queue: str) -> dict[str, Any] | None:
        """The decoded message, or None after dead-lettering an item that is not one."""
        try:
            payload = loads(bytes_to_str(item))
        except Exception as exc:  # kombu's loads raises whatever the JSON library raises
            dead_letter(item, f"not JSON: {type(exc).__name__}: {exc}", source="transport", queue=queue)
            return None
        problem = envelope_problem(payload, self.decode_body)
        if problem is not None:
            dead_letter(item, problem, source="transport", queue=queue)
            return None
        return payload  # type: ignore[no-any-return]

    def _deliver_or_hold(self, payload: dict[str, Any], queue: str, key: bytes, item: bytes) -> None:
        try:
            self.connection._deliver(payload, queue)
        except RefusedForMemory as exc:
            log.warning("Redis is out of memory (%s): holding a message from %s until it can be recorded", exc,
                        queue)
            self._held = (payload, queue, key, item)
            self._held_delay = 0.1
            self._held_retry_at = monotonic() + self._held_delay

    def _deliver_held(self) -> None:
        if self._held is None or monotonic() < self._held_retry_at:
            return
        payload, queue, _, _ = self._held
        try:
            self.connection._deliver(payload, queue)
        except RefusedForMemory:
            self._held_delay = min(self._held_delay * 2, _RETRY_MAX_S)
            self._held_retry_at = monotonic() + self._held_delay
            return
        log.warning("Redis accepts writes again: the held message from %s is delivered", queue)
        self._held = None

    def close(self) -> None:
        """Closes the channel, first pushing a held message back to the list it was popped from."""
        if self._held is not None:
            _, queue, key, item = self._held
            self._held = None
            try:
                with self.conn_or_acquire() as client:
                    client.rpush(key, item)  # BRPOP took it from the right: it goes back to the same end
            except redis.RedisError as exc:
                log.error("could not put back a held message from %s (%s); its raw body: %r", queue, exc, item)
        super().close()


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with the channel above."""

    Channel = Channel
