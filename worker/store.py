"""The progress store of this project's Celery processes (tasks and ops use it too): one per process."""

from __future__ import annotations

from base.settings import get_settings
from progress import ProgressStore
from tracking.store import ProcessLocalStore

_store = ProcessLocalStore(get_settings)


def progress_store() -> ProgressStore:
    """This process's store on the configured Redis (a forked child gets its own connections)."""
    return _store()


def reset_store() -> None:
    """Forgets the store (tests that change REDIS_URL)."""
    _store.reset()
