"""The API's settings (TASKRUNNER_API_*), read from the environment, each default beside its reason."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Auth secrets, the port and the limits of the HTTP API (Redis URLs come from taskrunner's Settings)."""

    model_config = SettingsConfigDict(env_prefix="TASKRUNNER_API_", extra="ignore")

    service_token: SecretStr | None = Field(
        default=None, description="bearer token of services that write progress; unset: a random one per process"
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="HS256 secret of users' JWTs; unset: a random one per process (no user can log in)"
    )
    jwt_algorithm: str = Field(default="HS256", description="the only algorithm accepted (never 'none')")
    host: str = Field(default="127.0.0.1", description="listen address of `python -m api`")
    port: int = Field(default=8004, ge=1, le=65535, description="seed 001's port")

    max_body_bytes: int = Field(default=1_048_576, ge=1_024, description="larger request bodies get 413")
    max_ws_message_bytes: int = Field(default=65_536, ge=256, description="larger client WS messages close 1009")
    ws_queue_size: int = Field(
        default=256, ge=8, description="messages buffered per socket; a slower client resyncs from the stream"
    )
    heartbeat_interval_s: float = Field(default=20.0, gt=0, description="app-level ping on topic sockets")
    heartbeat_timeout_s: float = Field(default=60.0, gt=0, description="a topic socket silent this long is dropped")
    resync_interval_s: float = Field(
        default=15.0, gt=0, description="a quiet task watcher re-reads its stream this often (covers lost Pub/Sub)"
    )
    sse_keepalive_s: float = Field(default=15.0, gt=0, description="comment lines that keep proxies from timing out")
    redis_max_connections: int = Field(
        default=64, ge=4, description="pool size per process: 1,000 sockets must not open 1,000 Redis connections"
    )
    auth_failures_max: int = Field(
        default=30, ge=1, description="failed authentications one client address may make within the window; more "
        "get 429 with Retry-After (counted in Redis, across every API process)"
    )
    auth_failures_window_s: int = Field(default=60, ge=1, description="the moving window of auth_failures_max")
    dashboard_page_size: int = Field(
        default=100, ge=1, le=1000,
        description="tasks in the all-tasks stream's first snapshot (the dashboard pages itself)",
    )
