"""A socket whose client stops reading holds up no other socket on the task, and when it reads again it resumes
from the task's stream: its inbox overflowed into one RESYNC instead of growing or blocking the hub."""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import Any

import redis
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect
from websockets.uri import parse_uri

from progress import ProgressStore
from tests.api.conftest import SERVICE_TOKEN, bearer

UPDATES = 3000  # x ~2 KB messages: far more than the kernel's socket buffers and the server's write buffer hold


def _open_without_reading(url: str) -> tuple[socket.socket, ClientProtocol]:
    proto = ClientProtocol(parse_uri(url), max_size=None)
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window fills fast
    sock.connect((host, int(port)))
    request = proto.connect()
    request.headers.update(bearer(SERVICE_TOKEN))
    proto.send_request(request)
    sock.sendall(b"".join(proto.data_to_send()))
    return sock, proto


def _read_until_closed(sock: socket.socket, proto: ClientProtocol) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while data := sock.recv(65536):
        proto.receive_data(data)
        for event in proto.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                messages.append(json.loads(bytes(event.data)))
        if out := proto.data_to_send():
            sock.sendall(b"".join(out))
    return messages


def test_a_client_that_stops_reading_stalls_no_other_socket_and_catches_up_from_the_stream_later(
    api_server: str, progress_redis: redis.Redis
) -> None:
    store = ProgressStore.from_url(os.environ["TASKRUNNER_PROGRESS_URL"])
    tid = store.create_task("fan_out", UPDATES).task_id
    url = "ws" + api_server[4:] + f"/internal/ws/task/{tid}"
    # Given one socket whose client never reads, and one that reads everything
    slow, proto = _open_without_reading(url)
    fast_got: list[dict[str, Any]] = []
    with connect(url, additional_headers=bearer(SERVICE_TOKEN), max_size=None) as fast:
        fast_got.append(json.loads(fast.recv()))  # the snapshot: both sockets are registered

        def write() -> None:
            for i in range(1, UPDATES):
                store.update_progress(tid, "running", i, message=f"{i:04d} " + "x" * 1990)
            store.update_progress(tid, "completed", UPDATES)

        writer = threading.Thread(target=write)
        # When the task writes megabytes of updates
        writer.start()
        for raw in fast:
            fast_got.append(json.loads(raw))
        writer.join()
    # Then the reading socket got every update, in order, up to the end, while the other was stuck
    assert [m["progress"]["current"] for m in fast_got[1:]] == list(range(1, UPDATES + 1))
    # And the stuck one, reading at last, gets increasing updates ending with the completion (resynced, not lost)
    slow_got = _read_until_closed(slow, proto)
    slow.close()
    currents = [m["progress"]["current"] for m in slow_got[1:]]
    assert currents == sorted(set(currents)) and slow_got[-1]["status"] == "completed"
    # It did fall behind: more than the stream keeps (1,000 events), so its resync began with a snapshot
    assert len(slow_got) < UPDATES
