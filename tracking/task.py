"""ProgressTask: the Celery base task that ties a task's lifecycle to its progress record.

It finds its store and settings through its own app (`tracking.install(app, ...)`), never through a global, so
several apps in one process each write to their own store, and an app nobody installed tracking on is refused.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import redis
from celery import Task, states
from celery.exceptions import Ignore, Retry, SoftTimeLimitExceeded
from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from pydantic import BaseModel, ValidationError

from base.settings import Settings
from progress import (
    ProgressError,
    ProgressReporter,
    ProgressStore,
    TaskCancelled,
    TaskNotFound,
    TaskStatus,
    UpdateResult,
)
from progress.errors import TaskSuperseded
from progress.models import is_symbol, percentage
from progress.ops import Written
from tracking.enqueue_metadata import OWNER_HEADER
from tracking.errors import InvalidTaskArguments, is_out_of_memory
from tracking.flower_events import send_progress_event, send_revoked_event, traceback_text
from tracking.registry import Tracking, installed, publishing, require
from tracking.result_backend import ENDED_HERE, PROGRESS_STATE, reads_record
from tracking.task_types import record_names

_loaded: set[int] = set()
#: The request attribute saying this attempt's start found the task's record (it was not recreated by the worker).
_FOUND = "record_found_at_start"
#: The request attribute holding when this attempt may send its next task-progress event (time.monotonic()).
_NEXT_EVENT = "next_progress_event"
log = logging.getLogger(__name__)


class ProgressTask(Task[Any, Any]):
    """A task whose record follows it: created at publish, running, completed / error / cancelled; retries shown.

    Subclasses (via `@app.task(base=ProgressTask, bind=True, args_model=Model)`) get `self.progress`, a throttled
    reporter; their arguments are validated by `args_model` both when published and when run.
    """

    abstract = True
    args_model: ClassVar[type[BaseModel] | None] = None
    # Ends the record at once on a hard time limit, and for good after repeated worker deaths (a poison pill).
    Request = "tracking.request:TrackedRequest"
    # Expected in normal operation: logged without a traceback, never retried.
    throws = (InvalidTaskArguments,)

    @property
    def progress(self) -> ProgressReporter:
        """This attempt's reporter (only while the task runs in a worker)."""
        reporter = getattr(self.request, "progress", None)
        if reporter is None:
            raise RuntimeError(f"{self.name}: progress is only available while the task runs in a worker")
        return reporter  # type: ignore[no-any-return]  # set by __call__ on Celery's per-call request

    @property
    def tracking(self) -> Tracking:
        """The tracking installed on this task's app (RuntimeError naming the fix when there is none)."""
        return require(self.app)

    def _store(self) -> ProgressStore:
        return self.tracking.store()

    def _settings(self) -> Settings:
        return self.tracking.settings()

    # --- publishing ---------------------------------------------------------------------------------------------

    def validate_arguments(self, args: tuple[Any, ...] | list[Any] | None, kwargs: dict[str, Any] | None) -> BaseModel:
        """The arguments as the task's model; raises InvalidTaskArguments naming each bad field."""
        model = self.args_model
        if model is None:
            raise TypeError(f"{self.name} has no args_model")
        data = dict(kwargs or {})
        names = list(model.model_fields)
        for name, value in zip(names, args or (), strict=False):
            data[name] = value
        if args and len(args) > len(names):
            data["__extra_positional__"] = list(args[len(names) :])
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise InvalidTaskArguments.from_validation(self.name, exc) from None

    def apply_async(self, args: tuple[Any, ...] | list[Any] | None = None, kwargs: dict[str, Any] | None = None,
                    task_id: str | None = None, producer: Any = None, link: Any = None, link_error: Any = None,
                    shadow: str | None = None, **options: Any) -> AsyncResult[Any]:
        """Publishes after validating the arguments, so a bad call fails in the caller at once.

        What is published is the model's JSON dump, defaults filled in, exactly as the HTTP API publishes it: a
        default lives in one place (the argument model), and Python calls may leave out what HTTP calls may.
        A publish that fails is handled by the app's send_task (tracking/app_class.py), whichever way it was sent.
        """
        if self.args_model is not None:
            args, kwargs = (), self.validate_arguments(args, kwargs).model_dump(mode="json")
        with publishing(self.app):  # so the publish handler records it in this app's store, not another app's
            return super().apply_async(None if args is None else tuple(args), kwargs, task_id, producer, link,
                                       link_error, shadow, **options)

    # --- running ------------------------------------------------------------------------------------------------

    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:  # `/`: a kwarg named self is refused, not a clash
        req = self.request
        if req.called_directly or not req.id:
            return self.run(*args, **kwargs)
        reporter = ProgressReporter(
            self._store(), req.id, interval=self._settings().progress_interval_s, on_write=self._mirror
        )
        req.progress = reporter  # type: ignore[attr-defined]  # Celery's request context takes any attribute
        try:
            self._begin(reporter)
        except TaskCancelled:
            return self._cancelled(reporter)
        try:
            return self._run_tracked(reporter, args, kwargs)
        except TaskSuperseded:
            # A newer attempt owns the record and Celery's result: this one ends quietly, writing nothing.
            log.warning("%s[%s]: attempt %s stopped, superseded by a newer attempt", self.name, req.id,
                        reporter.attempt)
            raise Ignore() from None
        finally:
            # Before Celery stores the result, so a chord callback always sees every child counted.
            self._report_to_parent(reporter, kwargs)

    def _run_tracked(self, reporter: ProgressReporter, args: Any, kwargs: dict[str, Any]) -> Any:
        try:
            if self.args_model is not None:
                params = self.validate_arguments(args, kwargs)
                args, kwargs = (), params.model_dump()
            result = self.run(*args, **kwargs)
        except TaskSuperseded:
            raise
        except InvalidTaskArguments as exc:
            self._ended(reporter.fail(str(exc), message="invalid arguments",
                                      details={"validation_errors": exc.errors}), states.FAILURE)
            raise
        except TaskCancelled:
            return self._cancelled(reporter)
        except Retry as exc:
            reason = exc.exc if exc.exc is not None else exc
            countdown = exc.when if isinstance(exc.when, int | float) else None
            reporter.retrying(f"{type(reason).__name__}: {reason}", countdown)
            raise
        except SoftTimeLimitExceeded:
            limit = self.soft_time_limit or self._settings().soft_time_limit_s
            self._ended(reporter.fail(f"time limit of {limit}s exceeded"), states.FAILURE)
            raise
        except Exception as exc:
            self._ended(reporter.fail(f"{type(exc).__name__}: {exc}", details={"traceback": traceback_text(exc)}),
                        states.FAILURE)
            raise
        self._ended(reporter.complete(results=_as_results(result), message=_done_message(reporter)), states.SUCCESS)
        return result

    def _ended(self, written: Written | None, state: str) -> None:
        """Tells the result backend this attempt ended a record it found at its start (so no SUCCESS can have been
        stored before: Celery's store skips its read, see RecordReadingBackend._store_result)."""
        if written is not None and written.applied and getattr(self.request, _FOUND, False):
            setattr(self.request, ENDED_HERE, state)

    def _report_to_parent(self, reporter: ProgressReporter, kwargs: dict[str, Any]) -> None:
        """A child of a batch (kwarg `parent_task_id`) adds itself to its parent's aggregate progress, once."""
        parent = kwargs.get("parent_task_id")
        if not parent or not reporter.finished or reporter.superseded or reporter.last is None:
            return
        # If the parent was deleted or never recorded, the child's own record is what matters.
        with contextlib.suppress(ProgressError):
            self._store().apply(str(parent), {
                "status": "running", "soft": True, "incr": 1,
                "details": {f"child:{self.request.id}": {"task": self.name, "status": reporter.last.status.value,
                                                         "symbol": kwargs.get("symbol")}},
            })

    def _begin(self, reporter: ProgressReporter) -> None:
        """Marks the attempt running, creating the record if the publisher did not (a non-instrumented client)."""
        worker = self.request.hostname or socket.gethostname()
        self._expect_record()
        try:
            reporter.start(message="running", worker=worker)
            setattr(self.request, _FOUND, True)
        except TaskNotFound:
            # No record: a publisher without the hook, or its creation lost in a failover (then Redis may still be
            # settling: the creation waits it out like the task's own writes).
            reporter.outlasting(lambda: self._store().create_task(**record_names(self.name), task_id=self.request.id,
                                                                  **_record_fields(self.request.kwargs)))
            reporter.start(message="running", worker=worker)

    def _expect_record(self) -> None:
        """Tells the store which indexes the publish hook put the record in (the same names, symbol, owner and
        parent), so that the start's status move is one round trip (see StoreCore.expect)."""
        kwargs = self.request.kwargs or {}
        owner = getattr(self.request, OWNER_HEADER, None) or (self.request.headers or {}).get(OWNER_HEADER)
        parent = kwargs.get("parent_task_id")
        self._store().expect(str(self.request.id), **record_names(self.name), **_record_fields(kwargs),
                              metadata={"user_id": owner, "parent_task_id": parent})

    def _cancelled(self, reporter: ProgressReporter) -> None:
        """Ends the attempt as cancelled: the record says so, Celery shows REVOKED, nothing is retried. A copy of a
        task another attempt already completed or failed ends quietly, with Celery's result showing that end."""
        reporter.cancelled()
        ended = reporter.last.status if reporter.last is not None else None
        if ended in (TaskStatus.COMPLETED, TaskStatus.ERROR):
            # A redelivered copy (the worker of an attempt that ended the record died before Celery stored its
            # result or acked): Celery's result says that end, never a revoke nobody asked for.
            self._repeat_end()
            raise Ignore()
        # Stored the way Celery stores a revoke (a TaskRevokedError), so AsyncResult.get() raises it cleanly.
        self.backend.mark_as_revoked(str(self.request.id), reason="cancelled", request=self.request)
        send_revoked_event(self)  # Celery sends no event for an Ignore: Flower would show PROGRESS for ever
        raise Ignore()

    def _repeat_end(self) -> None:
        """Stores in Celery's backend the end another attempt wrote to the record (completed or error)."""
        task_id = str(self.request.id)
        rec = self._store().get_task_status(task_id)
        if rec is None:
            return
        if rec.status is TaskStatus.COMPLETED:
            # Celery never overwrites a stored SUCCESS, so the attempt's own return value wins if it got stored.
            self.backend.mark_as_done(task_id, rec.results, request=self.request)
        else:
            self.backend.mark_as_failure(task_id, RuntimeError(rec.error_message or rec.current_status),
                                         request=self.request)

    def _mirror(self, result: UpdateResult) -> None:
        """At the throttled rate: Celery's PROGRESS state for AsyncResult unless the app's result backend reads it
        from the record (tracking/result_backend.py); and, at most once per `flower_progress_interval_s`, an event so
        Flower shows PROGRESS.

        Only routine progress writes are mirrored (the reporter calls this from flush): the start is already
        Celery's STARTED state, and a short task that never reports progress costs Celery nothing extra. The events
        have their own interval because each one is a publish of its own: with unthrottled writes they cost the
        worker more than the writes themselves (`make bench`, tracked_throughput), and Flower shows a person one
        state a second anyway.
        """
        if result.status.is_terminal:
            return
        mirror = not reads_record(self.backend)  # a backend that reads the record needs no copy (1.2 ms a write)
        event = bool(self.app.conf.worker_send_task_events) and self._event_due()
        if not (mirror or event):
            return
        meta: dict[str, Any] = {
            "current": result.progress.current,
            "total": result.progress.total,
            "percentage": result.progress.percentage,
            "status": result.status.value,
        }
        if mirror:
            try:
                self.update_state(state=PROGRESS_STATE, meta=meta)
            except Exception as exc:  # a copy of the record's progress: an outage must not end the task
                log.warning("could not mirror the progress of %s into Celery: %s", self.request.id, exc)
        if event:
            send_progress_event(self, meta)

    def _event_due(self) -> bool:
        """Whether this attempt's next task-progress event is due (and, if so, when the one after is)."""
        now = time.monotonic()
        req = self.request
        if now < getattr(req, _NEXT_EVENT, 0.0):
            return False
        setattr(req, _NEXT_EVENT, now + self._settings().flower_progress_interval_s)
        return True


def mark_not_queued(store: ProgressStore, task_id: str, exc: Exception) -> None:
    """Ends the record of a task whose message never reached the broker (a no-op if there is none)."""
    down = isinstance(exc, OperationalError | ConnectionError | OSError | redis.ConnectionError | redis.TimeoutError)
    # Worded as the HTTP API words its 503, so a record says the same whichever way the task was enqueued.
    reason = ("Redis out of memory" if is_out_of_memory(exc) else
              "message broker unavailable" if down else "publish failed")
    try:
        store.apply(task_id, {"status": "error", "message": "not queued",
                              "error_message": f"{reason}, task not queued: {type(exc).__name__}: {exc}"})
    except (ProgressError, redis.RedisError) as err:
        # Redis itself is down (no record was written) or the record is gone: the caller's error says it all.
        log.warning("could not mark %s as not queued: %s", task_id, err)


def _as_results(value: Any) -> dict[str, Any]:
    """A task's return value as the record's JSON results."""
    if isinstance(value, BaseModel):
        dumped: dict[str, Any] = value.model_dump(mode="json")
        return dumped
    if isinstance(value, dict):
        return value
    return {"value": value}


def _done_message(reporter: ProgressReporter) -> str:
    total = reporter.total or 0
    if total:
        return f"completed ({percentage(reporter.current, total):g}% of {total})"
    return "completed"


def _record_fields(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Record fields a task's keyword arguments provide (its symbol)."""
    symbol = (kwargs or {}).get("symbol")
    # A symbol the record cannot hold is left out: the arguments' own validation then says what is wrong with it.
    return {"symbol": symbol} if is_symbol(symbol) else {}


def tracked_task(tracking: Tracking, name: str | None) -> ProgressTask | None:
    """The ProgressTask a tracked app publishes under this name, or None (not ours to record)."""
    if not name:
        return None
    app = tracking.app
    if not app.finalized:
        # Looking the name up in the publisher's registry would finalize its app, and Celery then adds the registered
        # task's own options (its time limits) to that app's later publishes by name, over the worker's. Another
        # tracked app that has the task answers first (a second app of the project's class, publishing by name).
        for other in installed():
            if other.app is not app and isinstance(task := other.app.tasks.get(name), ProgressTask):
                return task
    if name not in app.tasks and id(app) not in _loaded:
        _loaded.add(id(app))
        app.loader.import_default_modules()  # a client that published by name without importing the task modules
    task = app.tasks.get(name)
    return task if isinstance(task, ProgressTask) else None
