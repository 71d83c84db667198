"""install(app): progress tracking for one Celery app, any app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery.signals import worker_init

from base.settings import Settings, get_settings
from progress import ProgressStore
from tracking import bad_messages, heartbeat, signals
from tracking.registry import Tracking, register, set_worker_app, tracking_of
from tracking.store import ProcessLocalStore


def install(app: Any, *, store: ProgressStore | Callable[[], ProgressStore] | None = None,
            settings: Settings | Callable[[], Settings] | None = None,
            queue_of: Callable[[str], str] | None = None) -> Tracking:
    """Tracks the ProgressTasks of `app` (and of no other app): records created at publish, kept by the worker.

    `store`: a ProgressStore, or a callable returning this process's (default: one per process, built from
    `settings`). `settings`: a Settings, or a callable returning it (default: the environment's, `get_settings`).
    `queue_of`: a task name's queue for the record (default: the routing key it was published with).
    """
    settings_of: Callable[[], Settings]
    if isinstance(settings, Settings):
        fixed_settings = settings
        settings_of = lambda: fixed_settings  # noqa: E731
    else:
        settings_of = settings or get_settings
    store_of: Callable[[], ProgressStore]
    if isinstance(store, ProgressStore):
        fixed_store = store
        store_of = lambda: fixed_store  # noqa: E731
    else:
        store_of = store or ProcessLocalStore(settings_of)
    tracking = Tracking(app=app, store=store_of, settings=settings_of, queue_of=queue_of)
    register(tracking)
    signals.connect()
    heartbeat.connect()
    bad_messages.connect()
    worker_init.connect(_worker_starts, weak=False, dispatch_uid="tracking.worker_init")
    return tracking


def _worker_starts(sender: Any = None, **_: Any) -> None:
    """A worker starts in this process: its app's tracking is the one the broker transport reports to."""
    app = getattr(sender, "app", None)
    if tracking_of(app) is not None:
        set_worker_app(app)
