"""A local endpoint: deploy a model in a server process and call it.

:func:`deploy` (also ``LinearModel.deploy``) mirrors ``estimator.deploy`` of
the SageMaker Python SDK (SPEC section 9.4): it saves the model under the
per-user state directory, starts ``python -m lodgepole.cli serve`` on a free
loopback port as a detached process, records the endpoint in the registry
(:mod:`lodgepole.serving.registry`) and returns a :class:`Predictor`.
``Predictor.predict`` sends RecordIO-protobuf by default and returns a list
of ``Record`` messages, so results read as with the SDK::

    predictor = model.deploy(initial_instance_count=1)
    records = predictor.predict(X)
    labels = [r.label["predicted_label"].float32_tensor.values[0] for r in records]
    predictor.delete_endpoint()

Like a SageMaker endpoint, the server keeps running after the Python process
that deployed it exits, until it is deleted: ``Predictor.attach(name)``
reconnects, and ``lodgepole endpoints list | delete NAME`` manage it.

With ``auth_token`` (or ``$LODGEPOLE_AUTH_TOKEN``) the server requires
``Authorization: Bearer <token>`` and the predictor sends it. The token
reaches the server process through its environment, never its command line,
and is not stored in the endpoint registry.

The client uses only :mod:`urllib`; the server needs Starlette and uvicorn.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import scipy.sparse as sp

from lodgepole.data._tabular import check_columns, column_names, numeric_table
from lodgepole.exceptions import ConfigError, DataFormatError, EndpointError
from lodgepole.formats.csv import encode_csv
from lodgepole.formats.record_pb2 import Record
from lodgepole.formats.recordio import encode_records, read_frames
from lodgepole.model import LinearModel
from lodgepole.serving import registry
from lodgepole.serving.app import check_auth_token
from lodgepole.state import state_dir

__all__ = ["EndpointError", "Predictor", "deploy"]

logger = logging.getLogger(__name__)

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
START_TIMEOUT_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 60.0
_LOG_TAIL_CHARS = 2000
AUTH_TOKEN_ENV = "LODGEPOLE_AUTH_TOKEN"


def _token(auth_token: str | None) -> str | None:
    """``auth_token``, else ``$LODGEPOLE_AUTH_TOKEN`` (stripped), else None."""
    if auth_token is None:
        auth_token = os.environ.get(AUTH_TOKEN_ENV, "").strip() or None
        source = AUTH_TOKEN_ENV
    else:
        source = "auth_token"
    if auth_token is None:
        return None
    try:
        return check_auth_token(auth_token, source)
    except ValueError as err:
        raise ConfigError(str(err)) from None


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
    endpoint_name
        The registered endpoint this predictor talks to, if any; only then
        does :meth:`delete_endpoint` stop a server.
    auth_token
        Bearer token sent as ``Authorization: Bearer <token>`` with every
        request; when None, ``$LODGEPOLE_AUTH_TOKEN`` if set, else none.

    Raises
    ------
    ConfigError
        If the token is empty or not printable ASCII.

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
        endpoint_name: str | None = None,
        auth_token: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.content_type = content_type
        self.accept = accept
        self.endpoint_name = endpoint_name
        self._auth_token = _token(auth_token)
        self._metadata: dict[str, Any] | None = None

    def _headers(self, headers: dict[str, str] | None = None) -> dict[str, str]:
        """``headers`` plus ``Authorization`` when the predictor has a token."""
        headers = dict(headers or {})
        if self._auth_token is not None:
            headers["Authorization"] = f"Bearer {self._auth_token}"
        return headers

    @classmethod
    def attach(
        cls,
        endpoint_name: str,
        *,
        content_type: str = RECORDIO,
        accept: str = RECORDIO,
        auth_token: str | None = None,
    ) -> Predictor:
        """Connect to a registered endpoint by name, from any process.

        The registry does not hold tokens: give ``auth_token`` (or set
        ``$LODGEPOLE_AUTH_TOKEN``) for an endpoint deployed with one.

        Raises
        ------
        EndpointError
            If no endpoint has that name.

        Examples
        --------
        >>> Predictor.attach("no-such-endpoint")
        Traceback (most recent call last):
        ...
        lodgepole.exceptions.EndpointError: no endpoint named 'no-such-endpoint'; ...
        """
        endpoint = registry.describe_endpoint(endpoint_name)
        return cls(
            endpoint.url,
            content_type=content_type,
            accept=accept,
            endpoint_name=endpoint.name,
            auth_token=auth_token,
        )

    def __repr__(self) -> str:
        if self.endpoint_name is not None:
            return f"Predictor({self.url!r}, endpoint_name={self.endpoint_name!r})"
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
            A numpy array (a 1-D array is one row), a scipy.sparse matrix, a
            pandas DataFrame or pyarrow Table (its columns checked against
            the endpoint model's feature names), or raw bytes already in
            ``content_type``.
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
            e.g. 400 for a malformed body, 401 for a missing or wrong
            token) or cannot be reached.
        DataFormatError
            If ``data`` cannot be encoded, or a table's columns are missing,
            unexpected or out of order.

        Examples
        --------
        >>> Predictor("http://127.0.0.1:1").predict(b"1,2", "text/csv")
        Traceback (most recent call last):
        ...
        lodgepole.exceptions.EndpointError: cannot reach ...
        """
        request_type = content_type or self.content_type
        names = column_names(data)
        if names is not None:
            expected = self.model_metadata().get("feature_names")
            check_columns(names, None if expected is None else tuple(expected), "data")
            data = numeric_table(data, "data")
        body = encode_request(data, request_type)
        request = urllib.request.Request(
            self.url + "/invocations",
            data=body,
            method="POST",
            headers=self._headers(
                {"Content-Type": request_type, "Accept": accept or self.accept}
            ),
        )
        payload, reply_type = self._send(request)
        return decode_response(payload, reply_type)

    def _send(self, request: urllib.request.Request | str) -> tuple[bytes, str]:
        """The body and content type of the answer; errors as EndpointError."""
        try:
            with urllib.request.urlopen(
                request, timeout=REQUEST_TIMEOUT_SECONDS
            ) as reply:
                return reply.read(), reply.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            message = _error_message(err)
            if err.code == 401:
                message = (
                    f"{message} The endpoint needs a bearer token: pass "
                    f"auth_token= or set ${AUTH_TOKEN_ENV}."
                    if self._auth_token is None
                    else f"{message} The endpoint refused this predictor's "
                    "bearer token."
                )
            raise EndpointError(err.code, message) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            data = getattr(request, "data", None)
            if isinstance(reason, BrokenPipeError | ConnectionResetError) and data:
                raise EndpointError(
                    None,
                    f"{self.url} closed the connection while the {len(data)}-byte "
                    "request body was being sent; it may be over the server's "
                    "body limit (6 MiB by default) or lack a bearer token.",
                ) from None
            raise EndpointError(None, f"cannot reach {self.url}: {reason}") from None

    def model_metadata(self) -> dict[str, Any]:
        """The endpoint's ``GET /model`` document (fetched once, then kept).

        Raises
        ------
        EndpointError
            If the endpoint cannot be reached or answers an error.
        """
        if self._metadata is None:
            request = urllib.request.Request(
                self.url + "/model", headers=self._headers()
            )
            payload, _ = self._send(request)
            self._metadata = json.loads(payload)
        return self._metadata

    def delete_endpoint(self) -> None:
        """Stop this predictor's endpoint and remove it from the registry.

        The server drains: it stops accepting connections, finishes the
        requests in flight and exits (killed after 10 s otherwise); the
        endpoint's directory (model copy, log) is removed. Calling it again,
        or on a predictor made from a bare URL, does nothing.

        Examples
        --------
        >>> Predictor("http://127.0.0.1:8080").delete_endpoint()
        """
        name, self.endpoint_name = self.endpoint_name, None
        if name is not None:
            registry.delete_endpoint(name, missing_ok=True)


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


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: os.PathLike[str]) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            return log.read()[-_LOG_TAIL_CHARS:]
    except OSError:
        return ""


def deploy(
    model: LinearModel,
    *,
    initial_instance_count: int = 1,
    endpoint_name: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    auth_token: str | None = None,
) -> Predictor:
    """Serve ``model`` from a new endpoint; return its predictor.

    The local counterpart of ``estimator.deploy`` (SPEC section 9.4). The
    server runs detached from this process and outlives it; it is stopped
    by :meth:`Predictor.delete_endpoint`, by
    :func:`lodgepole.serving.registry.delete_endpoint` or by
    ``lodgepole endpoints delete NAME``.

    Parameters
    ----------
    model
        The trained model.
    initial_instance_count
        Number of server worker processes.
    endpoint_name
        The endpoint's name (1-63 letters, digits and hyphens); a fresh
        ``lodgepole-<predictor-type>-<timestamp>`` when None. The server
        answers ``/endpoints/{name}/invocations`` for this name only.
    host
        Address to bind, loopback by default.
    port
        Port to bind; a free port when None.
    auth_token
        Bearer token the server requires on every route but ``GET /ping``
        and the returned predictor sends; when None,
        ``$LODGEPOLE_AUTH_TOKEN`` if set, else no authentication. It goes
        to the server through its environment and is not stored in the
        registry.

    Returns
    -------
    Predictor
        Connected to the server, with ``endpoint_name`` set; use it as a
        context manager to delete the endpoint on exit.

    Raises
    ------
    ConfigError
        If ``initial_instance_count`` is below 1, the name is not valid or
        the token is empty or not printable ASCII.
    EndpointError
        If a live endpoint already has the name, or the server does not
        answer ``GET /ping`` within 30 s (the message ends with the tail of
        the server's log).

    Examples
    --------
    >>> w, b = np.ones((2, 1)), np.zeros(1)
    >>> model = LinearModel("regressor", w, b, "identity")
    >>> with deploy(model) as predictor:
    ...     predictor.predict(np.array([1.0, 2.0]), accept="application/json")
    {'predictions': [{'score': 3.0}]}
    """
    if initial_instance_count < 1:
        raise ConfigError(
            f"initial_instance_count must be >= 1; got {initial_instance_count!r}."
        )
    token = _token(auth_token)
    predictor_type = model.predictor_type.value
    if endpoint_name is None:
        endpoint_name = registry.default_endpoint_name(predictor_type)
    name = registry.check_endpoint_name(endpoint_name)
    port = _free_port(host) if port is None else port
    directory = state_dir() / "endpoints" / name
    model_dir = directory / "model"
    registry.reserve(
        name,
        host=host,
        port=port,
        instance_count=initial_instance_count,
        predictor_type=predictor_type,
        model_path=model_dir,
        directory=directory,
    )
    predictor = Predictor(f"http://{host}:{port}", endpoint_name=name, auth_token=token)
    log_path = directory / "server.log"
    try:
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        model.save(model_dir)
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
            "--endpoint-name",
            name,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop(AUTH_TOKEN_ENV, None)
        if token is not None:
            env[AUTH_TOKEN_ENV] = token
        pid = registry.launch(command, log_path, env)
        registry.set_pid(name, pid)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not registry.ping(predictor.url):
            if not registry.server_alive(pid, port) or time.monotonic() > deadline:
                raise EndpointError(
                    None,
                    f"the server of endpoint {name!r} on {predictor.url} did not "
                    f"start; its log ends with:\n{_tail(log_path)}",
                )
            time.sleep(0.05)
    except BaseException:
        predictor.delete_endpoint()
        raise
    logger.info(
        "endpoint in service name=%s url=%s pid=%d workers=%d",
        name,
        predictor.url,
        pid,
        initial_instance_count,
    )
    return predictor
