"""Typed shapes of notifications (seed 003: id, user_id, type, title, message, read, created_at)."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from progress.models import check_json

# User ids become parts of key and channel names: no ':' (key structure) and no glob characters (PSUBSCRIBE).
USER_ID_PATTERN = r"^[A-Za-z0-9_.@+-]{1,128}$"
NOTIFICATION_ID_PATTERN = r"^[0-9a-f]{32}$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:@+-]{1,200}$"
MAX_TITLE_CHARS = 200
MAX_MESSAGE_CHARS = 5_000
MAX_DATA_BYTES = 8_192

UserId = Annotated[str, Field(pattern=USER_ID_PATTERN, description="the recipient")]
NotificationId = Annotated[str, Field(pattern=NOTIFICATION_ID_PATTERN)]
IdempotencyKey = Annotated[str, Field(pattern=IDEMPOTENCY_KEY_PATTERN)]
Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_CHARS)]
Message = Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]


def checked_data(value: dict[str, Any]) -> dict[str, Any]:
    """A notification's data if it is plain JSON of at most MAX_DATA_BYTES; ValueError naming `data` otherwise."""
    check_json(value, "data", MAX_DATA_BYTES)
    return value


#: A notification's data payload, checked wherever it enters (API bodies and task arguments alike).
NotificationData = Annotated[dict[str, Any], AfterValidator(checked_data)]

_USER_ID = re.compile(USER_ID_PATTERN)
_NOTIFICATION_ID = re.compile(NOTIFICATION_ID_PATTERN)


class NotificationType(StrEnum):
    """How a client should present a notification."""

    INFO = "info"  #: neutral information
    WARNING = "warning"  #: needs attention soon
    ERROR = "error"  #: something failed
    SUCCESS = "success"  #: something finished well


class NotificationCreate(BaseModel):
    """Input of `create`: what the API or a task asks to send."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    type: NotificationType = NotificationType.INFO
    title: Title
    message: Message
    data: dict[str, Any] = Field(default_factory=dict, description="small JSON payload for the client (links, ids)")
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="a second create with the same key for the same user returns the first, sends nothing"
    )

    @field_validator("data")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        return checked_data(value)


class Notification(BaseModel):
    """One stored notification, as listed, published and sent over WebSockets."""

    id: str
    user_id: str
    type: NotificationType
    title: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    read: bool = False
    created_at: datetime
    read_at: datetime | None = None
    duplicate: bool = Field(
        default=False, exclude=True, description="create() found an earlier one with the same idempotency key"
    )


def check_user_id(user_id: str) -> str:
    """The user id if it is well formed; raises ValueError otherwise."""
    if not _USER_ID.match(user_id):
        raise ValueError(f"invalid user_id {user_id!r} (expected {USER_ID_PATTERN})")
    return user_id


def check_notification_id(notification_id: str) -> str:
    """The notification id if it is well formed; raises ValueError otherwise."""
    if not _NOTIFICATION_ID.match(notification_id):
        raise ValueError(f"invalid notification id {notification_id!r}")
    return notification_id
