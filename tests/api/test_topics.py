"""Topics on one socket (seed 004): prices, a user's analysis and backtest results, system broadcasts; a heartbeat
drops dead connections; health shows connections per topic."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.auth import Authenticator
from base.keys import AppKeys
from tests.api.conftest import settings

KEYS = AppKeys()


def _until(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of a type, skipping heartbeats."""
    while True:
        msg: dict[str, Any] = ws.receive_json()
        if msg["type"] == kind:
            return msg
        assert msg["type"] in ("ping", "welcome"), msg


def test_a_client_gets_prices_results_and_broadcasts_of_the_topics_it_subscribed_to(
    client: TestClient, tokens: Authenticator, progress_redis: redis.Redis
) -> None:
    alice = tokens.issue("alice")
    with client.websocket_connect(f"/ws?token={alice}") as ws:
        welcome = ws.receive_json()
        assert welcome["type"] == "welcome" and welcome["user_id"] == "alice"
        for topic in ("prices:7203.T", "analysis:alice", "backtest:alice", "system"):
            ws.send_json({"action": "subscribe", "topic": topic})
            assert _until(ws, "subscribed")["topic"] == topic
        # When market data, results and a broadcast are published (as the tasks do)
        price = {"symbol": "7203.T", "price": 2850.5, "date": "2024-01-15"}
        progress_redis.publish(KEYS.prices_channel("6758.T"), json.dumps({"symbol": "6758.T"}))  # not subscribed
        progress_redis.publish(KEYS.prices_channel("7203.T"), json.dumps(price))
        progress_redis.publish(KEYS.results_channel("analysis", "alice"), json.dumps({"analysis_id": "a1"}))
        progress_redis.publish(KEYS.results_channel("backtest", "alice"), json.dumps({"backtest_id": "b1"}))
        progress_redis.publish(KEYS.broadcast_channel(), json.dumps({"title": "maintenance"}))
        # Then each arrives once, typed and tagged with its topic, in the order published
        got = [ws.receive_json() for _ in range(4)]
    assert [(m["type"], m["topic"]) for m in got] == [
        ("price_update", "prices:7203.T"), ("analysis_result", "analysis:alice"),
        ("backtest_result", "backtest:alice"), ("system_notification", "system")]
    assert got[0]["data"] == price


def test_a_user_cannot_subscribe_to_another_users_results_and_bad_topics_are_errors(
    client: TestClient, tokens: Authenticator
) -> None:
    with client.websocket_connect(f"/ws?token={tokens.issue('alice')}") as ws:
        ws.receive_json()
        ws.send_json({"action": "subscribe", "topic": "analysis:bob"})
        err = _until(ws, "error")
        assert err["topic"] == "analysis:bob" and "another user" in err["error"]
        ws.send_json({"action": "subscribe", "topic": "weather:tokyo"})
        assert "unknown topic" in _until(ws, "error")["error"]
        ws.send_text("not json")
        assert "JSON" in _until(ws, "error")["error"]
        ws.send_json({"action": "ping"})
        assert _until(ws, "pong")["type"] == "pong"


def test_health_counts_connections_per_topic(client: TestClient, service: dict[str, str]) -> None:
    with client.websocket_connect("/ws", headers=service) as a, client.websocket_connect("/ws", headers=service) as b:
        a.receive_json()
        b.receive_json()
        for ws, topics in ((a, ["prices:7203.T", "system"]), (b, ["prices:7203.T"])):
            for topic in topics:
                ws.send_json({"action": "subscribe", "topic": topic})
                _until(ws, "subscribed")
        health = client.get("/internal/health").json()["websockets"]
        assert health["topics"] == {"prices:7203.T": 2, "system": 1}
        assert health["endpoints"]["topics"] == 2
        b.send_json({"action": "unsubscribe", "topic": "prices:7203.T"})
        _until(b, "unsubscribed")
        assert client.get("/internal/health").json()["websockets"]["topics"] == {"prices:7203.T": 1, "system": 1}


def test_a_client_that_stops_answering_pings_is_dropped_and_one_that_answers_stays(make_client: Any) -> None:
    client = make_client(settings(heartbeat_interval_s=0.1, heartbeat_timeout_s=0.5))
    # Given a client that answers every ping
    with client.websocket_connect("/ws?token=test-service-token") as ws:
        ws.receive_json()
        for _ in range(8):  # more pings than fit in one timeout
            assert _until(ws, "ping")["type"] == "ping"
            ws.send_json({"action": "pong"})
        ws.send_json({"action": "subscribe", "topic": "system"})
        assert _until(ws, "subscribed")["topic"] == "system"
    # And one that never answers
    with client.websocket_connect("/ws?token=test-service-token") as ws:
        ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                _until(ws, "never")
    assert closed.value.code == 4408
    assert client.get("/internal/health").json()["websockets"]["topics"] == {}
