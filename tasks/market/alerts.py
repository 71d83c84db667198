"""Stored price alerts: add / remove / list them, and the atomic "fire once" marker the monitor sets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from base.keys import AppKeys
from base.settings import get_settings
from market import AlertCondition
from worker.store import progress_store

# The notifications family's user id format, repeated so alerts never store a user it would refuse.
USER_ID_PATTERN = r"^[A-Za-z0-9_.@+-]{1,128}$"


class PriceAlert(AlertCondition):
    """An alert condition (above / below / percent_change) owned by the user who is notified when it fires."""

    user_id: str = Field(pattern=USER_ID_PATTERN)
    created_at: AwareDatetime | None = None


class FiredAlert(BaseModel):
    """When and at what price an alert fired, and the notification task sent for it."""

    model_config = ConfigDict(frozen=True)

    alert_id: str
    user_id: str
    symbol: str
    price: float
    price_date: dt.date
    message: str
    fired_at: AwareDatetime
    notification_task_id: str


def _client(client: redis.Redis | None) -> Any:
    # Any: redis-py types replies as bytes | str; the project's clients all decode responses to str.
    return client if client is not None else progress_store().redis


def _keys() -> AppKeys:
    return AppKeys(get_settings().namespace)


def add_alert(alert: PriceAlert, *, client: redis.Redis | None = None) -> PriceAlert:
    """Stores (or replaces) `alert` and arms it: an alert with this id that had fired may fire again."""
    if alert.created_at is None:
        alert = alert.model_copy(update={"created_at": dt.datetime.now(dt.UTC)})
    keys = _keys()
    with _client(client).pipeline(transaction=True) as pipe:
        pipe.hset(keys.alerts(), alert.id, alert.model_dump_json())
        pipe.hdel(keys.alerts_fired(), alert.id)
        pipe.execute()
    return alert


def remove_alert(alert_id: str, *, client: redis.Redis | None = None) -> bool:
    """Deletes an alert and its fired marker; True if the alert existed."""
    keys = _keys()
    with _client(client).pipeline(transaction=True) as pipe:
        pipe.hdel(keys.alerts(), alert_id)
        pipe.hdel(keys.alerts_fired(), alert_id)
        removed, _ = pipe.execute()
    return bool(removed)


def load_alerts(*, client: redis.Redis | None = None) -> tuple[list[PriceAlert], list[str]]:
    """Every stored alert by id, and the ids whose stored JSON no longer validates (skipped, not fatal)."""
    stored: dict[str, str] = _client(client).hgetall(_keys().alerts())
    alerts: list[PriceAlert] = []
    invalid: list[str] = []
    for alert_id in sorted(stored):
        try:
            alerts.append(PriceAlert.model_validate_json(stored[alert_id]))
        except ValidationError:
            invalid.append(alert_id)
    return alerts, invalid


def list_alerts(*, client: redis.Redis | None = None) -> list[PriceAlert]:
    """Every valid stored alert, sorted by id."""
    return load_alerts(client=client)[0]


def fired_alerts(*, client: redis.Redis | None = None) -> dict[str, FiredAlert]:
    """The alerts that have fired, by id."""
    stored: dict[str, str] = _client(client).hgetall(_keys().alerts_fired())
    return {alert_id: FiredAlert.model_validate_json(raw) for alert_id, raw in stored.items()}


def mark_fired(fired: FiredAlert, *, client: redis.Redis | None = None) -> bool:
    """Records that an alert fired; False if it had already (HSETNX: two monitors racing notify once)."""
    return bool(_client(client).hsetnx(_keys().alerts_fired(), fired.alert_id, fired.model_dump_json()))


def unmark_fired(alert_id: str, *, client: redis.Redis | None = None) -> None:
    """Re-arms an alert whose notification could not be sent, so the next run tries again."""
    _client(client).hdel(_keys().alerts_fired(), alert_id)


def unfired(alert_ids: list[str], *, client: redis.Redis | None = None) -> list[str]:
    """Those of `alert_ids` that have not fired yet, in order (one HMGET)."""
    if not alert_ids:
        return []
    marks = _client(client).hmget(_keys().alerts_fired(), alert_ids)
    return [alert_id for alert_id, mark in zip(alert_ids, marks, strict=True) if mark is None]
