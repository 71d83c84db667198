"""Auth: every endpoint but health needs a bearer token; users reach only their own notifications and streams."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from api.auth import Authenticator
from tests.api.conftest import JWT_SECRET, bearer

PATH_VALUES = {"task_id": "t-1", "user_id": "alice", "notification_id": "0" * 32, "name": "tasks.diagnostics.count"}


def test_every_endpoint_but_health_refuses_a_request_without_a_token(client: TestClient) -> None:
    # Given every operation the OpenAPI schema lists
    operations = [(method.upper(), path) for path, item in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
                  for method in item]
    assert len(operations) >= 15
    for method, path in operations:
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        # When it is called without a token
        res = client.request(method, url, json={})
        # Then only health and the liveness/readiness probes answer; the rest say 401 and how to authenticate
        if path in ("/internal/health", "/livez", "/readyz"):
            assert res.status_code == 200
        else:
            assert res.status_code == 401, (method, path, res.text)
            assert res.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_a_forged_jwt_and_an_expired_jwt_are_all_401(client: TestClient, tokens: Authenticator) -> None:
    forged = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, "another-secret-of-sufficient-length",
                        algorithm="HS256")
    expired = jwt.encode({"sub": "alice", "exp": int(time.time()) - 10}, JWT_SECRET, algorithm="HS256")
    unsigned = jwt.encode({"sub": "alice", "exp": int(time.time()) + 60}, key=None, algorithm="none")
    for token in ("wrong", forged, expired, unsigned):
        res = client.get("/notifications/alice", headers=bearer(token))
        assert res.status_code == 401, token
    assert client.get("/notifications/alice", headers=bearer(tokens.issue("alice"))).status_code == 200


def test_a_user_token_cannot_write_progress_or_see_every_task(client: TestClient, tokens: Authenticator) -> None:
    alice = bearer(tokens.issue("alice"))
    assert client.post("/internal/create-task", headers=alice, json={"task_type": "x"}).status_code == 403
    assert client.put("/internal/task/t/update", headers=alice, json={"current_items": 1}).status_code == 403
    assert client.get("/internal/tasks", headers=alice).status_code == 403
    assert client.get("/internal/sse/tasks", headers=alice).status_code == 403


def test_an_admin_jwt_has_the_service_tokens_reach(client: TestClient, tokens: Authenticator) -> None:
    admin = bearer(tokens.issue("ops", admin=True))
    created = client.post("/internal/create-task", headers=admin, json={"task_type": "x"})
    assert created.status_code == 201
    assert client.get("/internal/tasks", headers=admin).json()["pagination"]["total"] == 1
    assert client.get("/notifications/somebody-else", headers=admin).status_code == 200


def test_a_user_follows_their_own_task_but_gets_403_for_anothers(
    client: TestClient, tokens: Authenticator, service: dict[str, str]
) -> None:
    # Given a task enqueued for alice (the owner is recorded in its metadata) and one without an owner
    mine = client.post("/internal/create-task", headers=service,
                       json={"task_type": "x", "metadata": {"user_id": "alice"}}).json()["task_id"]
    other = client.post("/internal/create-task", headers=service, json={"task_type": "x"}).json()["task_id"]
    alice, bob = tokens.issue("alice"), tokens.issue("bob")

    assert client.get(f"/internal/task/{mine}/status", headers=bearer(alice)).status_code == 200
    assert client.get(f"/internal/task/{mine}/status", headers=bearer(bob)).status_code == 403
    assert client.get(f"/internal/task/{other}/status", headers=bearer(alice)).status_code == 403
    assert client.post(f"/internal/task/{mine}/cancel", headers=bearer(bob)).status_code == 403
    with client.websocket_connect(f"/internal/ws/task/{mine}?token={alice}") as ws:
        assert ws.receive_json()["task_id"] == mine
    with pytest.raises(WebSocketDenialResponse) as denied, \
            client.websocket_connect(f"/internal/ws/task/{mine}?token={bob}"):
        pass
    assert denied.value.status_code == 403


def test_sockets_refuse_a_missing_token_with_401_and_another_users_notifications_with_403(
    client: TestClient, tokens: Authenticator
) -> None:
    for path in ("/ws", "/internal/ws/tasks", "/ws/notifications/alice", "/internal/ws/task/t-1"):
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(path):
            pass
        assert denied.value.status_code == 401, path
    bob = tokens.issue("bob")
    for path in (f"/ws/notifications/alice?token={bob}", f"/internal/ws/tasks?token={bob}"):
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(path):
            pass
        assert denied.value.status_code == 403, path
    assert client.get("/notifications/alice", headers=bearer(bob)).status_code == 403
    assert client.post("/notifications", headers=bearer(bob),
                       json={"user_id": "alice", "title": "t", "message": "m"}).status_code == 403
    assert client.post("/notifications/alice/read", headers=bearer(bob), json={"all": True}).status_code == 403
