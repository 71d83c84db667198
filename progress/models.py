"""Typed shapes of what crosses the progress core's boundary; their JSON follows seed 001."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, computed_field, field_validator, model_validator

from progress import limits
from progress.keys import TASK_ID_PATTERN
from progress.limits import default_limits
from progress.status import TaskStatus

JsonDict = dict[str, Any]

# Metadata keys that look like credentials are masked before they are stored: progress records are shown to
# operators and front ends, and must never carry a secret.
# Whole words inside a key (split on _ - . spaces and camelCase), so "smtp_password" and "apiKey" are masked but
# "author" and "compass" are not.
_SECRET_WORDS = frozenset({"password", "passwd", "pass", "passphrase", "pwd", "secret", "token", "credential",
                           "credentials", "auth", "authorization", "apikey", "privatekey"})
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key")})


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names a secret (password, token, API key, ...)."""
    words = re.split(r"[_\-.\s]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(key)).lower())
    return any(w in _SECRET_WORDS for w in words) or any(p in _SECRET_PAIRS for p in itertools.pairwise(words))


SYMBOL_PATTERN = r"^[A-Za-z0-9_.^=-]{1,32}$"
# The limits of progress/limits.py, as the request models apply them (the store checks the same on every write).
_LIMITS = default_limits()
MAX_METADATA_BYTES = _LIMITS.max_metadata_bytes
MAX_MESSAGE_CHARS = _LIMITS.max_message_chars
MAX_ERROR_CHARS = _LIMITS.max_error_chars
MAX_DETAILS_BYTES = _LIMITS.max_details_bytes
MAX_RESULTS_BYTES = _LIMITS.max_results_bytes
# Deeper JSON is refused: redaction and encoding recurse, and a body nested thousands deep must be a 422, not a crash.
MAX_JSON_DEPTH = _LIMITS.max_json_depth


M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def built(cls: type[M], values: dict[str, Any]) -> M:
    """A model of `cls` holding `values`, which are valid and give every field, without validation or defaults: what
    model_construct does, in a third of its time (the write path builds one response per update, see ops.to_result).
    """
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def percentage(current: int, total: int) -> float:
    """Percent done, rounded to 2 places and capped at 100; 0 when the total is unknown."""
    if total <= 0:
        return 0.0
    return round(min(current, total) * 100.0 / total, 2)


def is_symbol(value: object) -> bool:
    """Whether a value can be stored as a record's symbol."""
    return isinstance(value, str) and re.fullmatch(SYMBOL_PATTERN, value) is not None


def redact(value: Any) -> Any:
    """Masks values stored under secret-looking keys, recursively."""
    if isinstance(value, dict):
        return {k: ("***" if is_secret_key(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def check_json(value: Any, what: str, max_bytes: int) -> None:
    """Raises ValueError (InvalidValue) naming `what` unless `value` is plain JSON within the depth limit and
    `max_bytes`."""
    limits.check_json(value, what, max_bytes, MAX_JSON_DEPTH)


class ProgressInfo(BaseModel):
    """Items done out of the total, as in seed 001's `progress` object."""

    current: int
    total: int
    percentage: float


class Step(BaseModel):
    """One named step of a task (seed 002); `timeout`: it ran past its timeout_ms (flagged while running, kept when
    it then completes). `elapsed_ms` is up to now while the step runs."""

    step: int
    name: str
    status: Literal["pending", "running", "success", "error", "timeout"] = "pending"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    elapsed_ms: int = 0
    timeout_ms: int | None = None
    estimated_ms: int | None = None
    message: str = ""
    error: str = ""


class StepDefinition(BaseModel):
    """A planned step and its expected duration, for an ETA before items can be counted."""

    name: str = Field(min_length=1, max_length=200)
    timeout_ms: int | None = Field(default=None, ge=0)
    estimated_ms: int | None = Field(default=None, ge=0)


class TaskRecord(BaseModel):
    """The full state of one tracked task: seed 001's status response plus rate, ETA, steps and attempts."""

    task_id: str
    status: TaskStatus
    task_type: str
    task_name: str | None = Field(default=None, description="full name of the task's code (Celery's task name)")
    symbol: str | None
    progress: ProgressInfo
    current_status: str
    created_at: datetime
    start_time: datetime | None
    updated_at: datetime | None
    end_time: datetime | None
    processing_time_ms: int | None
    estimated_completion: datetime | None
    rate_per_second: float | None = Field(description="observed items per second since the start")
    eta_seconds: float | None
    processing_details: JsonDict
    results: JsonDict
    error_message: str | None
    metadata: JsonDict
    steps: list[Step]
    attempt: int
    last_error: str | None
    worker: str | None
    ignored_updates: int
    last_event_id: str | None


class Pagination(BaseModel):
    """Seed 001's pagination block."""

    page: int
    limit: int
    total: int
    pages: int


class TaskList(BaseModel):
    """One page of tasks, newest first, with the store-wide count per status."""

    tasks: list[TaskRecord]
    pagination: Pagination
    summary: dict[str, int]
    # Where the next page starts ("<score>:<id>", see get_tasks_list's `after`): each bucket then reads at most
    # `limit` entries, whatever the page. Left out of the seed's JSON, whose shape is fixed.
    next_cursor: str | None = Field(default=None, exclude=True)


class CreatedTask(BaseModel):
    """Seed 001's create-task response."""

    task_id: str
    status: TaskStatus
    task_type: str
    task_name: str | None = None
    symbol: str | None
    total_items: int
    created_at: datetime
    estimated_completion: datetime | None = Field(
        default=None, description="creation time plus the median duration of recent completed tasks of this type"
    )
    created: bool = Field(default=True, description="false when a record with this id already existed")


class UpdateResult(BaseModel):
    """Seed 001's update response, plus whether the change was applied or ignored."""

    task_id: str
    status: TaskStatus
    progress: ProgressInfo
    updated_at: datetime
    applied: bool = True
    event_id: str | None = None


class ProgressEvent(BaseModel):
    """One change of a task, as stored in its event stream and published (message and error only when changed)."""

    model_config = ConfigDict(frozen=True)

    id: str
    task_id: str
    status: TaskStatus
    current: int = 0
    total: int = 0
    #: None in an event read from a stream or channel when the message did not change; readers fill it in (`carry`)
    message: str | None = None
    timestamp: datetime
    kind: Literal["created", "status", "progress", "snapshot"] = "progress"
    step: str | None = None
    error_message: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def percentage(self) -> float:
        """Percent done (see `percentage`)."""
        return percentage(self.current, self.total)

    def to_message(self) -> JsonDict:
        """Seed 001's WebSocket `progress_update` message."""
        return {
            "type": "progress_update",
            "event_id": self.id,
            "task_id": self.task_id,
            "status": self.status.value,
            "progress": {"current": self.current, "total": self.total, "percentage": self.percentage},
            "message": self.message or "",
            "timestamp": self.timestamp.isoformat(),
        }


class TaskCreate(BaseModel):
    """Input of `create_task`: seed 001's create-task request."""

    model_config = ConfigDict(extra="forbid")

    task_type: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    task_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$",
                                  description="full name of the code that runs it (Celery's task name)")
    total_items: int = Field(default=0, ge=0, le=10**12)
    symbol: str | None = Field(default=None, min_length=1, max_length=32, pattern=SYMBOL_PATTERN)
    metadata: JsonDict = Field(default_factory=dict)
    task_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=TASK_ID_PATTERN)
    message: str = Field(default="", max_length=MAX_MESSAGE_CHARS)

    @field_validator("metadata")
    @classmethod
    def _small_and_clean(cls, value: JsonDict) -> JsonDict:
        check_json(value, "metadata", MAX_METADATA_BYTES)
        cleaned: JsonDict = redact(value)
        return cleaned

    @model_validator(mode="after")
    def _name_differs_from_type(self) -> TaskCreate:
        # A name equal to the type says nothing more, and would index the record twice under one filter.
        if self.task_name == self.task_type:
            self.task_name = None
        return self


class TaskUpdate(BaseModel):
    """Input of `update_progress`: seed 001's update request (every field optional but one change)."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = None
    current_items: int | None = Field(default=None, ge=0, le=10**12)
    total_items: int | None = Field(default=None, ge=0, le=10**12)
    message: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    details: JsonDict | None = None
    results: JsonDict | None = None
    error_message: str | None = Field(default=None, max_length=MAX_ERROR_CHARS)

    @field_validator("details", "results")
    @classmethod
    def _bounded(cls, value: JsonDict | None, info: ValidationInfo) -> JsonDict | None:
        if value is None:
            return None
        limit = MAX_DETAILS_BYTES if info.field_name == "details" else MAX_RESULTS_BYTES
        check_json(value, str(info.field_name), limit)
        cleaned: JsonDict = redact(value)
        return cleaned


class DependencyHealth(BaseModel):
    """State of one dependency in the health document."""

    status: Literal["connected", "disconnected"]
    response_time_ms: float | None


class MemoryUsage(BaseModel):
    """Seed 001's memory_usage block (the figures are Redis's)."""

    tasks_in_memory: int
    memory_usage_mb: float


class HealthReport(BaseModel):
    """Seed 001's health document."""

    status: Literal["healthy", "unhealthy"]
    version: str
    active_tasks: int
    total_tasks_today: int
    memory_usage: MemoryUsage
    dependencies: dict[str, DependencyHealth]
    ignored_updates: int = 0
    unreadable_records: int = Field(default=0, description="stored records that could not be read (skipped in lists)")
    superseded_writes: int = Field(default=0, description="writes refused because a newer attempt had started")
