"""What the API holds while it runs (created in the lifespan, so every Redis connection lives on its loop)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from api.auth_limit import AuthFailureLimiter
from api.dashboard_feed import DashboardFeed
from api.hub import Hub
from api.settings import ApiSettings
from api.stats import SocketStats
from base.keys import AppKeys
from base.settings import Settings
from progress import AsyncProgressStore


@dataclass(slots=True)
class ApiState:
    """The process's store, hub, feeds and counters."""

    settings: ApiSettings
    core: Settings
    store: AsyncProgressStore
    hub: Hub
    dashboard: DashboardFeed
    stats: SocketStats
    keys: AppKeys
    celery: Any
    notifications: Any = None
    auth_limiter: AuthFailureLimiter | None = None


def api_state(conn: HTTPConnection) -> ApiState:
    """The running app's state (HTTP requests and WebSockets alike)."""
    st: ApiState = conn.app.state.api
    return st


def request_state(request: Request) -> ApiState:
    """Dependency form of `api_state` for HTTP endpoints."""
    return api_state(request)


State = Annotated[ApiState, Depends(request_state)]
