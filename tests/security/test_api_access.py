"""Access control of the HTTP API: every route found in the app (HTTP and WebSocket) but health, the docs, the
dashboard page and its static files refuses a missing or bad token with 401; a user's token reaches only that
user's notifications, topics and tasks (403 otherwise), and nothing of another user changes or leaks through."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import redis
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from api.auth import Authenticator
from base.keys import AppKeys
from tests.api.conftest import JWT_SECRET, SERVICE_TOKEN, bearer

TOKENS = Authenticator(service_token=SERVICE_TOKEN, jwt_secret=JWT_SECRET)
SERVICE = bearer(SERVICE_TOKEN)
PATH_VALUES = {"task_id": "t-1", "user_id": "alice", "notification_id": "0" * 32, "name": "tasks.sandbox.echo"}
# Open by design: the health probe, the API's own documentation, the dashboard page and its assets (the page asks
# for a token before it opens any stream).
# The liveness and readiness probes are open for the same reason as health: orchestrators call them without tokens.
PUBLIC = {"/internal/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/", "/static",
          "/livez", "/readyz"}


def _now() -> int:
    return int(time.time())


BAD_TOKENS = {
    "garbage": "not-a-token",
    "service token with a suffix": SERVICE_TOKEN + "x",
    "forged signature": jwt.encode({"sub": "alice", "exp": _now() + 60}, "another-secret-of-sufficient-length-x",
                                   algorithm="HS256"),
    "expired": jwt.encode({"sub": "alice", "exp": _now() - 10}, JWT_SECRET, algorithm="HS256"),
    "alg none": jwt.encode({"sub": "alice", "exp": _now() + 60}, key=None, algorithm="none"),
    "other algorithm": jwt.encode({"sub": "alice", "exp": _now() + 60}, JWT_SECRET, algorithm="HS512"),
    "no expiry": jwt.encode({"sub": "alice"}, JWT_SECRET, algorithm="HS256"),
    "empty subject": jwt.encode({"sub": "", "exp": _now() + 60}, JWT_SECRET, algorithm="HS256"),
    "forged admin": jwt.encode({"sub": "mallory", "role": "admin", "exp": _now() + 60},
                               "another-secret-of-sufficient-length-x", algorithm="HS256"),
}


def routes(app: Any) -> Iterator[tuple[str, str, str]]:
    """(kind, method, path) of every route the app serves, routers included (kind: http, websocket or mount)."""

    def walk(items: list[Any], prefix: str) -> Iterator[tuple[str, str, str]]:
        for route in items:
            if hasattr(route, "original_router"):  # FastAPI's included router
                yield from walk(route.original_router.routes, prefix + (route.include_context.prefix or ""))
            elif type(route).__name__ == "Mount":
                yield "mount", "GET", prefix + route.path
            elif getattr(route, "methods", None):
                for method in sorted(route.methods - {"HEAD"}):
                    yield "http", method, prefix + route.path
            else:
                yield "websocket", "", prefix + route.path

    yield from walk(list(app.routes), "")


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


@pytest.fixture
def client(api_client: Callable[..., TestClient]) -> TestClient:
    """An in-process app with the test secrets."""
    # The first test makes some 300 bad-token requests from one client on purpose, each of which must be a 401; the
    # failed-auth limiter (which would answer 429 after 30) is tested on its own in test_cross_user.py.
    return api_client(auth_failures_max=10_000)


def test_every_route_but_the_public_ones_refuses_a_missing_or_bad_token_with_401(client: TestClient) -> None:
    # Given every route the app serves, checked against the OpenAPI document so none is missed
    found = list(routes(client.app))
    http = {(m, p) for kind, m, p in found if kind == "http"}
    documented = {(m.upper(), p) for p, item in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
                  for m in item}
    assert documented <= http and len(documented) >= 15
    sockets = [p for kind, _, p in found if kind == "websocket"]
    assert len(sockets) >= 4

    for kind, method, path in found:
        if path in PUBLIC:
            continue
        assert kind != "mount", f"{path}: a mounted app is not covered by the API's auth"
        url = _url(path)
        if kind == "http":
            # When it is called without a token, with each bad token, or with a good one in the wrong scheme
            attempts: dict[str, dict[str, str]] = {"no token": {}, "basic scheme": {
                "Authorization": f"Basic {SERVICE_TOKEN}"}, "empty bearer": {"Authorization": "Bearer "}}
            attempts.update({name: bearer(token) for name, token in BAD_TOKENS.items()})
            for name, headers in attempts.items():
                res = client.request(method, url, headers=headers, json={})
                # Then it is refused with 401, says why and how to authenticate
                assert res.status_code == 401, (method, path, name, res.text)
                assert res.headers["www-authenticate"] == "Bearer" and res.json()["detail"], (path, name)
            # A query token is only for streams (EventSource cannot set headers); elsewhere it is not a credential.
            if "/sse/" not in path:
                res = client.request(method, url, params={"token": SERVICE_TOKEN}, json={})
                assert res.status_code == 401, (method, path, "query token")
            else:
                res = client.request(method, url, params={"token": "not-a-token"})
                assert res.status_code == 401, (path, "bad query token")
        else:
            for name, query in [("no token", ""), *[(n, f"?token={t}") for n, t in BAD_TOKENS.items()]]:
                with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(url + query):
                    pass
                assert denied.value.status_code == 401, (path, name)
            with pytest.raises(WebSocketDenialResponse) as denied, \
                    client.websocket_connect(url, headers=bearer(BAD_TOKENS["forged admin"])):
                pass
            assert denied.value.status_code == 401, (path, "header")


def test_the_public_routes_answer_without_a_token(client: TestClient) -> None:
    for path in ("/internal/health", "/", "/static/app.js", "/openapi.json"):
        assert client.get(path).status_code == 200, path


# --- one user against another ----------------------------------------------------------------------------------


def _note(client: TestClient, user: str, title: str) -> str:
    res = client.post("/notifications", headers=SERVICE, json={"user_id": user, "title": title, "message": "m"})
    assert res.status_code == 201
    note_id: str = res.json()["id"]
    return note_id


def test_a_user_can_neither_read_nor_mark_another_users_notifications(client: TestClient) -> None:
    # Given an unread notification for alice, and bob's token
    mine = _note(client, "alice", "for alice")
    bob = bearer(TOKENS.issue("bob"))

    # When bob tries every way in, Then each is refused with 403 and a reason
    for method, path, body in [
        ("GET", "/notifications/alice", None), ("GET", "/notifications/alice/unread-count", None),
        ("POST", "/notifications/alice/read", {"all": True}), ("POST", f"/notifications/alice/{mine}/read", None),
        ("POST", "/notifications", {"user_id": "alice", "title": "spoof", "message": "m"}),
    ]:
        res = client.request(method, path, headers=bob, json=body)
        assert res.status_code == 403 and "bob" in res.json()["detail"], (method, path, res.text)
    # And naming alice's notification on his own routes and socket changes nothing of hers
    assert client.post("/notifications/bob/read", headers=bob, json={"ids": [mine]}).json()["marked"] == 0
    assert client.post(f"/notifications/bob/{mine}/read", headers=bob).status_code == 404
    with client.websocket_connect("/ws/notifications/bob", headers=bob) as ws:
        ws.send_json({"action": "mark_read", "notification_id": mine})
        assert ws.receive_json()["marked"] == 0
    alice = bearer(TOKENS.issue("alice"))
    assert client.get("/notifications/alice/unread-count", headers=alice).json()["unread"] == 1
    assert [n["id"] for n in client.get("/notifications/alice", headers=alice).json()] == [mine]


def test_a_user_cannot_subscribe_to_another_users_notifications_and_never_receives_them(client: TestClient) -> None:
    bob_token = TOKENS.issue("bob")
    # Alice's socket is refused to bob, by query token or header
    for kwargs in ({"url": f"/ws/notifications/alice?token={bob_token}"},
                   {"url": "/ws/notifications/alice", "headers": bearer(bob_token)}):
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(**kwargs):
            pass
        assert denied.value.status_code == 403
    # On his own socket, a notification for alice sent before one for bob never reaches him: his first is his own
    with client.websocket_connect(f"/ws/notifications/bob?token={bob_token}") as ws:
        _note(client, "alice", "secret for alice")
        _note(client, "bob", "for bob")
        first = ws.receive_json()
    assert (first["user_id"], first["title"]) == ("bob", "for bob")


def test_a_user_cannot_subscribe_to_another_users_result_topics(
    client: TestClient, progress_redis: redis.Redis
) -> None:
    keys = AppKeys(client.app.state.api.core.namespace)  # type: ignore[attr-defined]
    with client.websocket_connect(f"/ws?token={TOKENS.issue('bob')}") as ws:
        assert ws.receive_json()["type"] == "welcome"
        for topic in ("analysis:alice", "backtest:alice"):
            ws.send_json({"action": "subscribe", "topic": topic})
            reply = ws.receive_json()
            assert reply["type"] == "error" and "another user" in reply["error"], reply
        ws.send_json({"action": "subscribe", "topic": "analysis:bob"})
        assert ws.receive_json() == {"type": "subscribed", "topic": "analysis:bob"}
        # Alice's result is published first; bob's next message is his own
        progress_redis.publish(keys.results_channel("analysis", "alice"), '{"for": "alice"}')
        progress_redis.publish(keys.results_channel("analysis", "bob"), '{"for": "bob"}')
        message = ws.receive_json()
        while message["type"] == "ping":
            message = ws.receive_json()
    assert message == {"type": "analysis_result", "topic": "analysis:bob", "data": {"for": "bob"}}


def test_a_user_cannot_see_watch_or_control_another_users_task(client: TestClient) -> None:
    # Given a task enqueued for alice
    res = client.post("/api/tasks/tasks.sandbox.echo", headers=bearer(TOKENS.issue("alice")), json={"n": 1})
    assert res.status_code == 202
    tid = res.json()["task_id"]
    bob_token = TOKENS.issue("bob")
    bob = bearer(bob_token)

    # When bob reads, streams, watches or controls it, Then 403 every time
    for method, path in [("GET", f"/internal/task/{tid}/status"), ("POST", f"/internal/task/{tid}/cancel"),
                         ("POST", f"/internal/task/{tid}/pause"), ("POST", f"/internal/task/{tid}/resume"),
                         ("GET", f"/internal/sse/task/{tid}")]:
        assert client.request(method, path, headers=bob).status_code == 403, (method, path)
    assert client.get(f"/internal/sse/task/{tid}", params={"token": bob_token}).status_code == 403
    for kwargs in ({"url": f"/internal/ws/task/{tid}?token={bob_token}"},
                   {"url": f"/internal/ws/task/{tid}", "headers": bob}):
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(**kwargs):
            pass
        assert denied.value.status_code == 403
    # And he cannot enqueue on her behalf either
    spoof = client.post("/api/tasks/tasks.sandbox.echo", headers=bob, json={"user_id": "alice"})
    assert spoof.status_code == 403 and "alice" in spoof.json()["detail"]

    # And the task is untouched: still queued, visible to alice
    status = client.get(f"/internal/task/{tid}/status", headers=bearer(TOKENS.issue("alice")))
    assert status.status_code == 200 and status.json()["status"] == "created"
