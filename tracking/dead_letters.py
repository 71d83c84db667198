"""The dead-letter list: messages the workers could not run, each with its raw body and the reason.

Workers put here what they must not run and must not drop silently: a message they cannot decode or route (not
JSON, not kombu's envelope, an unknown task) and a poison pill (a task whose worker process died
`max_worker_deaths` times). It is one Redis list in the progress store's Redis (newest first), capped at
`dead_letter_max` entries and expiring `dead_letter_ttl_s` after its last entry, so a flood of garbage can neither
fill Redis nor live for ever. `taskrunner dead-letters` lists it; `taskrunner health` counts it. No Celery here.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Literal

import redis
from pydantic import BaseModel, Field, ValidationError

from base.keys import AppKeys
from base.settings import Settings, get_settings
from progress.codec import at_ms
from progress.config import StoreConfig
from tracking.store import store_config

log = logging.getLogger(__name__)
# A raw body is kept up to this many characters: enough to see what it was, never a way to fill Redis.
RAW_MAX_CHARS = 64 * 1024

Source = Literal["transport", "consumer", "worker_deaths"]


class DeadLetter(BaseModel):
    """One message the workers did not run, and why."""

    at: datetime = Field(description="when it was dead-lettered")
    source: Source = Field(description="who refused it: the broker transport, Celery's consumer, the death limit")
    reason: str = Field(description="why it could not run")
    queue: str | None = Field(default=None, description="the queue it came from, when known")
    task_id: str | None = Field(default=None, description="the task id read from it, when it has one")
    task_name: str | None = Field(default=None, description="the task name read from it, when it has one")
    raw: str = Field(description="the message as received (undecodable bytes replaced), cut at RAW_MAX_CHARS")
    raw_chars: int = Field(description="the raw message's full length in characters")


class DeadLetters:
    """The capped, expiring dead-letter list on one Redis."""

    def __init__(self, client: redis.Redis, config: StoreConfig, *, max_entries: int, ttl_s: int) -> None:
        self.client = client
        self.config = config
        self.key = AppKeys(config.namespace).dead_letters()
        self.max_entries = max_entries
        self.ttl_s = ttl_s

    def add(self, *, source: Source, reason: str, raw: bytes | str, now_ms: int, queue: str | None = None,
            task_id: str | None = None, task_name: str | None = None) -> DeadLetter:
        """Records one message (one round trip: push, trim to the cap, refresh the TTL); returns the entry."""
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        entry = DeadLetter(at=at_ms(now_ms, self.config.tz), source=source, reason=reason, queue=queue,
                           task_id=task_id, task_name=task_name, raw=text[:RAW_MAX_CHARS], raw_chars=len(text))
        pipe = self.client.pipeline(transaction=True)
        pipe.lpush(self.key, entry.model_dump_json())
        pipe.ltrim(self.key, 0, self.max_entries - 1)
        pipe.expire(self.key, self.ttl_s)
        pipe.execute()
        return entry

    def count(self) -> int:
        """Entries held now."""
        return int(self.client.llen(self.key))

    def latest(self, limit: int = 20) -> list[DeadLetter]:
        """The newest `limit` entries, newest first (an entry that does not parse is skipped and logged)."""
        out: list[DeadLetter] = []
        for raw in self.client.lrange(self.key, 0, max(0, limit) - 1) if limit > 0 else []:
            try:
                out.append(DeadLetter.model_validate(json.loads(raw)))
            except (ValueError, ValidationError) as exc:
                log.warning("unreadable dead-letter entry skipped: %s", exc)
        return out


def configured_dead_letters(client: redis.Redis, settings: Settings | None = None) -> DeadLetters:
    """The dead-letter list on `client` (the progress store's Redis) with the configured cap and TTL."""
    settings = settings or get_settings()
    return DeadLetters(client, store_config(settings), max_entries=settings.dead_letter_max,
                       ttl_s=settings.dead_letter_ttl_s)
