"""Shared fixtures: a real S3-compatible server (moto) on the loopback interface.

The ``s3_endpoint`` fixture starts moto's server (``moto.server.main``) as a
subprocess bound to 127.0.0.1 on a free port, once per test session and only
when a test asks for it. s3fs finds the server through ``AWS_ENDPOINT_URL_S3``, which
botocore reads when s3fs makes its client, so library code needs no storage
options. AWS configuration is isolated from the machine's (dummy credentials,
no profile, no config files, no instance metadata lookups), and an audit hook
records any socket connection or DNS lookup to an address other than
127.0.0.1 so the S3 tests can assert that none happened.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LOOPBACK = "127.0.0.1"

#: ``(event, address)`` of every non-loopback connection or lookup seen while
#: the S3 server fixture is active.
foreign_addresses: list[tuple[str, str]] = []
_guard = {"active": False, "installed": False}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _guard["active"]:
        return
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address and address[0] != LOOPBACK:
            foreign_addresses.append((event, repr(address)))
    elif event == "socket.getaddrinfo":
        host = args[0]
        if host not in (LOOPBACK, "localhost", None):
            foreign_addresses.append((event, repr(host)))


# Runs moto's server and exits when the parent (pytest) dies, so a killed test
# run leaves no server behind.
_SERVER = """
import os, sys, threading, time
from moto.server import main
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
main(sys.argv[1:])
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"moto server exited early with code {process.returncode}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"moto server did not listen on {LOOPBACK}:{port} in 20 s")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto S3 server on 127.0.0.1, with s3fs pointed at it."""
    pytest.importorskip("moto.server", reason="needs moto[server] (test extra)")
    s3fs = pytest.importorskip("s3fs", reason="needs s3fs (test extra)")

    port = _free_port()
    endpoint = f"http://{LOOPBACK}:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    missing = str(Path(log).with_name("no-such-aws-config"))
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "NO_PROXY": LOOPBACK,
        "no_proxy": LOOPBACK,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "HTTP_PROXY", "HTTPS_PROXY"):
            patch.delenv(name, raising=False)
            patch.delenv(name.lower(), raising=False)
        with open(log, "wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-c", _SERVER, "-H", LOOPBACK, "-p", str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=dict(os.environ),
            )
        try:
            _wait_until_listening(port, process)
            if not _guard["installed"]:
                sys.addaudithook(_audit)  # hooks cannot be removed; gated by flag
                _guard["installed"] = True
            s3fs.S3FileSystem.clear_instance_cache()  # new clients see the endpoint
            _guard["active"] = True
            yield endpoint
        finally:
            _guard["active"] = False
            s3fs.S3FileSystem.clear_instance_cache()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def foreign_connections(s3_endpoint: str) -> Iterator[list[tuple[str, str]]]:
    """Fail the test if it connected to or looked up anything but 127.0.0.1."""
    start = len(foreign_addresses)
    yield foreign_addresses
    seen = foreign_addresses[start:]
    assert not seen, f"network access outside {LOOPBACK}: {seen!r}"
