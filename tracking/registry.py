"""Which Celery apps are tracked, each with its store and settings; and which app published what.

Celery's signals are process-wide: a handler sees every app's tasks. Each handler here first asks this registry
whether the app behind the signal was installed (`tracking.install`), and does nothing for any other app.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from base.settings import Settings
from progress import ProgressStore


@dataclass(frozen=True, eq=False)
class Tracking:
    """What tracking uses for one app: its store (per process), its settings, and the queue a task is shown on."""

    app: Any
    store: Callable[[], ProgressStore]
    settings: Callable[[], Settings]
    #: A task name's queue for the record's metadata; None: the routing key it was published with.
    queue_of: Callable[[str], str] | None = None


_installed: list[Tracking] = []
# The app whose publish is under way in this context (set around a publish by ProgressTask and TrackedCelery):
# `before_task_publish` names only the task, and two apps may well have tasks of the same name.
_publishing: ContextVar[Any] = ContextVar("tracking_publishing", default=None)
_worker_app: list[Any] = []


def register(tracking: Tracking) -> None:
    """Makes `tracking` the one of its app (installing twice replaces)."""
    _installed[:] = [t for t in _installed if t.app is not tracking.app]
    _installed.append(tracking)


def tracking_of(app: Any) -> Tracking | None:
    """The tracking installed on `app`, or None (an app nobody installed tracking on)."""
    return next((t for t in _installed if t.app is app), None)


def installed() -> list[Tracking]:
    """Every tracked app's tracking, in the order installed."""
    return list(_installed)


def require(app: Any) -> Tracking:
    """The tracking installed on `app`; RuntimeError saying what to call when there is none."""
    found = tracking_of(app)
    if found is None:
        name = getattr(app, "main", None) or app
        raise RuntimeError(f"progress tracking is not installed on the Celery app {name!r}: call "
                           "tracking.install(app) where the app is created")
    return found


@contextlib.contextmanager
def publishing(app: Any) -> Iterator[None]:
    """Marks the publishes inside as `app`'s."""
    token = _publishing.set(app)
    try:
        yield
    finally:
        _publishing.reset(token)


def publishing_tracking() -> Tracking | None:
    """The tracking of the app whose publish is under way here, if that app is tracked."""
    app = _publishing.get()
    return None if app is None else tracking_of(app)


def set_worker_app(app: Any) -> None:
    """Remembers the app whose worker runs in this process (the broker transport has no app of its own)."""
    _worker_app[:] = [app]


def worker_tracking() -> Tracking | None:
    """The tracking of this process's worker app; else the only tracked app; else None."""
    if _worker_app and (found := tracking_of(_worker_app[0])) is not None:
        return found
    return _installed[0] if len(_installed) == 1 else None
