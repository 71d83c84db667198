"""The progress store used inside Celery processes: one per process, created on first use (after fork)."""

from __future__ import annotations

import os
from typing import Any

from celery.signals import worker_init

from progress import ProgressStore
from taskrunner.connections import progress_client
from taskrunner.settings import get_settings

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


@worker_init.connect
def check_layout_at_start(**_: Any) -> None:
    """A worker refuses to start on a progress store in another key layout or bucket count (the error says what to
    do), instead of writing tasks where no reader looks."""
    progress_store().check_layout()
