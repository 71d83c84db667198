"""Fixtures of the bad-input and security tests: the fuzzing tally (printed as one line at the end of the run and
written to test-artifacts/fuzz.json), in-process API apps on the session Redis, and a Celery app whose tasks only
publish to memory (fuzzed arguments must never reach a real worker unless a test sends them on purpose)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis

if TYPE_CHECKING:
    from celery import Celery
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "test-artifacts" / "fuzz.json"


@dataclass
class Target:
    """What one fuzzing target was given and how it answered."""

    inputs: int = 0
    accepted: int = 0
    refused: int = 0
    server_errors: int = 0
    worker_crashes: int = 0


@dataclass
class Tally:
    """Inputs fuzzed per target, across the session."""

    targets: dict[str, Target] = field(default_factory=dict)

    def add(self, target: str, *, accepted: bool | None = None, server_error: bool = False) -> None:
        """Counts one input (accepted, refused, or neither when the target has no such notion)."""
        t = self.targets.setdefault(target, Target())
        t.inputs += 1
        t.accepted += accepted is True
        t.refused += accepted is False
        t.server_errors += server_error

    def crash(self, target: str) -> None:
        """Counts a worker process that died on an input."""
        self.targets.setdefault(target, Target()).worker_crashes += 1

    def line(self) -> str:
        """The one-line summary."""
        total = sum(t.inputs for t in self.targets.values())
        per = ", ".join(f"{name} {t.inputs}" for name, t in sorted(self.targets.items()))
        errors = sum(t.server_errors for t in self.targets.values())
        crashes = sum(t.worker_crashes for t in self.targets.values())
        return f"fuzz: {total} inputs ({per}); 500s: {errors}; worker crashes: {crashes}"


_TALLY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")
def fuzz_tally(pytestconfig: pytest.Config) -> Tally:
    """The session's tally (kept on the config, where the summary hook finds it)."""
    return pytestconfig.stash.setdefault(_TALLY, Tally())


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Prints the one-line fuzzing summary and writes it to test-artifacts/fuzz.json."""
    tally = config.stash.get(_TALLY, None)
    if tally is None or not tally.targets:
        return
    ARTIFACT.parent.mkdir(exist_ok=True)
    doc = {
        "inputs": sum(t.inputs for t in tally.targets.values()),
        "server_errors": sum(t.server_errors for t in tally.targets.values()),
        "worker_crashes": sum(t.worker_crashes for t in tally.targets.values()),
        "targets": {name: vars(t) for name, t in sorted(tally.targets.items())},
    }
    ARTIFACT.write_text(json.dumps(doc, indent=2) + "\n")
    terminalreporter.write_line(tally.line())


@functools.cache
def sandbox_celery() -> Celery:
    """A Celery app on an in-memory broker with one enqueueable task that takes a user_id and a data payload."""
    from celery import Celery
    from pydantic import BaseModel, ConfigDict, Field

    from notify.models import NotificationData, UserId
    from tracking.task import ProgressTask

    class EchoArgs(BaseModel):
        model_config = ConfigDict(extra="forbid")
        user_id: UserId | None = None
        n: int = Field(default=0, ge=0, le=100)
        data: NotificationData | None = None

    app = Celery("security-sandbox", broker="memory://")

    @app.task(base=ProgressTask, bind=True, name="tasks.sandbox.echo", args_model=EchoArgs)
    def echo(self: ProgressTask, user_id: str | None = None, n: int = 0, data: dict[str, Any] | None = None) -> None:
        return None

    return app


@pytest.fixture
def api_client(progress_redis: redis.Redis) -> Iterator[Callable[..., TestClient]]:
    """Builds in-process clients (the app's lifespan runs) with the test secrets and the sandbox Celery app."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.api.conftest import settings

    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(settings(**overrides), celery_app=sandbox_celery()),
                            raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
