"""Bad input: 422 naming the field and the reason, 404 for unknown tasks, oversized input refused with its limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from progress.models import MAX_MESSAGE_CHARS, MAX_METADATA_BYTES
from tests.api.conftest import settings


def _fields(res: object) -> dict[str, str]:
    body = res.json()  # type: ignore[attr-defined]
    return {e["field"]: e["error"] for e in body["errors"]}


def test_a_malformed_create_names_every_bad_field_and_why(client: TestClient, service: dict[str, str]) -> None:
    res = client.post("/internal/create-task", headers=service,
                      json={"task_type": "", "total_items": -1, "symbol": "bad symbol!", "colour": "red"})
    assert res.status_code == 422
    errors = _fields(res)
    assert set(errors) == {"task_type", "total_items", "symbol", "colour"}
    assert "at least 1 character" in errors["task_type"]
    assert "greater than or equal to 0" in errors["total_items"]
    assert "pattern" in errors["symbol"]
    assert "Extra inputs" in errors["colour"]
    assert all(e["in"] == "body" for e in res.json()["errors"])


def test_bad_query_values_and_json_are_422_with_their_location(client: TestClient, service: dict[str, str]) -> None:
    res = client.get("/internal/tasks", headers=service, params={"status": "sleeping", "limit": 0})
    assert res.status_code == 422
    assert {(e["field"], e["in"]) for e in res.json()["errors"]} == {("status", "query"), ("limit", "query")}
    broken = client.post("/internal/create-task", headers={**service, "Content-Type": "application/json"},
                         content=b"{not json")
    assert broken.status_code == 422 and broken.json()["errors"][0]["in"] == "body"
    empty = client.put("/internal/task/x/update", headers=service, json={})
    assert empty.status_code == 422 and "at least one of" in empty.json()["errors"][0]["error"]


def test_oversized_metadata_and_messages_are_refused_with_the_limit(
    client: TestClient, service: dict[str, str]
) -> None:
    big = {"blob": "x" * (MAX_METADATA_BYTES + 1)}
    res = client.post("/internal/create-task", headers=service, json={"task_type": "t", "metadata": big})
    assert res.status_code == 422
    assert str(MAX_METADATA_BYTES) in _fields(res)["metadata"]

    tid = client.post("/internal/create-task", headers=service, json={"task_type": "t"}).json()["task_id"]
    res = client.put(f"/internal/task/{tid}/update", headers=service, json={"message": "m" * (MAX_MESSAGE_CHARS + 1)})
    assert res.status_code == 422
    assert str(MAX_MESSAGE_CHARS) in _fields(res)["message"]


def test_a_body_over_the_size_limit_is_413_before_it_is_parsed(make_client: object, service: dict[str, str]) -> None:
    small = make_client(settings(max_body_bytes=2_048))  # type: ignore[operator]
    res = small.post("/internal/create-task", headers=service, json={"task_type": "t", "metadata": {"a": "x" * 4_000}})
    assert res.status_code == 413
    assert res.json()["detail"] == "request body larger than the limit of 2048 bytes"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"task_type": "t", "metadata": {"a": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}}'

    res = small.post("/internal/create-task", headers={**service, "Content-Type": "application/json"},
                     content=chunks())
    assert res.status_code == 413


def test_a_socket_message_over_the_limit_closes_the_socket_with_1009(make_client: object) -> None:
    small = make_client(settings(max_ws_message_bytes=1_024))  # type: ignore[operator]
    with small.websocket_connect("/ws?token=test-service-token") as ws:
        assert ws.receive_json()["type"] == "welcome"
        ws.send_text('{"action": "ping", "pad": "' + "x" * 2_000 + '"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1009
    assert "1024 bytes" in closed.value.reason


def test_a_malformed_resume_id_is_refused(client: TestClient, service: dict[str, str]) -> None:
    tid = client.post("/internal/create-task", headers=service, json={"task_type": "t"}).json()["task_id"]
    res = client.get(f"/internal/sse/task/{tid}", headers=service, params={"after": "yesterday"})
    assert res.status_code == 422 and res.json()["errors"][0]["field"] == "after"
