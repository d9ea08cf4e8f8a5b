"""Run the inference endpoint under uvicorn (SPEC section 7.2).

:func:`serve` loads a saved model and serves it with uvicorn on
``host:port``. With ``workers > 1`` uvicorn starts that many worker
processes; each builds its application with :func:`app_from_environment`,
which reads the model path from the ``LODGEPOLE_MODEL_PATH`` environment
variable. uvicorn handles SIGTERM and SIGINT: it stops accepting
connections, finishes the requests in flight and exits.

Access and limits come from the arguments of :func:`serve` or else from the
environment: ``LODGEPOLE_AUTH_TOKEN`` (bearer token; unset means no
authentication), ``LODGEPOLE_MAX_BODY_BYTES`` (default 6 MiB) and
``LODGEPOLE_REQUEST_TIMEOUT`` (seconds, default 60). Worker processes get
them through the environment, never the command line, so the token does not
show in ``ps``.

uvicorn is an optional dependency: ``pip install uvicorn``.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lodgepole.exceptions import ConfigError
from lodgepole.model import LinearModel
from lodgepole.serving._http import MAX_HEAD_BYTES, bounded_protocol
from lodgepole.serving.app import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
    check_auth_token,
    create_app,
)

__all__ = [
    "app_from_environment",
    "auth_token_from_environment",
    "container_model_path",
    "default_port",
    "serve",
]

logger = logging.getLogger(__name__)

MODEL_PATH_ENV = "LODGEPOLE_MODEL_PATH"
ENDPOINT_NAME_ENV = "LODGEPOLE_ENDPOINT_NAME"
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
DEFAULT_PORT = 8080
AUTH_TOKEN_ENV = "LODGEPOLE_AUTH_TOKEN"
MAX_BODY_BYTES_ENV = "LODGEPOLE_MAX_BODY_BYTES"
REQUEST_TIMEOUT_ENV = "LODGEPOLE_REQUEST_TIMEOUT"
#: Seconds an idle keep-alive connection stays open (uvicorn's default).
KEEP_ALIVE_SECONDS = 5
#: Largest request line plus headers accepted (431 beyond; see _http.py).
MAX_HEADER_BYTES = MAX_HEAD_BYTES
#: The container root (``/opt/ml`` in SageMaker); ``<root>/model`` holds the model.
ML_ROOT_ENV = "LODGEPOLE_ML_ROOT"
DEFAULT_ML_ROOT = "/opt/ml"
#: SageMaker's own name for the model directory; wins over the root when set.
MODEL_DIR_ENV = "SM_MODEL_DIR"


def container_model_path(
    root: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
) -> str:
    """Where a container-style server finds its model (SPEC section 7.2).

    The model directory is ``$SM_MODEL_DIR`` if set, else ``<root>/model``,
    with ``root`` from the argument, ``$LODGEPOLE_ML_ROOT`` or ``/opt/ml``.
    It holds either the extracted model (``model.json`` and
    ``weights.npz``, as SageMaker extracts ``model.tar.gz`` there) or one
    ``.tar.gz`` archive written by :meth:`LinearModel.save`.

    Parameters
    ----------
    root
        The container root; overrides the environment.
    environ
        The environment to read; ``os.environ`` when None.

    Returns
    -------
    str
        A path :meth:`LinearModel.load` accepts.

    Raises
    ------
    FileNotFoundError
        If the directory does not exist or holds no model, or holds several
        archives; the message names the directory.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> model = LinearModel("regressor", np.ones((2, 1)), np.zeros(1), "identity")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = model.save(tmp + "/model")
    ...     container_model_path(tmp) == tmp + "/model"
    True
    """
    env = os.environ if environ is None else environ
    if root is None and env.get(MODEL_DIR_ENV):
        folder = env[MODEL_DIR_ENV]
    else:
        base = os.fspath(root) if root is not None else env.get(ML_ROOT_ENV)
        folder = os.path.join(base or DEFAULT_ML_ROOT, "model")
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            2, f"no model directory {folder!r} (set --ml-root or give MODEL)", folder
        )
    if os.path.isfile(os.path.join(folder, "model.json")):
        return folder
    archives = sorted(n for n in os.listdir(folder) if n.endswith(".tar.gz"))
    if len(archives) == 1:
        return os.path.join(folder, archives[0])
    found = "no model.json or .tar.gz" if not archives else f"{len(archives)} archives"
    raise FileNotFoundError(
        2,
        f"model directory {folder!r} holds {found}; expected model.json and "
        "weights.npz, or one model .tar.gz",
        folder,
    )


def default_port(environ: dict[str, str] | None = None) -> int:
    """The port to listen on: ``SAGEMAKER_BIND_TO_PORT`` if set, else 8080.

    Parameters
    ----------
    environ
        The environment to read; ``os.environ`` when None.

    Returns
    -------
    int
        The port number.

    Raises
    ------
    ConfigError
        If the variable is set but is not an integer in 1..65535.

    Examples
    --------
    >>> default_port({})
    8080
    >>> default_port({"SAGEMAKER_BIND_TO_PORT": "9000"})
    9000
    """
    env = os.environ if environ is None else environ
    text = env.get(PORT_ENV, "").strip()
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"{PORT_ENV}={text[:20]!r} is not a port number 1..65535.")
    return int(text)


def auth_token_from_environment(environ: dict[str, str] | None = None) -> str | None:
    """The bearer token in ``LODGEPOLE_AUTH_TOKEN``, stripped; None if unset.

    Raises
    ------
    ConfigError
        If the variable is set but empty or not a valid bearer token (the
        message does not quote it).

    Examples
    --------
    >>> auth_token_from_environment({}) is None
    True
    >>> auth_token_from_environment({"LODGEPOLE_AUTH_TOKEN": " abc123\\n"})
    'abc123'
    """
    env = os.environ if environ is None else environ
    if AUTH_TOKEN_ENV not in env:
        return None
    try:
        return check_auth_token(env[AUTH_TOKEN_ENV].strip(), AUTH_TOKEN_ENV)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _limits_from_environment(
    environ: dict[str, str] | None = None,
) -> tuple[int, float]:
    """``(max_body_bytes, request_timeout)`` from the environment or defaults."""
    env = os.environ if environ is None else environ
    body_text = env.get(MAX_BODY_BYTES_ENV, "").strip()
    max_body_bytes = DEFAULT_MAX_BODY_BYTES
    if body_text:
        if not (body_text.isascii() and body_text.isdigit()) or int(body_text) < 1:
            raise ConfigError(
                f"{MAX_BODY_BYTES_ENV}={body_text[:20]!r} is not a positive "
                "number of bytes."
            )
        max_body_bytes = int(body_text)
    timeout_text = env.get(REQUEST_TIMEOUT_ENV, "").strip()
    request_timeout = DEFAULT_REQUEST_TIMEOUT
    if timeout_text:
        try:
            request_timeout = float(timeout_text)
        except ValueError:
            request_timeout = -1.0
        if not 0 < request_timeout < float("inf"):
            raise ConfigError(
                f"{REQUEST_TIMEOUT_ENV}={timeout_text[:20]!r} is not a positive "
                "number of seconds."
            )
    return max_body_bytes, request_timeout


def app_from_environment() -> Any:
    """Build the application for the model named by ``LODGEPOLE_MODEL_PATH``.

    This is the app factory each uvicorn worker process calls. The optional
    ``LODGEPOLE_ENDPOINT_NAME`` variable restricts the runtime route to
    one endpoint name; ``LODGEPOLE_AUTH_TOKEN``,
    ``LODGEPOLE_MAX_BODY_BYTES`` and ``LODGEPOLE_REQUEST_TIMEOUT`` set the
    access and limits.

    Returns
    -------
    starlette.applications.Starlette
        The application serving the loaded model.

    Raises
    ------
    ConfigError
        If ``LODGEPOLE_MODEL_PATH`` is not set, or a limit or the token is
        invalid.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> model = LinearModel("regressor", np.ones((2, 1)), np.zeros(1), "identity")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with _environment({MODEL_PATH_ENV: str(model.save(tmp + "/m"))}):
    ...         app = app_from_environment()
    >>> type(app).__name__
    'Starlette'
    """
    path = os.environ.get(MODEL_PATH_ENV)
    if not path:
        raise ConfigError(f"{MODEL_PATH_ENV} must name a saved model to serve.")
    model = LinearModel.load(path)
    name = os.environ.get(ENDPOINT_NAME_ENV) or None
    max_body_bytes, request_timeout = _limits_from_environment()
    logger.info("model loaded path=%s pid=%d", path, os.getpid())
    app = create_app(
        model,
        endpoint_name=name,
        auth_token=auth_token_from_environment(),
        max_body_bytes=max_body_bytes,
        request_timeout=request_timeout,
    )
    _freeze_startup_objects()
    return app


def _freeze_startup_objects() -> None:
    """Move every object alive after start-up out of the garbage collector's view.

    The modules, the model and the app live as long as the server; without
    this each full collection walks all of them (numpy, scipy, protobuf ...)
    and stalls a request for milliseconds.
    """
    gc.collect()
    gc.freeze()


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a ``with`` block."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def serve(
    model_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    endpoint_name: str | None = None,
    access_log: bool = False,
    auth_token: str | None = None,
    max_body_bytes: int | None = None,
    request_timeout: float | None = None,
) -> None:
    """Serve a saved model over HTTP until the process is told to stop.

    Parameters
    ----------
    model_path
        A model directory or ``.tar.gz`` written by
        :meth:`~lodgepole.model.LinearModel.save`.
    host
        The address to bind; the loopback interface by default.
    port
        The port to bind; when None, ``SAGEMAKER_BIND_TO_PORT`` if set,
        else 8080.
    workers
        Number of uvicorn worker processes; each loads its own copy of
        the model.
    endpoint_name
        When set, ``/endpoints/{name}/invocations`` answers only this name.
    access_log
        Log one line per request (uvicorn's access log). Off by default: at
        hundreds of requests per second it costs about 7% of the server's
        time; ``/metrics`` counts requests either way.
    auth_token
        Bearer token every route but ``GET /ping`` requires; when None,
        ``$LODGEPOLE_AUTH_TOKEN`` if set, else no authentication.
    max_body_bytes
        Largest request body (413 above it); when None,
        ``$LODGEPOLE_MAX_BODY_BYTES`` if set, else 6 MiB.
    request_timeout
        Seconds to receive a body (408 after) and to score it (503 after);
        when None, ``$LODGEPOLE_REQUEST_TIMEOUT`` if set, else 60.

    Raises
    ------
    ConfigError
        If ``workers`` is below 1, the port is invalid, or a limit or the
        token is invalid.
    FileNotFoundError, ModelFormatError
        If the model cannot be loaded; checked before binding the port.
    ImportError
        If uvicorn is not installed.

    Notes
    -----
    Blocks until SIGTERM or SIGINT; uvicorn then shuts down gracefully.
    Logging goes through uvicorn's logging configuration (to stderr); the
    token is never logged. Idle keep-alive connections close after 5 s. A
    request line and headers over 64 KiB get 431, and ones not received
    within 10 s (``$LODGEPOLE_HEAD_TIMEOUT``) get 408 (see
    :mod:`lodgepole.serving._http`; with h11 instead of httptools only the
    size is bounded).

    Examples
    --------
    >>> serve("no-such-model")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    FileNotFoundError: no-such-model
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1; got {workers!r}.")
    port = default_port() if port is None else port
    if not 0 <= port <= 65535:
        raise ConfigError(f"port must be in 0..65535; got {port!r}.")
    env_body, env_timeout = _limits_from_environment()
    max_body_bytes = env_body if max_body_bytes is None else max_body_bytes
    request_timeout = env_timeout if request_timeout is None else request_timeout
    if auth_token is None:
        auth_token = auth_token_from_environment()
    else:
        try:
            check_auth_token(auth_token, "auth_token")
        except ValueError as err:
            raise ConfigError(str(err)) from None
    path = os.fspath(model_path)
    model = LinearModel.load(path)  # fail fast, before binding the port
    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lodgepole serve needs uvicorn; install it with `pip install uvicorn`."
        ) from err
    logger.info(
        "serving path=%s host=%s port=%d workers=%d auth=%s max_body_bytes=%d "
        "request_timeout=%g",
        path,
        host,
        port,
        workers,
        "bearer" if auth_token is not None else "none",
        max_body_bytes,
        request_timeout,
    )
    try:
        app = create_app(
            model,
            endpoint_name=endpoint_name,
            auth_token=auth_token,
            max_body_bytes=max_body_bytes,
            request_timeout=request_timeout,
        )
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if workers == 1:
        _freeze_startup_objects()
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=access_log,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            http=bounded_protocol() or "auto",
        )
        return
    del app  # each worker builds its own from the environment
    env = {
        MODEL_PATH_ENV: os.path.abspath(path),
        ENDPOINT_NAME_ENV: endpoint_name or "",
        MAX_BODY_BYTES_ENV: str(max_body_bytes),
        REQUEST_TIMEOUT_ENV: repr(float(request_timeout)),
    }
    if auth_token is not None:  # else the variable is unset already
        env[AUTH_TOKEN_ENV] = auth_token
    with _environment(env):
        _run_workers(host, port, workers, access_log)


def _run_workers(host: str, port: int, workers: int, access_log: bool) -> None:
    """Run ``workers`` uvicorn worker processes under a draining supervisor.

    uvicorn's supervisor keeps its copy of the listening socket open until
    its workers have exited, so during a graceful shutdown the kernel kept
    completing handshakes that nobody would serve. This supervisor closes
    its copy first; each worker closes its own as it starts draining, so
    new connections are refused while requests in flight finish.
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    class DrainingMultiprocess(Multiprocess):  # type: ignore[misc]
        def _stop_listening(self) -> None:
            self.should_exit.set()
            for sock in self.sockets:
                sock.close()

        def handle_term(self) -> None:
            logger.info("SIGTERM: closing the listening socket and draining")
            self._stop_listening()

        def handle_int(self) -> None:
            logger.info("SIGINT: closing the listening socket and draining")
            self._stop_listening()

    config = uvicorn.Config(
        f"{__name__}:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        http=bounded_protocol() or "auto",
    )
    sock = config.bind_socket()
    try:
        DrainingMultiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
