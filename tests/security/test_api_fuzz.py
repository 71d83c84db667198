"""Fuzzing the HTTP API. tests/api/test_openapi_fuzz.py already runs schemathesis with the service token; this
runs it as a plain user (alice), whose requests take the 403 and owner branches, and checks more: no 5xx, and every
refusal says why (a `detail`, and for 422 each field with its reason). Then hypothesis sends the JSON bodies a schema
fuzzer does not write: lone surrogates, NaN, huge integers, nesting around the depth limit, odd resume ids.

The SSE endpoints are left out of the schema run (a live stream never ends); their input is fuzzed below on an
ended task, whose stream does end.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import WebSocketDenialResponse

from api.app import create_app
from api.auth import Authenticator
from progress.models import MAX_JSON_DEPTH
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN, bearer
from tests.api.conftest import settings as api_settings
from tests.security.conftest import sandbox_celery

if TYPE_CHECKING:
    from tests.security.conftest import Tally

ALICE = Authenticator(service_token=SERVICE_TOKEN, jwt_secret=JWT_SECRET).issue("alice")
SERVICE = bearer(SERVICE_TOKEN)
app = create_app(api_settings(), celery_app=sandbox_celery())
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex="^/internal/sse/")


def says_why(status: int, body: Any) -> None:
    """A 4xx body names its reason; a 422 lists each bad field with its own reason."""
    if not 400 <= status < 500:
        return
    assert isinstance(body, dict) and body.get("detail"), body
    if status == 422 and isinstance(body.get("errors"), list):
        assert body["errors"] and all(e.get("field") and e.get("error") for e in body["errors"]), body


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_no_request_of_a_plain_user_gets_a_server_error_and_every_refusal_says_why(
    case: Any, progress_redis: Any, fuzz_tally: Tally
) -> None:
    response = case.call(headers=bearer(ALICE))
    fuzz_tally.add("schemathesis_user", accepted=response.status_code < 400, server_error=response.status_code >= 500)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    says_why(response.status_code, _json(response))


# --- bodies a schema fuzzer does not write ----------------------------------------------------------------------

SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
SURROGATE_TEXT = st.builds(lambda a, b: a + b, st.text(max_size=3), SURROGATE)
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), SURROGATE_TEXT)
KEYS = st.one_of(st.text(max_size=6), st.sampled_from(["password", "token"]), SURROGATE_TEXT)
JSON = st.recursive(LEAVES, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=3),
                    max_leaves=8)


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"k": value}
    return value


OBJECTS = st.one_of(
    st.dictionaries(KEYS, JSON, max_size=4),
    st.integers(MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH + 2).map(lambda d: {"deep": _nested(d)}),
    st.integers(500, 990).map(lambda d: {"deep": _nested(d)}),
)


def _body(value: Any) -> bytes:
    # ensure_ascii: a lone surrogate travels as a valid \\ud800 escape, as a hostile client would send it.
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def _bad_json(value: Any) -> bool:
    """Whether the value holds something that is not plain JSON text: NaN or infinity, or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
            return True
        if isinstance(item, dict):
            stack.extend([*item.keys(), *item.values()])
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    """One in-process app per test function (hypothesis runs every example against it)."""
    return api_client()


@pytest.fixture
def ended_task(client: TestClient) -> str:
    """A cancelled task: its streams end, so an accepted resume id gives a finite answer."""
    tid: str = client.post("/internal/create-task", headers=SERVICE, json={"task_type": "t"}).json()["task_id"]
    assert client.post(f"/internal/task/{tid}/cancel", headers=SERVICE).status_code == 200
    return tid


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(payload=OBJECTS, where=st.sampled_from(["metadata", "details", "results", "notification", "enqueue"]))
def test_hostile_json_bodies_are_stored_or_refused_with_a_reason_never_a_server_error(
    client: TestClient, fuzz_tally: Tally, payload: dict[str, Any], where: str
) -> None:
    headers = {**SERVICE, "Content-Type": "application/json"}
    if where == "metadata":
        res = client.post("/internal/create-task", headers=headers, content=_body({"task_type": "t", where: payload}))
    elif where in ("details", "results"):
        tid = client.post("/internal/create-task", headers=SERVICE, json={"task_type": "t"}).json()["task_id"]
        res = client.put(f"/internal/task/{tid}/update", headers=headers, content=_body({where: payload}))
    elif where == "notification":
        res = client.post("/notifications", headers=headers,
                          content=_body({"user_id": "alice", "title": "t", "message": "m", "data": payload}))
    else:
        res = client.post("/api/tasks/tasks.sandbox.echo", headers=headers, content=_body({"data": payload}))
    fuzz_tally.add("api_hostile_json", accepted=res.status_code < 400, server_error=res.status_code >= 500)
    assert res.status_code < 500, res.text[:300]
    says_why(res.status_code, _json(res))
    # Whatever is not plain JSON within the depth limit is refused, and the error names where it was
    if _bad_json(payload) or _depth(payload) > MAX_JSON_DEPTH:
        assert res.status_code in (400, 422), res.text[:300]  # 400: the JSON parser itself gave up (deep nesting)
        if res.status_code == 422:
            fields = {e["field"].split(".")[0] for e in res.json()["errors"]}
            assert fields <= {"metadata", "details", "results", "data", "(body)", "(arguments)"}, fields


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(after=st.one_of(st.text(max_size=24), st.from_regex(r"\A[0-9٠-٩]{1,21}-[0-9]{1,21}\n?\Z"),
                       st.sampled_from(["0-0", "18446744073709551615-0", "99999999999999999999-0", "1-1\n"])))
def test_any_resume_id_gets_the_stream_or_a_422_on_sse_and_on_the_socket(
    client: TestClient, ended_task: str, fuzz_tally: Tally, after: str
) -> None:
    # Then SSE answers 200 with a complete stream (ending with `end`) or a 422 naming `after`
    res = client.get(f"/internal/sse/task/{ended_task}", headers=SERVICE, params={"after": after})
    fuzz_tally.add("api_resume_ids", accepted=res.status_code == 200, server_error=res.status_code >= 500)
    assert res.status_code in (200, 422), res.text[:300]
    if res.status_code == 200:
        assert res.text.rstrip().endswith(f'data: {{"task_id":"{ended_task}"}}'), res.text[-200:]
    else:
        assert [e["field"] for e in res.json()["errors"]] == ["after"]

    # And the socket agrees: the task's messages, or a 422 denial
    try:
        with client.websocket_connect(f"/internal/ws/task/{ended_task}", params={"after": after},
                                      headers=SERVICE) as ws:
            assert ws.receive_json()["task_id"] == ended_task
        socket_status = 200
    except WebSocketDenialResponse as denied:
        socket_status = denied.status_code
    fuzz_tally.add("api_resume_ids", accepted=socket_status == 200, server_error=socket_status >= 500)
    assert socket_status == res.status_code, (after, socket_status, res.status_code)
