"""The ASGI app: `uvicorn api.app:app --port 8004`, or `create_app(settings)` in tests and embedders."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from redis.exceptions import RedisError

from api import (
    errors,
    log_redaction,
    probes,
    routes_detail,
    routes_enqueue,
    routes_metrics,
    routes_notifications,
    routes_steps,
    routes_stream,
    routes_tasks,
    routes_topics,
)
from api.auth import Authenticator
from api.auth_limit import AuthFailureLimiter
from api.dashboard_feed import DashboardFeed
from api.hub import Hub
from api.limits import BodyLimit
from api.settings import ApiSettings
from api.state import ApiState
from api.stats import SocketStats
from base.connections import async_redis_client, location
from base.json_logs import use_json
from base.keys import AppKeys
from base.settings import Settings, get_settings
from progress import AsyncProgressStore
from progress.health import VERSION
from tracking.store import store_config

log = logging.getLogger("api")
STATIC = Path(__file__).resolve().parent / "static"


def create_app(
    settings: ApiSettings | None = None, *, core: Settings | None = None, celery_app: Any = None
) -> FastAPI:
    """A new app; Redis connections are opened in its lifespan (so each event loop gets its own)."""
    cfg = settings or ApiSettings()
    log_redaction.install()  # before anything is logged: `?token=` must never reach the log
    if (core or get_settings()).log_format == "json":
        use_json(logging.getLogger(name) for name in ("", *log_redaction.LOGGERS))
    auth = _authenticator(cfg)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        st = await _start(cfg, core or get_settings(), celery_app)
        app.state.api = st
        try:
            yield
        finally:
            await _stop(st)

    app = FastAPI(
        title="taskrunner API", version=VERSION, lifespan=lifespan,
        description="Progress of Celery tasks (seed 001), live streams, per-user notifications, and a dashboard.",
    )
    app.state.auth = auth
    app.state.settings = cfg
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=cfg.max_body_bytes)
    for module in (routes_tasks, routes_enqueue, routes_stream, routes_topics, routes_notifications, routes_detail,
                   routes_metrics, probes):
        app.include_router(module.router)
    app.include_router(routes_steps.router)  # seed 002's step endpoints
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app


def _authenticator(cfg: ApiSettings) -> Authenticator:
    service = cfg.service_token.get_secret_value() if cfg.service_token else ""
    if not service:
        service = secrets.token_urlsafe(32)
        # A development default: every process gets its own, so it is shown once for the dashboard's operator.
        log.warning("TASKRUNNER_API_SERVICE_TOKEN is not set; this process accepts the random token %s", service)
    secret = cfg.jwt_secret.get_secret_value() if cfg.jwt_secret else secrets.token_urlsafe(48)
    return Authenticator(service_token=service, jwt_secret=secret, algorithm=cfg.jwt_algorithm)


async def _start(cfg: ApiSettings, core: Settings, celery_app: Any) -> ApiState:
    if celery_app is None:
        from worker import app as celery_app
    # The task modules (the app's `include`) are imported by workers at start; the API needs them to enqueue.
    celery_app.loader.import_default_modules()
    client = async_redis_client(location(core, "progress"), max_connections=cfg.redis_max_connections,
                                health_check_interval=15)
    store = AsyncProgressStore(client, config=store_config(core))
    try:
        await store.check_layout()  # another key layout or bucket count: refuse to serve an empty-looking store
    except (RedisError, OSError) as exc:
        # The API starts without Redis (liveness stays up, readiness says why); the layout is checked next start.
        log.warning("progress key layout not checked: Redis does not answer (%s)", exc)
    keys = AppKeys(core.namespace)
    hub = Hub(client, [store.keys.channel_pattern(), keys.user_channel_pattern(), keys.app_channel_pattern()])
    st = ApiState(
        settings=cfg, core=core, store=store, hub=hub, dashboard=DashboardFeed(store, hub), stats=SocketStats(),
        keys=keys, celery=celery_app,
        notifications=routes_notifications.open_store(core, client),
        auth_limiter=AuthFailureLimiter(client.connection_pool, key_prefix=keys.auth_failures_prefix(),
                                        max_failures=cfg.auth_failures_max, window_s=cfg.auth_failures_window_s),
    )
    await hub.start()
    return st


async def _stop(st: ApiState) -> None:
    await st.dashboard.stop()
    await st.hub.stop()
    await st.store.redis.aclose()


def __getattr__(name: str) -> Any:
    # `uvicorn api.app:app` reads this attribute; building it lazily keeps `import api.app` free of side effects
    # (tests build their own apps with create_app and must not trigger the random-token warning).
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
