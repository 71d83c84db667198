"""Tunables of the notification store, with their defaults and the reason for each."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from base.settings import Settings


class NotifyConfig(BaseModel):
    """How the notification store names, keeps and trims what it writes."""

    model_config = ConfigDict(frozen=True)

    namespace: str = Field(default="tr", pattern=r"^[A-Za-z0-9_.-]+$", description="prefix of every key")
    max_per_user: int = Field(
        default=1_000, ge=1, le=100_000, description="a user keeps only the newest ones, so memory stays bounded"
    )
    ttl_s: int = Field(default=30 * 86_400, ge=1, description="a notification is removed this long after creation")
    timezone: str = Field(default="Asia/Tokyo", description="time zone of created_at / read_at (seed: JST)")

    @property
    def tz(self) -> ZoneInfo:
        """The display time zone."""
        return ZoneInfo(self.timezone)

    @classmethod
    def from_settings(cls, settings: Settings) -> NotifyConfig:
        """The notification part of the application settings (same namespace and time zone as progress)."""
        return cls(namespace=settings.namespace, timezone=settings.timezone)
