"""The API process's log holds no token: a real `uvicorn api.app:app` (debug level, access log on) serves
authenticated requests, streams and sockets with tokens in headers and in `?token=` (EventSource and browsers cannot
set headers), accepted and refused; then its log is read."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from api.auth import Authenticator
from api.log_redaction import mask_tokens
from taskrunner.processes import ROOT, stop_process_group
from taskrunner.redis_server import free_port
from tests.helpers import wait_until

SERVICE_TOKEN = "svc-" + secrets.token_hex(16)
JWT_SECRET = "jwt-" + secrets.token_hex(24)


def test_no_token_reaches_the_api_log_even_from_query_strings(tmp_path: Path) -> None:
    # Given a real API process at debug level
    port = free_port()
    log = tmp_path / "api.log"
    env = {**os.environ, "TASKRUNNER_API_SERVICE_TOKEN": SERVICE_TOKEN, "TASKRUNNER_API_JWT_SECRET": JWT_SECRET}
    with log.open("wb") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "debug"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    alice = Authenticator(service_token=SERVICE_TOKEN, jwt_secret=JWT_SECRET).issue("alice")
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    try:
        wait_until(lambda: proc.poll() is not None or _answers(base), timeout=60, what="the API")
        assert proc.poll() is None, log.read_text()

        # When it serves header-authenticated calls, streams and sockets with tokens in the query, good and bad
        tid = httpx.post(f"{base}/internal/create-task", headers=service, json={"task_type": "t"}).json()["task_id"]
        assert httpx.post(f"{base}/internal/task/{tid}/cancel", headers=service).status_code == 200
        assert httpx.get(f"{base}/internal/sse/task/{tid}", params={"token": SERVICE_TOKEN}).status_code == 200
        assert httpx.get(f"{base}/internal/sse/task/{tid}?after=0-0&token={alice}").status_code == 403
        wrong = {"Authorization": f"Bearer {alice}x"}
        assert httpx.get(f"{base}/notifications/alice", headers=wrong).status_code == 401
        with connect(f"{ws_base}/ws?token={SERVICE_TOKEN}") as ws:
            assert '"welcome"' in str(ws.recv(timeout=10))
        # A percent-encoded parameter name is decoded by the server, so it is a token too (accepted: no unread yet)
        with connect(f"{ws_base}/ws/notifications/alice?tok%65n={alice}"):
            pass
        with pytest.raises(InvalidStatus):
            connect(f"{ws_base}/internal/ws/task/{tid}?token={alice}")
    finally:
        stop_process_group(proc)

    # Then the log shows every request, with each token masked
    text = log.read_text()
    assert f"/internal/sse/task/{tid}?token=*** HTTP/1.1" in text
    assert "/ws?token=***" in text and "tok%65n=***" in text and "after=0-0&token=***" in text
    for secret in (SERVICE_TOKEN, alice, alice.split(".")[2], JWT_SECRET):
        assert secret not in text, f"a token is in {log}"


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/internal/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_masking_keeps_every_other_parameter_and_any_text_without_tokens() -> None:
    assert mask_tokens('GET /x?after=1-0&token=abc.def&b=2 HTTP/1.1') == 'GET /x?after=1-0&token=***&b=2 HTTP/1.1'
    assert mask_tokens("/ws?Access_Token=t&tokens=keep") == "/ws?Access_Token=***&tokens=keep"
    assert mask_tokens("no query here") == "no query here"
