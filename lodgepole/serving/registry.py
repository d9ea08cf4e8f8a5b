"""The registry of local endpoints, shared by every process of one user.

An endpoint made by :func:`lodgepole.serving.deploy` is a server process
that is not a child of the Python process that asked for it: it keeps
running after that process exits, as a SageMaker endpoint does, until
someone deletes it. Each endpoint is one row in the state database
(:mod:`lodgepole.state`) and one directory ``endpoints/NAME`` beside it that
holds the served model and the server's log.

:func:`list_endpoints`, :func:`describe_endpoint` and
:func:`delete_endpoint` work from any process, and back the
``lodgepole endpoints list | describe | delete`` commands. An endpoint's
status is worked out when asked: ``InService`` when its server answers
``GET /ping``, ``OutOfService`` when the process lives but does not answer,
``Failed`` when the process is gone, ``Creating`` while deploy waits.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     list_endpoints(state=Path(tmp))
[]
>>> check_endpoint_name("forest-cover-1")
'forest-cover-1'
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lodgepole._process import running
from lodgepole.exceptions import ConfigError, EndpointError
from lodgepole.state import connect, state_dir

__all__ = [
    "Endpoint",
    "EndpointError",
    "check_endpoint_name",
    "delete_endpoint",
    "describe_endpoint",
    "list_endpoints",
]

logger = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 1.0
# SageMaker's rule for endpoint names.
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@dataclass(frozen=True)
class Endpoint:
    """One registered endpoint, as :func:`list_endpoints` reports it.

    Attributes
    ----------
    name, url
        The endpoint name and its base URL (``http://host:port``).
    status
        ``InService``, ``OutOfService``, ``Failed`` or ``Creating``.
    pid
        The server's process id (None while creating).
    instance_count
        Number of server worker processes.
    predictor_type, model_path, created_at
        What it serves, where the served copy of the model is, and when it
        was created (UTC, ISO 8601).
    directory
        The endpoint's directory (model copy and ``server.log``).
    """

    name: str
    url: str
    status: str
    pid: int | None
    instance_count: int
    predictor_type: str
    model_path: str
    created_at: str
    directory: str
    port: int


def check_endpoint_name(name: str) -> str:
    """Return ``name`` if it is a valid endpoint name, else raise ConfigError.

    Names follow SageMaker's rule: 1 to 63 letters, digits and hyphens,
    starting and ending with a letter or digit.

    Examples
    --------
    >>> check_endpoint_name("-bad")
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.ConfigError: endpoint name '-bad' is not valid: ...
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ConfigError(
            f"endpoint name {name!r} is not valid: use 1 to 63 letters, digits "
            f"and hyphens, starting and ending with a letter or digit."
        )
    return name


def default_endpoint_name(predictor_type: str, now: datetime | None = None) -> str:
    """A fresh name in the SDK's style: prefix plus a UTC timestamp.

    Examples
    --------
    >>> default_endpoint_name("binary_classifier", datetime(2026, 1, 2, 3, 4, 5))
    'lodgepole-binary-classifier-2026-01-02-03-04-05-000'
    """
    moment = now or datetime.now(timezone.utc)
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S-") + f"{moment.microsecond // 1000:03d}"
    return f"lodgepole-{predictor_type.replace('_', '-')}-{stamp}"


def server_alive(pid: int | None, port: int) -> bool:
    """True when ``pid`` is a running lodgepole server on ``port``.

    On Linux the command line is checked too, so a recycled process id is
    not mistaken for the server.
    """
    if pid is None or not running(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return Path("/proc/self/cmdline").exists() is False
    except OSError:
        return True
    if args == [b""]:  # exiting: memory released, not yet a zombie
        return True
    return b"lodgepole.cli" in args and str(port).encode() in args


def ping(url: str, timeout: float = PING_TIMEOUT_SECONDS) -> bool:
    """True when ``GET {url}/ping`` answers 200 within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(url + "/ping", timeout=timeout) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _status(row: dict[str, object]) -> str:
    pid = row["pid"]
    if pid is None:
        return "Creating"
    if not server_alive(int(pid), int(str(row["port"]))):  # type: ignore[arg-type]
        return "Failed"
    return "InService" if ping(str(row["url"])) else "OutOfService"


def _endpoint(row: dict[str, object], check: bool) -> Endpoint:
    return Endpoint(
        name=str(row["name"]),
        url=str(row["url"]),
        status=_status(row) if check else "Unknown",
        pid=None if row["pid"] is None else int(str(row["pid"])),
        instance_count=int(str(row["instance_count"])),
        predictor_type=str(row["predictor_type"]),
        model_path=str(row["model_path"]),
        created_at=str(row["created_at"]),
        directory=str(row["directory"]),
        port=int(str(row["port"])),
    )


def list_endpoints(*, check: bool = True, state: Path | None = None) -> list[Endpoint]:
    """Every registered endpoint, oldest first.

    Parameters
    ----------
    check
        Work out each status (a process check and a 1 s ping each); when
        False the status is ``Unknown``.
    state
        The state directory; :func:`lodgepole.state.state_dir` when None.
    """
    with connect(state) as db:
        rows = [dict(r) for r in db.execute("SELECT * FROM endpoints ORDER BY rowid")]
    return [_endpoint(row, check) for row in rows]


def _lookup(name: str, state: Path | None) -> dict[str, object] | None:
    with connect(state) as db:
        row = db.execute("SELECT * FROM endpoints WHERE name = ?", (name,)).fetchone()
    return None if row is None else dict(row)


def _not_found(name: str) -> EndpointError:
    return EndpointError(
        None,
        f"no endpoint named {name!r}; `lodgepole endpoints list` shows the "
        f"endpoints in {state_dir()}.",
    )


def describe_endpoint(name: str, *, state: Path | None = None) -> Endpoint:
    """The registered endpoint ``name``, with its current status.

    Raises
    ------
    EndpointError
        If no endpoint has that name.
    """
    row = _lookup(name, state)
    if row is None:
        raise _not_found(name)
    return _endpoint(row, check=True)


def reserve(
    name: str,
    *,
    host: str,
    port: int,
    instance_count: int,
    predictor_type: str,
    model_path: Path,
    directory: Path,
    state: Path | None = None,
) -> None:
    """Claim ``name`` for a new endpoint (status ``Creating``).

    A row left by an endpoint whose process is gone is replaced.

    Raises
    ------
    EndpointError
        If a live endpoint already has the name.
    """
    url = f"http://{host}:{port}"
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with connect(state) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT * FROM endpoints WHERE name = ?", (name,))
            old = row.fetchone()
            if old is not None:
                old_pid = old["pid"]
                if old_pid is None or server_alive(old_pid, old["port"]):
                    raise EndpointError(
                        None,
                        f"endpoint {name!r} already exists ({old['url']}); "
                        f"delete it first (`lodgepole endpoints delete {name}`) "
                        f"or choose another name.",
                    )
                logger.info("replacing failed endpoint name=%s", name)
                db.execute("DELETE FROM endpoints WHERE name = ?", (name,))
            db.execute(
                "INSERT INTO endpoints (name, url, host, port, pid, instance_count,"
                " model_path, directory, predictor_type, created_at)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
                (
                    name,
                    url,
                    host,
                    port,
                    instance_count,
                    str(model_path),
                    str(directory),
                    predictor_type,
                    created,
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def set_pid(name: str, pid: int, *, state: Path | None = None) -> None:
    """Record the server process of endpoint ``name``."""
    with connect(state) as db:
        db.execute("UPDATE endpoints SET pid = ? WHERE name = ?", (pid, name))


def forget(name: str, *, state: Path | None = None) -> None:
    """Remove endpoint ``name`` from the registry (no process is touched)."""
    with connect(state) as db:
        db.execute("DELETE FROM endpoints WHERE name = ?", (name,))


# Started with ``python -c``: starts the server in a new session and exits at
# once, so the server is not a child of the deploying process and outlives it.
_LAUNCHER = """
import subprocess, sys
with open(sys.argv[1], "ab") as log:
    process = subprocess.Popen(
        sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        start_new_session=True,
    )
sys.stdout.write(str(process.pid))
"""


def launch(command: list[str], log_path: Path, env: dict[str, str]) -> int:
    """Start ``command`` detached (new session, output to ``log_path``).

    Returns
    -------
    int
        The process id of the started command.
    """
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _LAUNCHER, str(log_path), *command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise EndpointError(
            None,
            "could not start the server process: "
            + done.stderr.decode("utf-8", "replace")[-2000:],
        )
    return int(done.stdout)


def stop_server(pid: int, port: int, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
    """SIGTERM the server, wait up to ``timeout`` s, then SIGKILL its group.

    The server drains: it stops accepting connections and finishes the
    requests in flight before it exits.

    Returns
    -------
    bool
        True if it exited on SIGTERM, False if it had to be killed (or was
        already gone).
    """
    if not server_alive(pid, port):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server_alive(pid, port):
            return True
        time.sleep(0.05)
    logger.warning("endpoint pid=%d ignored SIGTERM for %.0fs; killing", pid, timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return False


def delete_endpoint(
    name: str,
    *,
    missing_ok: bool = False,
    timeout: float = STOP_TIMEOUT_SECONDS,
    state: Path | None = None,
) -> None:
    """Stop endpoint ``name``'s server (draining requests) and remove it.

    Parameters
    ----------
    name
        The endpoint name.
    missing_ok
        Do nothing, rather than raise, when no endpoint has the name.
    timeout
        Seconds to wait for a graceful exit before killing the server.
    state
        The state directory; :func:`lodgepole.state.state_dir` when None.

    Raises
    ------
    EndpointError
        If no endpoint has that name and ``missing_ok`` is False.
    """
    row = _lookup(name, state)
    if row is None:
        if missing_ok:
            return
        raise _not_found(name)
    pid, port = row["pid"], int(str(row["port"]))
    if pid is not None:
        graceful = stop_server(int(str(pid)), port, timeout)
        logger.info("endpoint stopped name=%s pid=%s graceful=%s", name, pid, graceful)
    forget(name, state=state)
    shutil.rmtree(str(row["directory"]), ignore_errors=True)
