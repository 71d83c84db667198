"""Schema-based fuzzing (schemathesis) of every HTTP operation: whatever it sends, the API never answers 5xx.

The SSE endpoints are left out (a stream of a live task never ends by design; their inputs are covered by the
stream tests). Enqueueing publishes to an in-memory broker so that fuzzed arguments never reach a real worker.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from celery import Celery
from hypothesis import HealthCheck, settings
from pydantic import BaseModel, ConfigDict, Field
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.settings import ApiSettings
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN, bearer
from tracking.task import ProgressTask


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=0, le=100)
    symbol: str | None = Field(default=None, max_length=32)


def _sandbox_celery() -> Celery:
    sandbox = Celery("fuzz", broker="memory://")

    # shared=False: a shared task would also be registered on the real app, where other tests enumerate tasks.
    @sandbox.task(base=ProgressTask, bind=True, name="tasks.fuzz.echo", args_model=_Args, shared=False)
    def echo(self: ProgressTask, n: int, symbol: str | None = None) -> None:
        return None

    return sandbox


app = create_app(ApiSettings(service_token=SERVICE_TOKEN, jwt_secret=JWT_SECRET),
                 celery_app=_sandbox_celery())
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex="^/internal/sse/")


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_fuzzed_request_gets_a_server_error(case: Any, progress_redis: Any) -> None:
    case.call_and_validate(headers=bearer(SERVICE_TOKEN), checks=[not_a_server_error])
