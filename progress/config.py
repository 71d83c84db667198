"""Tunables of the progress store, with their defaults and the reason for each."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from progress.limits import Limits, default_limits


class StoreConfig(BaseModel):
    """How the store names, keeps and trims what it writes."""

    model_config = ConfigDict(frozen=True)

    namespace: str = Field(default="tr", pattern=r"^[A-Za-z0-9_.-]+$", description="prefix of every key")
    # Each bucket is one hash tag, i.e. one Redis Cluster slot: more buckets spread the store over more primaries;
    # reads that span the store (lists, summary, health, retention) visit every bucket.
    buckets: int = Field(default=1, ge=1, le=1024, description="hash-tagged buckets the tasks are spread over")
    retention_s: int = Field(default=86_400, ge=1, description="ended records are removed this long after the end")
    events_maxlen: int = Field(default=1_000, ge=10, description="events kept per task for resuming watchers")
    all_events_maxlen: int = Field(default=10_000, ge=10, description="events kept in the all-tasks stream")
    events_ttl_after_end_s: int = Field(
        default=300, ge=1, description="an ended task's event stream is kept this long; then watchers get a snapshot"
    )
    timezone: str = Field(default="Asia/Tokyo", description="time zone of the timestamps in records (seed: JST)")
    limits: Limits = Field(default_factory=default_limits, description="sizes every write must stay within")
    # Replication is asynchronous: without WAIT a failover can lose a write the primary acknowledged.
    min_replicas: int = Field(default=0, ge=0, description="creations and final states wait for this many replicas")
    replica_timeout_ms: int = Field(default=1_000, ge=1, description="how long they wait before failing loudly")

    @property
    def tz(self) -> ZoneInfo:
        """The display time zone."""
        return ZoneInfo(self.timezone)
