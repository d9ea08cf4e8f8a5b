"""SIGTERM drains the server: requests in flight finish, new ones are refused.

Each in-flight request is held open by sending its headers and only half of
its body before the signal; the rest is sent after the listening socket has
closed. Every held request must still be answered in full, and no new
connection may be accepted once draining has begun.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import numpy as np
import pytest

from lodgepole._process import running as _alive
from lodgepole.model import LinearModel
from lodgepole.serving import describe_endpoint, list_endpoints

pytest.importorskip("uvicorn")

IN_FLIGHT = 8


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed mid-response: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(
        int(line.split(":", 1)[1])
        for line in lines[1:]
        if line.lower().startswith("content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed mid-body")
        body += chunk
    return status, body


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_finishes_requests_in_flight_and_refuses_new_ones(workers: int):
    rng = np.random.default_rng(3)
    model = LinearModel(
        "binary_classifier", rng.normal(size=(4, 1)), np.zeros(1), "sigmoid"
    )
    name = f"drain-{workers}"
    model.deploy(workers, endpoint_name=name)
    endpoint = describe_endpoint(name)
    assert endpoint.pid is not None
    host, port = "127.0.0.1", endpoint.port
    X = rng.normal(size=(IN_FLIGHT, 4))
    bodies = [(",".join(f"{v:.6f}" for v in row) + "\n").encode() for row in X]

    held: list[socket.socket] = []
    try:
        for body in bodies:
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(
                b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: text/csv\r\nAccept: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[: len(body) // 2]
            )
            held.append(sock)
        time.sleep(0.3)  # every worker has parsed the headers it was sent

        os.kill(endpoint.pid, signal.SIGTERM)
        refused = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                probe = socket.create_connection((host, port), timeout=1)
            except OSError:
                refused = True
                break
            probe.close()
            time.sleep(0.05)
        assert refused, "the server still accepted connections 10 s after SIGTERM"
        assert _alive(endpoint.pid), "the server exited with requests in flight"

        for sock, body in zip(held, bodies, strict=True):
            sock.sendall(body[len(body) // 2 :])
        expected = model.predict(np.round(X, 6))
        for i, sock in enumerate(held):
            status, payload = _read_response(sock)
            assert status == 200, payload
            (prediction,) = json.loads(payload)["predictions"]
            assert prediction["predicted_label"] == expected.predicted_label[i]
            assert prediction["score"] == pytest.approx(expected.score[i], rel=1e-5)
    finally:
        for sock in held:
            sock.close()

    deadline = time.monotonic() + 10
    while _alive(endpoint.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(endpoint.pid), "the server did not exit after draining"
    assert describe_endpoint(name).status == "Failed"  # stopped outside delete
    from lodgepole.serving import delete_endpoint

    delete_endpoint(name)
    assert name not in {e.name for e in list_endpoints()}
