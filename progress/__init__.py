"""Redis-backed progress tracking for long-running tasks. Imports no Celery: app code and HTTP APIs use it directly."""

from progress.aio import AsyncProgressStore
from progress.config import StoreConfig
from progress.errors import (
    InvalidTransition,
    InvalidValue,
    NotReplicated,
    ProgressError,
    ProgressWriteError,
    TaskCancelled,
    TaskNotFound,
    TaskSuperseded,
)
from progress.keys import Keys
from progress.limits import Limits
from progress.models import (
    CreatedTask,
    HealthReport,
    ProgressEvent,
    ProgressInfo,
    Step,
    StepDefinition,
    TaskCreate,
    TaskList,
    TaskRecord,
    TaskUpdate,
    UpdateResult,
)
from progress.reporter import ProgressReporter
from progress.status import TERMINAL, TaskStatus, can_transition
from progress.store import ProgressStore

__all__ = [
    "TERMINAL",
    "AsyncProgressStore",
    "CreatedTask",
    "HealthReport",
    "InvalidTransition",
    "InvalidValue",
    "Keys",
    "Limits",
    "NotReplicated",
    "ProgressError",
    "ProgressEvent",
    "ProgressInfo",
    "ProgressReporter",
    "ProgressStore",
    "ProgressWriteError",
    "Step",
    "StepDefinition",
    "StoreConfig",
    "TaskCancelled",
    "TaskCreate",
    "TaskList",
    "TaskNotFound",
    "TaskRecord",
    "TaskStatus",
    "TaskSuperseded",
    "TaskUpdate",
    "UpdateResult",
    "can_transition",
]
