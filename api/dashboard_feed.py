"""The all-tasks feed: every task's changes for dashboards, filtered per socket, one reader per process.

The hub shows this feed every task-channel message; when at least one dashboard socket is open, the feed reads
the changed task's record once (rate, ETA, steps are not in the event) and hands the same message to every socket
whose filters match. Nothing is read from Redis while no dashboard is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from api.feeds import parse_published
from api.hub import RESYNC, Hub, Inbox, Message
from base.keys import AppKeys
from progress import AsyncProgressStore, ProgressEvent, TaskRecord, TaskStatus
from progress.codec import carry, snapshot_event

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Which tasks a dashboard socket wants; None matches anything."""

    status: TaskStatus | None = None
    task_type: str | None = None
    symbol: str | None = None

    def matches(self, event: ProgressEvent, record: TaskRecord) -> bool:
        """Type and symbol must match; a status filter still lets status changes through, so rows can leave."""
        if self.task_type is not None and record.task_type != self.task_type:
            return False
        if self.symbol is not None and record.symbol != self.symbol:
            return False
        return self.status is None or record.status == self.status or event.kind in ("status", "created")


def dashboard_message(event: ProgressEvent, record: TaskRecord) -> dict[str, Any]:
    """Seed 001's progress_update with the event's kind and the task's full record (which fills in an unchanged
    message the event does not repeat)."""
    event = carry(event, snapshot_event(record))
    return {**event.to_message(), "kind": event.kind, "task": record.model_dump(mode="json")}


class DashboardFeed:
    """Turns task-channel messages into dashboard messages for the sockets registered here."""

    def __init__(self, store: AsyncProgressStore, hub: Hub, *, backlog: int = 10_000) -> None:
        self._store = store
        self._other_prefixes = _non_task_channel_prefixes(store.config.namespace)
        self._task_prefix = store.keys.channel("")
        self._sockets: dict[Inbox, TaskFilter] = {}
        self._pending: asyncio.Queue[Message] = asyncio.Queue(backlog)
        self._worker: asyncio.Task[None] | None = None
        hub.add_tap(self)

    @property
    def sockets(self) -> int:
        """Dashboard sockets registered in this process."""
        return len(self._sockets)

    def register(self, inbox: Inbox, flt: TaskFilter) -> None:
        """Starts delivering matching updates to `inbox`."""
        self._sockets[inbox] = flt

    def unregister(self, inbox: Inbox) -> None:
        """Stops delivering to `inbox`."""
        self._sockets.pop(inbox, None)

    def on_message(self, message: Message) -> None:
        """Queues a task-channel message while any dashboard listens."""
        if not self._sockets or not self.is_task_channel(message.channel):
            return
        try:
            self._pending.put_nowait(message)
        except asyncio.QueueFull:
            self.on_resync()
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._drain(), name="api-dashboard-feed")

    def on_resync(self) -> None:
        """Tells every dashboard socket to reload its view."""
        for inbox in self._sockets:
            inbox.push(RESYNC)

    def is_task_channel(self, channel: str) -> bool:
        """Whether a channel is a task's progress channel (not prices, users, results or broadcasts)."""
        return channel.startswith(self._task_prefix) and not channel.startswith(self._other_prefixes)

    async def stop(self) -> None:
        """Stops the reader."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _drain(self) -> None:
        while not self._pending.empty():
            message = self._pending.get_nowait()
            event = parse_published(message.data, self._store)
            if event is None or not self._sockets:
                continue
            try:
                record = await self._store.get_task_status(event.task_id)
            except Exception as exc:  # a Redis hiccup must not kill the feed: dashboards reload instead
                log.warning("dashboard feed could not read task %s: %s", event.task_id, exc)
                self.on_resync()
                continue
            if record is None:
                continue
            payload = dashboard_message(event, record)
            for inbox, flt in tuple(self._sockets.items()):
                if flt.matches(event, record):
                    inbox.push(payload)


def _non_task_channel_prefixes(namespace: str) -> tuple[str, ...]:
    """Channels under the task-channel prefix that belong to other features."""
    keys = AppKeys(namespace)
    return (keys.prices_channel(""), keys.user_channel(""), keys.broadcast_channel(), keys.results_channel_prefix())
