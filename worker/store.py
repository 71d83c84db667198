"""The progress store used inside Celery processes: one per process, created on first use (after fork)."""

from __future__ import annotations

import os

from base.connections import progress_client
from base.settings import get_settings
from progress import ProgressStore

_store: ProgressStore | None = None
_pid: int | None = None


def progress_store() -> ProgressStore:
    """This process's store on the configured Redis (a forked child gets its own connections)."""
    global _store, _pid
    if _store is None or _pid != os.getpid():
        settings = get_settings()
        _store = ProgressStore(progress_client(settings), config=settings.store_config())
        _pid = os.getpid()
    return _store


def reset_store() -> None:
    """Forgets the store (tests that change REDIS_URL)."""
    global _store
    _store = None
