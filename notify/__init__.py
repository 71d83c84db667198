"""Per-user notifications (seed 003) in Redis: store, live Pub/Sub delivery, email. Imports no Celery."""

from notify.aio import AsyncNotificationStore
from notify.config import NotifyConfig
from notify.errors import EmailError, EmailNotConfigured, NotifyError, PermanentEmailError, TemporaryEmailError
from notify.feed import AsyncFeed, Feed
from notify.models import Notification, NotificationCreate, NotificationType
from notify.smtp import EmailSpec, SentEmail, SmtpSettings, send_email
from notify.store import NotificationStore

__all__ = [
    "AsyncFeed",
    "AsyncNotificationStore",
    "EmailError",
    "EmailNotConfigured",
    "EmailSpec",
    "Feed",
    "Notification",
    "NotificationCreate",
    "NotificationStore",
    "NotificationType",
    "NotifyConfig",
    "NotifyError",
    "PermanentEmailError",
    "SentEmail",
    "SmtpSettings",
    "TemporaryEmailError",
    "send_email",
]
