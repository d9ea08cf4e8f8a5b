"""Access control and limits of the inference server.

In-process tests drive the ASGI app through Starlette's TestClient; the
timeout, binding and command-line tests run real uvicorn servers on
127.0.0.1 in subprocesses. The whole module takes under 30 s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lodgepole.exceptions import ConfigError, EndpointError
from lodgepole.model import LinearModel
from lodgepole.serving import Predictor, describe_endpoint
from lodgepole.serving.app import create_app
from lodgepole.serving.server import auth_token_from_environment
from tests._processes import children, terminate

pytest.importorskip("uvicorn")
from starlette.testclient import TestClient

TOKEN = "t0ken-for-tests_0123456789"
FEATURE_DIM = 3
CSV = "text/csv"
JSON = "application/json"
LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp prints it
LISTEN = "0A"


@pytest.fixture(scope="module")
def model() -> LinearModel:
    rng = np.random.default_rng(5)
    return LinearModel(
        "multiclass_classifier",
        rng.normal(size=(FEATURE_DIM, 4)),
        np.zeros(4),
        "softmax",
    )


@pytest.fixture(scope="module")
def client(model: LinearModel) -> Iterator[TestClient]:
    with TestClient(create_app(model, auth_token=TOKEN)) as test_client:
        yield test_client


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- authentication, in process ------------------------------------------------

ROUTES = [
    ("POST", "/invocations"),
    ("POST", "/endpoints/any-name/invocations"),
    ("GET", "/execution-parameters"),
    ("GET", "/model"),
    ("GET", "/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/no-such-route"),
    ("HEAD", "/model"),
    ("POST", "/ping"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_but_ping_needs_the_token(client, method, path):
    reply = client.request(
        method, path, content=b"1,2,3\n", headers={"Content-Type": CSV}
    )
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    if method != "HEAD":
        assert "Authorization: Bearer" in reply.json()["error"]


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        "Bearer",
        TOKEN,
        f"Bearer {TOKEN.upper()}",
        "",
    ],
)
def test_a_wrong_token_is_refused_and_not_echoed(client, header):
    reply = client.post(
        "/invocations",
        content=b"1,2,3\n",
        headers={"Content-Type": CSV, "Authorization": header},
    )
    assert reply.status_code == 401
    assert 'error="invalid_token"' in reply.headers["www-authenticate"]
    assert TOKEN not in reply.text and TOKEN[:10] not in reply.text


def test_the_right_token_is_served_and_ping_is_open(client, model):
    assert client.get("/ping").status_code == 200
    assert client.head("/ping").status_code == 200
    X = np.eye(FEATURE_DIM)
    body = "".join(",".join(map(str, row)) + "\n" for row in X).encode()
    # The scheme is case-insensitive; surrounding blanks are ignored.
    for header in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"  BEARER   {TOKEN} "):
        reply = client.post(
            "/invocations",
            content=body,
            headers={"Content-Type": CSV, "Accept": JSON, "Authorization": header},
        )
        assert reply.status_code == 200, reply.text
        labels = [p["predicted_label"] for p in reply.json()["predictions"]]
        assert labels == model.predict(X).predicted_label.tolist()
    assert client.get("/model", headers=_auth()).json()["feature_dim"] == FEATURE_DIM
    metrics = client.get("/metrics", headers=_auth()).text
    assert 'route="/invocations",status="401"' in metrics


def _drive(app, headers, chunks) -> tuple[list[dict[str, object]], int]:
    """Run one POST /invocations through ``app``; (sent messages, receive calls)."""
    import anyio

    pending = list(chunks)
    calls = 0

    async def receive() -> dict[str, object]:
        nonlocal calls
        calls += 1
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    anyio.run(app, scope, receive, send)
    return sent, calls


def test_refused_bodies_are_dropped_or_not_read(model):
    app = create_app(model, auth_token=TOKEN, max_body_bytes=1000)
    csv = [(b"content-type", b"text/csv")]
    # A body within the limit is read to its end (and dropped), then 401.
    sent, calls = _drive(app, csv, [b"Q" * 400, b"Q" * 400])
    assert sent[0]["status"] == 401 and calls == 2
    assert b"Q" not in sent[1]["body"]
    # A declared body over the limit is not read at all.
    sent, calls = _drive(app, [*csv, (b"content-length", b"5000")], [b"Q" * 5000])
    assert sent[0]["status"] == 401 and calls == 0
    # An undeclared one is read only up to the limit.
    sent, calls = _drive(app, csv, [b"Q" * 600] * 10)
    assert sent[0]["status"] == 401 and calls == 2


@pytest.mark.parametrize("token", ["", "has space", "tab\there", "caf\u00e9", "\n"])
def test_invalid_tokens_are_refused_without_quoting_them(model, token):
    with pytest.raises(ValueError, match="auth_token") as info:
        create_app(model, auth_token=token)
    if token.strip():
        assert token not in str(info.value)
    with pytest.raises(ConfigError, match="LODGEPOLE_AUTH_TOKEN"):
        auth_token_from_environment({"LODGEPOLE_AUTH_TOKEN": token})
    with pytest.raises(ConfigError):
        Predictor("http://127.0.0.1:1", auth_token=token)


def test_predictor_token_defaults_to_the_environment(monkeypatch):
    monkeypatch.setenv("LODGEPOLE_AUTH_TOKEN", f" {TOKEN}\n")
    assert Predictor("http://127.0.0.1:1")._headers() == _auth()
    assert TOKEN not in repr(Predictor("http://127.0.0.1:1"))
    assert Predictor("http://x", auth_token="other")._headers() == _auth("other")
    monkeypatch.delenv("LODGEPOLE_AUTH_TOKEN")
    assert "Authorization" not in Predictor("http://127.0.0.1:1")._headers()


# --- bounded error echo, in process --------------------------------------------

MEGABYTE_CELL = "7" * 200 + "Z" * 1_000_000
HOSTILE = [
    ("csv cell", {"Content-Type": CSV}, (MEGABYTE_CELL + ",1,2\n").encode()),
    ("csv row", {"Content-Type": CSV}, ("1," * 500_000 + "1\n").encode()),
    (
        "json garbage",
        {"Content-Type": JSON},
        b'{"instances": [' + b"\xff{[Q" * 250_000,
    ),
    (
        "json value",
        {"Content-Type": JSON},
        json.dumps({"instances": [{"features": [MEGABYTE_CELL, 1, 2]}]}).encode(),
    ),
    (
        "json key",
        {"Content-Type": JSON},
        json.dumps({"instances": [{MEGABYTE_CELL: 1}]}).encode(),
    ),
    ("jsonlines", {"Content-Type": "application/jsonlines"}, b"Q" * 1_000_000),
    (
        "recordio",
        {"Content-Type": "application/x-recordio-protobuf"},
        b"\n#\xd7\xce\xff\xff\xff\x0f" + b"Q" * 1_000_000,
    ),
    ("content-type", {"Content-Type": "text/" + "Q" * 100_000}, b"1,2,3\n"),
    ("accept", {"Content-Type": CSV, "Accept": "Q" * 100_000}, b"1,2,3\n"),
    (
        "top_k attribute",
        {
            "Content-Type": CSV,
            "X-Amzn-SageMaker-Custom-Attributes": "top_k=" + "9" * 100_000,
        },
        b"1,2,3\n",
    ),
    (
        "top_k letters",
        {
            "Content-Type": CSV,
            "X-Amzn-SageMaker-Custom-Attributes": "top_k=" + "Q" * 99_999,
        },
        b"1,2,3\n",
    ),
    ("content-length", {"Content-Type": CSV, "Content-Length": "9" * 10_000}, b""),
]


def _longest_run(text: str, alphabet: str) -> int:
    best = run = 0
    for char in text:
        run = run + 1 if char in alphabet else 0
        best = max(best, run)
    return best


@pytest.mark.parametrize(
    ("headers", "body"), [case[1:] for case in HOSTILE], ids=[c[0] for c in HOSTILE]
)
def test_errors_echo_only_a_bounded_prefix_of_hostile_input(client, headers, body):
    reply = client.post("/invocations", content=body, headers={**headers, **_auth()})
    assert 400 <= reply.status_code < 500, reply.text[:300]
    assert len(reply.content) < 2048
    assert _longest_run(reply.text, "QZ79") <= 48
    assert "error" in reply.json()


def test_endpoint_name_and_top_k_query_are_not_echoed(model):
    app = create_app(model, endpoint_name="served", auth_token=TOKEN)
    with TestClient(app) as local:
        reply = local.post(
            "/endpoints/" + "Q" * 30_000 + "/invocations",
            content=b"1,2,3\n",
            headers={"Content-Type": CSV, **_auth()},
        )
        assert reply.status_code == 404
        assert len(reply.content) < 2048 and _longest_run(reply.text, "Q") <= 48
        reply = local.post(
            "/invocations?top_k=" + "9" * 30_000,
            content=b"1,2,3\n",
            headers={"Content-Type": CSV, **_auth()},
        )
        assert reply.status_code == 400
        assert len(reply.content) < 2048 and _longest_run(reply.text, "9") <= 48


# --- request time limit --------------------------------------------------------


def test_scoring_over_the_time_limit_gives_503(model):
    """A 5 MB body takes far more than 1 ms to parse and score."""
    app = create_app(model, request_timeout=0.001)
    row = b"0.123456789,-1.23456789,2.3456789\n"
    body = row * (5_000_000 // len(row))
    with TestClient(app) as local:
        started = time.perf_counter()
        reply = local.post("/invocations", content=body, headers={"Content-Type": CSV})
        seconds = time.perf_counter() - started
        assert reply.status_code == 503, reply.text
        assert "time limit of 0.001 s" in reply.json()["error"]
        # A small body is scored on the event loop, without the limit.
        assert (
            local.post(
                "/invocations", content=row, headers={"Content-Type": CSV}
            ).status_code
            == 200
        )
    assert seconds < 10


def _wait_not_busy(local: TestClient, body: bytes, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        reply = local.post("/invocations", content=body, headers={"Content-Type": CSV})
        if "server busy" not in reply.text or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def test_abandoned_scoring_jobs_count_against_the_thread_limit(model, monkeypatch):
    """With room for one scoring thread, a job abandoned at its time limit
    holds it while it runs: the next large request is refused as busy."""
    import lodgepole.serving.app as app_module

    monkeypatch.setattr(app_module, "_MAX_SCORING_THREADS", 1)
    # Scoring 20 MB of CSV takes about 2 s here, ten times the limit.
    app = create_app(model, request_timeout=0.2, max_body_bytes=32 << 20)
    row = b"0.123456789,-1.23456789,2.3456789\n"
    body = row * (20_000_000 // len(row))
    headers = {"Content-Type": CSV}
    with TestClient(app) as local:
        first = local.post("/invocations", content=body, headers=headers)
        assert first.status_code == 503 and "time limit" in first.json()["error"]
        busy = local.post("/invocations", content=body, headers=headers)
        assert busy.status_code == 503, busy.text
        assert "server busy: 1 scoring jobs" in busy.json()["error"]
        reply = _wait_not_busy(local, row * 2000)  # the first job ends
        assert "server busy" not in reply.text
        assert reply.status_code in (200, 503), reply.text  # 503: over 0.2 s


def test_jobs_abandoned_before_they_start_give_their_thread_back(model, monkeypatch):
    """A 1 ms limit often abandons a job before a thread picks it up; anyio
    then never runs it, and its slot must still come back (it once leaked,
    and the server answered "busy" for good)."""
    import lodgepole.serving.app as app_module

    monkeypatch.setattr(app_module, "_MAX_SCORING_THREADS", 1)
    app = create_app(model, request_timeout=0.001)
    row = b"0.123456789,-1.23456789,2.3456789\n"
    stop = threading.Event()

    def hold_the_gil() -> None:  # slows the start of worker threads
        while not stop.is_set():
            sum(range(10_000))

    spinner = threading.Thread(target=hold_the_gil, daemon=True)
    spinner.start()
    try:
        with TestClient(app) as local:
            for _ in range(8):
                reply = _wait_not_busy(local, row * 2000, seconds=5)
                assert "server busy" not in reply.text
                assert reply.status_code in (200, 503)
    finally:
        stop.set()
        spinner.join()


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("inf"), float("nan")])
def test_request_timeout_must_be_positive(model, timeout):
    with pytest.raises(ValueError, match="request_timeout"):
        create_app(model, request_timeout=timeout)


# --- real servers --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_ping(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()[1]!r}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"no answer on {url}/ping within {seconds} s")


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} print them) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == LISTEN:
                found.append(address)
    return found


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory, model) -> Iterator[str]:
    """``lodgepole serve --auth-token-file`` with a 1 s request time limit."""
    folder = tmp_path_factory.mktemp("access")
    model_path = model.save(folder / "model")
    token_file = folder / "token"
    token_file.write_text(f"\n  {TOKEN}  \n")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "LODGEPOLE_AUTH_TOKEN"}
    env["LODGEPOLE_HEAD_TIMEOUT"] = "1"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lodgepole.cli",
            "serve",
            str(model_path),
            "--port",
            str(port),
            "--auth-token-file",
            str(token_file),
            "--request-timeout",
            "1",
            "--max-body-bytes",
            "100000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_ping(url, process, 30)
        yield url
    finally:
        # The token never reaches the log.
        assert TOKEN.encode() not in terminate(process)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url + "/invocations", data=body, method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()


def test_cli_serve_with_a_token_file(cli_server, model):
    port = int(cli_server.rsplit(":", 1)[1])
    assert _listening(port) == [LOOPBACK_HEX]
    headers = {"Content-Type": CSV, "Accept": JSON}
    status, body = _post(cli_server, b"1,0,0\n", headers)
    assert status == 401 and b"Bearer" in body
    status, body = _post(cli_server, b"1,0,0\n", {**headers, **_auth()})
    assert status == 200
    expected = model.predict(np.array([[1.0, 0.0, 0.0]])).predicted_label[0]
    assert json.loads(body)["predictions"][0]["predicted_label"] == expected
    # --max-body-bytes applies.
    status, body = _post(cli_server, b"1,0,0\n" * 20_000, {**headers, **_auth()})
    assert status == 413 and b"100000 bytes" in body
    # Through the Python client, with and without the token.
    with pytest.raises(EndpointError, match="needs a bearer token") as info:
        Predictor(cli_server, auth_token=None).model_metadata()
    assert info.value.status == 401
    with pytest.raises(EndpointError, match="refused this predictor's bearer token"):
        Predictor(cli_server, auth_token="wrong").predict(b"1,0,0\n", CSV)
    assert Predictor(cli_server, auth_token=TOKEN).model_metadata()["num_classes"] == 4


def test_workers_get_the_token_and_limits_from_the_environment(tmp_path, model):
    model_path = model.save(tmp_path / "model")
    port = _free_port()
    env = {
        **os.environ,
        "LODGEPOLE_AUTH_TOKEN": TOKEN,
        "LODGEPOLE_MAX_BODY_BYTES": "1000",
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "lodgepole.cli", "serve", str(model_path)),
            *("--port", str(port), "--workers", "2"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_ping(url, process, 30)
        assert _listening(port) == [LOOPBACK_HEX]
        headers = {"Content-Type": CSV, "Accept": JSON}
        for _ in range(4):  # both workers answer in turn, on new connections
            assert _post(url, b"1,0,0\n", headers)[0] == 401
            assert _post(url, b"1,0,0\n", {**headers, **_auth()})[0] == 200
            assert _post(url, b"1,0,0\n" * 200, {**headers, **_auth()})[0] == 413
        for pid in [process.pid, *children(process.pid)]:
            assert TOKEN.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    finally:
        stderr = terminate(process)
    assert TOKEN.encode() not in stderr


def test_a_slow_body_gets_408(cli_server):
    port = int(cli_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            + f"Authorization: Bearer {TOKEN}\r\n".encode()
            + b"Content-Length: 100\r\n\r\n1,0,"
        )
        started = time.monotonic()
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        seconds = time.monotonic() - started
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), reply
    assert b"connection: close" in head.lower()
    assert b"time limit of 1 s" in body
    assert 0.9 < seconds < 5


def _exchange(port: int, data: bytes, pause: float = 0.0) -> tuple[bytes, float]:
    """Send ``data``, then read until the server closes; (reply, seconds)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        if data:
            sock.sendall(data)
        started = time.monotonic()
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply, time.monotonic() - started


def _head(extra: bytes = b"", length: int = 0) -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {length}\r\n".encode()
        + extra
    )


def test_a_request_head_over_64_kib_gets_431(cli_server):
    port = int(cli_server.rsplit(":", 1)[1])
    reply, _ = _exchange(port, _head(b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n"))
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert len(reply) < 300
    # Just under the limit is served; the body in the same chunk is not
    # counted as head (99 kB of CSV follows 60 kB of headers in one send).
    row = (",".join(["0.5"] * FEATURE_DIM) + "\n").encode()
    body = row * (99_000 // len(row))
    data = _head(
        b"X-Big: " + b"a" * 60_000 + b"\r\nConnection: close\r\n\r\n", len(body)
    )
    reply, _ = _exchange(port, data + body)
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:300]


@pytest.mark.parametrize("sent", [b"", b"POST /invocations HTTP/1.1\r\nHost: x\r\n"])
def test_a_head_not_sent_in_time_gets_408(cli_server, sent: bytes):
    """A silent connection, or headers that stop coming, are closed after 1 s."""
    port = int(cli_server.rsplit(":", 1)[1])
    reply, seconds = _exchange(port, sent)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert 0.8 < seconds < 5


def test_a_slow_second_head_on_a_kept_alive_connection_gets_408(cli_server):
    port = int(cli_server.rsplit(":", 1)[1])
    row = (",".join(["0.5"] * FEATURE_DIM) + "\n").encode()
    first = _head(b"\r\n", len(row)) + row
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(first)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(65536)
        head, _, body = reply.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 "), reply[:200]
        time.sleep(0.7)  # idle, under the 5 s keep-alive: not a slow head
        sock.sendall(b"POST /invocations HTTP/1.1\r\n")
        started = time.monotonic()
        rest = b""
        while chunk := sock.recv(65536):
            rest += chunk
        seconds = time.monotonic() - started
    assert rest.startswith(b"HTTP/1.1 408 "), rest[:200]
    assert 0.8 < seconds < 5


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read --auth-token-file"), ("  \n\n", "is empty")],
)
def test_a_bad_token_file_is_a_usage_error(tmp_path, model, content, message):
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lodgepole.cli",
            "serve",
            str(tmp_path / "no-model-needed"),
            "--port",
            str(_free_port()),
            "--auth-token-file",
            str(token_file),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert lines[0].startswith("lodgepole: error:")


def test_deploy_with_a_token(model, monkeypatch):
    monkeypatch.delenv("LODGEPOLE_AUTH_TOKEN", raising=False)
    predictor = model.deploy(endpoint_name="access-token", auth_token=TOKEN)
    try:
        endpoint = describe_endpoint("access-token")
        assert endpoint.status == "InService"  # /ping needs no token
        assert _listening(endpoint.port) == [LOOPBACK_HEX]
        assert endpoint.pid is not None
        cmdline = Path(f"/proc/{endpoint.pid}/cmdline").read_bytes()
        assert TOKEN.encode() not in cmdline
        X = np.eye(FEATURE_DIM)
        reply = predictor.predict(X, CSV, JSON)
        labels = [p["predicted_label"] for p in reply["predictions"]]
        assert labels == model.predict(X).predicted_label.tolist()
        # The registry holds no token: attach needs it again.
        with pytest.raises(EndpointError, match="needs a bearer token"):
            Predictor.attach("access-token").predict(X, CSV, JSON)
        again = Predictor.attach("access-token", auth_token=TOKEN)
        assert again.predict(X, CSV, JSON) == reply
        # A large refused body still gets the 401, not a reset connection.
        anonymous = Predictor(predictor.url)
        with pytest.raises(EndpointError, match="needs a bearer token") as info:
            anonymous.predict(b"1,0,0\n" * 700_000, CSV, JSON)
        assert info.value.status == 401
        # Over the body limit the server stops reading; either way the
        # client says why.
        with pytest.raises(EndpointError) as info:
            again.predict(b"1,0,0\n" * 3_500_000, CSV, JSON)
        assert info.value.status == 413 or "body limit" in str(info.value)
        state = Path(os.environ["LODGEPOLE_HOME"])
        for path in state.rglob("*"):
            if path.is_file() and path.suffix != ".log":
                assert TOKEN.encode() not in path.read_bytes(), path
    finally:
        predictor.delete_endpoint()
