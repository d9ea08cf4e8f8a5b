"""A local endpoint: deploy a model in a server process and call it.

:func:`deploy` mirrors ``estimator.deploy`` of the SageMaker Python SDK
(SPEC section 9.4): it saves the model to a temporary directory, starts
``python -m lodgepole.cli serve`` on a free loopback port and returns a
:class:`Predictor`. ``Predictor.predict`` sends RecordIO-protobuf by default
and returns a list of ``Record`` messages, so results read as with the SDK::

    predictor = lodgepole.serving.deploy(model)
    records = predictor.predict(X)
    labels = [r.label["predicted_label"].float32_tensor.values[0] for r in records]
    predictor.delete_endpoint()

The client uses only :mod:`urllib`; the server needs Starlette and uvicorn.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from lodgepole.exceptions import DataFormatError, LodgepoleError
from lodgepole.formats.csv import encode_csv
from lodgepole.formats.record_pb2 import Record
from lodgepole.formats.recordio import encode_records, read_frames
from lodgepole.model import LinearModel

__all__ = ["EndpointError", "Predictor", "deploy"]

logger = logging.getLogger(__name__)

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 60.0
_STDERR_TAIL_CHARS = 2000


class EndpointError(LodgepoleError):
    """The endpoint answered with an error status, or could not be reached.

    Attributes
    ----------
    status : int or None
        The HTTP status code; None when no answer came.
    message : str
        The server's error message (the ``error`` field of its JSON body).
    """

    def __init__(self, status: int | None, message: str) -> None:
        prefix = f"endpoint answered {status}: " if status is not None else ""
        super().__init__(prefix + message)
        self.status = status
        self.message = message


def _matrix(data: Any) -> np.ndarray | sp.csr_matrix:
    """A 2-D dense array or CSR matrix; a 1-D array becomes one row."""
    if sp.issparse(data):
        return sp.csr_matrix(data)
    X = np.asarray(data)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    if X.ndim != 2:
        raise DataFormatError(f"data: expected 1-D or 2-D, found shape {X.shape!r}")
    return X


def _instances(X: np.ndarray | sp.csr_matrix) -> list[dict[str, Any]]:
    """JSON request instances, dense or sparse (SPEC section 6)."""
    if sp.issparse(X):
        width = X.shape[1]
        return [
            {
                "data": {
                    "features": {
                        "keys": X.indices[X.indptr[i] : X.indptr[i + 1]].tolist(),
                        "shape": [width],
                        "values": X.data[X.indptr[i] : X.indptr[i + 1]].tolist(),
                    }
                }
            }
            for i in range(X.shape[0])
        ]
    return [{"features": row} for row in np.asarray(X, dtype=np.float64).tolist()]


def encode_request(data: Any, content_type: str) -> bytes:
    """Encode ``data`` as a request body of ``content_type``.

    Parameters
    ----------
    data
        Raw bytes (sent unchanged), a numpy array (a 1-D array is one row)
        or a scipy.sparse matrix.
    content_type
        ``application/x-recordio-protobuf``, ``text/csv``,
        ``application/json`` or ``application/jsonlines``.

    Returns
    -------
    bytes
        The request body.

    Raises
    ------
    DataFormatError
        If the data cannot be encoded or the content type is unknown.

    Examples
    --------
    >>> encode_request(np.array([1.0, 2.5]), "text/csv")
    b'1,2.5\\n'
    >>> encode_request(np.array([[1.0, 2.0]]), "application/json")
    b'{"instances": [{"features": [1.0, 2.0]}]}'
    """
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    X = _matrix(data)
    if content_type == RECORDIO:
        return encode_records(X)
    if content_type == CSV:
        return encode_csv(X.toarray() if sp.issparse(X) else X)
    if content_type == JSON:
        return json.dumps({"instances": _instances(X)}).encode()
    if content_type == JSONLINES:
        return "".join(json.dumps(i) + "\n" for i in _instances(X)).encode()
    raise DataFormatError(
        f"cannot encode a request as {content_type!r}; use {RECORDIO}, {CSV}, "
        f"{JSON} or {JSONLINES}, or pass bytes."
    )


def decode_response(body: bytes, content_type: str) -> Any:
    """Decode a response body by its content type.

    Parameters
    ----------
    body
        The response body.
    content_type
        The response's ``Content-Type`` header.

    Returns
    -------
    list of Record, dict, list of dict or bytes
        RecordIO: one ``Record`` message per row; JSON: the parsed object;
        JSON Lines: one dict per line; anything else: the raw bytes.

    Examples
    --------
    >>> decode_response(b'{"predictions": []}', "application/json")
    {'predictions': []}
    >>> decode_response(b'{"score": 1.5}\\n', "application/jsonlines")
    [{'score': 1.5}]
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media == RECORDIO:
        return [
            Record.FromString(frame)
            for frame in read_frames(body, source="response body")
        ]
    if media == JSON:
        return json.loads(body)
    if media == JSONLINES:
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    return body


class Predictor:
    """A client of a lodgepole (or SageMaker-compatible) inference endpoint.

    Parameters
    ----------
    url
        Base URL of the server, e.g. ``http://127.0.0.1:8080``; requests go
        to ``{url}/invocations``.
    content_type
        Default request content type.
    accept
        Default response content type asked for.

    Examples
    --------
    >>> predictor = Predictor("http://127.0.0.1:8080/")
    >>> predictor.url, predictor.accept
    ('http://127.0.0.1:8080', 'application/x-recordio-protobuf')
    """

    def __init__(
        self,
        url: str,
        *,
        content_type: str = RECORDIO,
        accept: str = RECORDIO,
    ) -> None:
        self.url = url.rstrip("/")
        self.content_type = content_type
        self.accept = accept
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    def __repr__(self) -> str:
        return f"Predictor({self.url!r})"

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.delete_endpoint()

    def predict(
        self,
        data: Any,
        content_type: str | None = None,
        accept: str | None = None,
    ) -> Any:
        """Score ``data`` on the endpoint.

        Parameters
        ----------
        data
            A numpy array (a 1-D array is one row), a scipy.sparse matrix,
            or raw bytes already in ``content_type``.
        content_type, accept
            Override the predictor's defaults for this call.

        Returns
        -------
        list of Record, dict or list of dict
            For RecordIO one ``Record`` per row, read as
            ``r.label["predicted_label"].float32_tensor.values[0]`` and
            ``r.label["score"].float32_tensor.values``; for JSON the parsed
            ``{"predictions": [...]}``; for JSON Lines one dict per row.

        Raises
        ------
        EndpointError
            If the server answers an error status (``status`` holds it,
            e.g. 400 for a malformed body) or cannot be reached.
        DataFormatError
            If ``data`` cannot be encoded.

        Examples
        --------
        >>> Predictor("http://127.0.0.1:1").predict(b"1,2", "text/csv")
        Traceback (most recent call last):
        ...
        lodgepole.serving.endpoint.EndpointError: cannot reach ...
        """
        request_type = content_type or self.content_type
        body = encode_request(data, request_type)
        request = urllib.request.Request(
            self.url + "/invocations",
            data=body,
            method="POST",
            headers={"Content-Type": request_type, "Accept": accept or self.accept},
        )
        try:
            with urllib.request.urlopen(
                request, timeout=REQUEST_TIMEOUT_SECONDS
            ) as reply:
                payload = reply.read()
                reply_type = reply.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            raise EndpointError(err.code, _error_message(err)) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise EndpointError(None, f"cannot reach {self.url}: {reason}") from None
        return decode_response(payload, reply_type)

    def delete_endpoint(self) -> None:
        """Stop the server process started by :func:`deploy` and clean up.

        Sends SIGTERM, waits up to 10 s for a graceful exit, then kills the
        process; removes the temporary model directory. Calling it again,
        or on a predictor that :func:`deploy` did not create, does nothing.

        Examples
        --------
        >>> Predictor("http://127.0.0.1:8080").delete_endpoint()
        """
        process, self._process = self._process, None
        if process is not None:
            _stop(process)
            logger.info("endpoint stopped url=%s pid=%d", self.url, process.pid)
        workdir, self._workdir = self._workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)


def _error_message(err: urllib.error.HTTPError) -> str:
    try:
        text = err.read().decode("utf-8", "replace")
    except OSError:
        return str(err.reason)
    finally:
        err.close()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text[:512] or str(err.reason)
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        return str(parsed["error"])
    return text[:512]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, a bounded wait, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            logger.warning("endpoint pid=%d ignored SIGTERM; killing", process.pid)
            process.kill()
            process.wait()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/ping", timeout=1.0) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path) -> str:
    try:
        return path.read_text("utf-8", "replace")[-_STDERR_TAIL_CHARS:]
    except OSError:
        return ""


def deploy(
    model: LinearModel,
    *,
    initial_instance_count: int = 1,
    endpoint_name: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> Predictor:
    """Serve ``model`` from a new local server process; return its predictor.

    The local counterpart of ``estimator.deploy`` (SPEC section 9.4).

    Parameters
    ----------
    model
        The trained model.
    initial_instance_count
        Number of server worker processes.
    endpoint_name
        Name accepted on ``/endpoints/{name}/invocations``; any when None.
    host
        Address to bind, loopback by default.
    port
        Port to bind; a free port when None.

    Returns
    -------
    Predictor
        Connected to the server; call :meth:`Predictor.delete_endpoint`
        (or use it as a context manager) to stop the server.

    Raises
    ------
    ConfigError
        If ``initial_instance_count`` is below 1.
    EndpointError
        If the server does not answer ``GET /ping`` within 30 s; the
        message ends with the tail of the server's stderr.

    Examples
    --------
    >>> w, b = np.ones((2, 1)), np.zeros(1)
    >>> model = LinearModel("regressor", w, b, "identity")
    >>> with deploy(model) as predictor:
    ...     predictor.predict(np.array([1.0, 2.0]), accept="application/json")
    {'predictions': [{'score': 3.0}]}
    """
    from lodgepole.exceptions import ConfigError

    if initial_instance_count < 1:
        raise ConfigError(
            f"initial_instance_count must be >= 1; got {initial_instance_count!r}."
        )
    workdir = Path(tempfile.mkdtemp(prefix="lodgepole-endpoint-"))
    try:
        model_dir = model.save(workdir / "model")
        port = _free_port(host) if port is None else port
        command = [
            sys.executable,
            "-m",
            "lodgepole.cli",
            "serve",
            str(model_dir),
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(initial_instance_count),
        ]
        if endpoint_name is not None:
            command += ["--endpoint-name", endpoint_name]
        stderr_path = workdir / "server.log"
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    predictor = Predictor(f"http://{host}:{port}")
    predictor._process, predictor._workdir = process, workdir
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _ping(predictor.url):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = _tail(stderr_path)
            predictor.delete_endpoint()
            raise EndpointError(
                None,
                f"the server on {predictor.url} did not start "
                f"(exit code {process.returncode}); its stderr ends with:\n{tail}",
            )
        time.sleep(0.05)
    logger.info(
        "endpoint started url=%s pid=%d workers=%d",
        predictor.url,
        process.pid,
        initial_instance_count,
    )
    return predictor
