"""The progress store a Celery process uses: built from settings, one per process, created on first use.

A prefork worker forks its pool after the app is imported, and a Redis connection must not cross a fork: so the
store is created lazily and again in each child (the pid tells).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from base.connections import progress_client
from base.settings import Settings
from progress import ProgressStore, StoreConfig


def store_config(settings: Settings) -> StoreConfig:
    """The progress store's part of the settings."""
    return StoreConfig(namespace=settings.namespace, retention_s=settings.retention_s, timezone=settings.timezone,
                       min_replicas=settings.redis_min_replicas, replica_timeout_ms=settings.redis_replica_timeout_ms)


class ProcessLocalStore:
    """Call it for this process's store on the configured Redis (a forked child gets its own connections)."""

    def __init__(self, settings: Callable[[], Settings]) -> None:
        self._settings = settings
        self._store: ProgressStore | None = None
        self._pid: int | None = None

    def __call__(self) -> ProgressStore:
        if self._store is None or self._pid != os.getpid():
            settings = self._settings()
            self._store = ProgressStore(progress_client(settings), config=store_config(settings))
            self._pid = os.getpid()
        return self._store

    def reset(self) -> None:
        """Forgets the store, so the next call builds one from the settings as they are then."""
        self._store = None
