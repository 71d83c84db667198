"""Fixtures of the API tests: an in-process app (Starlette's TestClient runs its lifespan) on the session Redis,
tokens, and real uvicorn processes for what crosses process boundaries (reconnects, fan-out, the browser)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis

from taskrunner.redis_server import free_port
from tests.helpers import wait_until

if TYPE_CHECKING:
    # Imported lazily below: the app imports the Celery app, which reads REDIS_URL once, and this conftest is loaded
    # before the root conftest has started the session's Redis and set it.
    from fastapi.testclient import TestClient

    from api.auth import Authenticator
    from api.settings import ApiSettings

ROOT = Path(__file__).resolve().parents[2]
SERVICE_TOKEN = "test-service-token"
JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


def settings(**overrides: Any) -> ApiSettings:
    """API settings with the test secrets."""
    from api.settings import ApiSettings

    return ApiSettings(service_token=SERVICE_TOKEN, jwt_secret=JWT_SECRET, **overrides)


@pytest.fixture
def api_settings() -> ApiSettings:
    """Settings with known secrets."""
    return settings()


@pytest.fixture
def tokens() -> Authenticator:
    """Issues user tokens signed like the app expects."""
    from api.auth import Authenticator

    return Authenticator(service_token=SERVICE_TOKEN, jwt_secret=JWT_SECRET)


@pytest.fixture
def service() -> dict[str, str]:
    """Headers carrying the service token."""
    return bearer(SERVICE_TOKEN)


@pytest.fixture
def make_client(progress_redis: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    """Builds in-process clients for given settings and create_app options (each with its own app and lifespan)."""
    opened: list[TestClient] = []

    from fastapi.testclient import TestClient

    from api.app import create_app

    def make(cfg: ApiSettings, **options: Any) -> TestClient:
        client = TestClient(create_app(cfg, **options))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient], api_settings: ApiSettings) -> TestClient:
    """An in-process client of an app with the test secrets."""
    return make_client(api_settings)


def start_api(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Starts `uvicorn api.app:app` on a free port against the session Redis; returns it and its base URL."""
    port = free_port()
    env = {**os.environ, "TASKRUNNER_API_SERVICE_TOKEN": SERVICE_TOKEN, "TASKRUNNER_API_JWT_SECRET": JWT_SECRET,
           **(extra_env or {})}
    log = open(Path(tempfile.gettempdir()) / f"taskrunner-api-{port}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            return True
        try:
            return httpx.get(f"{base}/internal/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=60, what=f"the API on port {port}")
    if proc.poll() is not None:
        raise RuntimeError(f"the API exited with {proc.returncode}; see {log.name}")
    return proc, base


def stop_api(proc: subprocess.Popen[bytes]) -> None:
    """Stops a process started by `start_api`."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def api_server() -> Iterator[str]:
    """One real API process for the session; its base URL."""
    proc, base = start_api()
    yield base
    stop_api(proc)
