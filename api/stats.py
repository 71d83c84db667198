"""Open WebSocket counts per endpoint and per topic, for the health document."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SocketStats:
    """Counts this process's open sockets (in memory: each API process reports its own)."""

    def __init__(self) -> None:
        self._endpoints: Counter[str] = Counter()
        self._topics: Counter[str] = Counter()

    @contextmanager
    def socket(self, endpoint: str) -> Iterator[None]:
        """Counts one socket of `endpoint` while the block runs."""
        self._endpoints[endpoint] += 1
        try:
            yield
        finally:
            self._endpoints[endpoint] -= 1

    def topic_added(self, topic: str) -> None:
        """One more socket subscribed to `topic`."""
        self._topics[topic] += 1

    def topic_removed(self, topic: str) -> None:
        """One socket fewer on `topic`."""
        self._topics[topic] -= 1
        if self._topics[topic] <= 0:
            del self._topics[topic]

    def snapshot(self) -> dict[str, Any]:
        """{connections, endpoints, topics} with zero counts left out."""
        endpoints = {k: v for k, v in self._endpoints.items() if v > 0}
        return {"connections": sum(endpoints.values()), "endpoints": endpoints, "topics": dict(self._topics)}
