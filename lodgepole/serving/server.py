"""Run the inference endpoint under uvicorn (SPEC section 7.2).

:func:`serve` loads a saved model and serves it with uvicorn on
``host:port``. With ``workers > 1`` uvicorn starts that many worker
processes; each builds its application with :func:`app_from_environment`,
which reads the model path from the ``LODGEPOLE_MODEL_PATH`` environment
variable. uvicorn handles SIGTERM and SIGINT: it stops accepting
connections, finishes the requests in flight and exits.

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
from lodgepole.serving.app import create_app

__all__ = ["app_from_environment", "container_model_path", "default_port", "serve"]

logger = logging.getLogger(__name__)

MODEL_PATH_ENV = "LODGEPOLE_MODEL_PATH"
ENDPOINT_NAME_ENV = "LODGEPOLE_ENDPOINT_NAME"
PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
DEFAULT_PORT = 8080
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


def app_from_environment() -> Any:
    """Build the application for the model named by ``LODGEPOLE_MODEL_PATH``.

    This is the app factory each uvicorn worker process calls. The optional
    ``LODGEPOLE_ENDPOINT_NAME`` variable restricts the runtime route to
    one endpoint name.

    Returns
    -------
    starlette.applications.Starlette
        The application serving the loaded model.

    Raises
    ------
    ConfigError
        If ``LODGEPOLE_MODEL_PATH`` is not set.

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
    logger.info("model loaded path=%s pid=%d", path, os.getpid())
    app = create_app(model, endpoint_name=name)
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

    Raises
    ------
    ConfigError
        If ``workers`` is below 1 or the port is invalid.
    FileNotFoundError, ModelFormatError
        If the model cannot be loaded; checked before binding the port.
    ImportError
        If uvicorn is not installed.

    Notes
    -----
    Blocks until SIGTERM or SIGINT; uvicorn then shuts down gracefully.
    Logging goes through uvicorn's logging configuration (to stderr).

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
    path = os.fspath(model_path)
    model = LinearModel.load(path)  # fail fast, before binding the port
    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "lodgepole serve needs uvicorn; install it with `pip install uvicorn`."
        ) from err
    logger.info("serving path=%s host=%s port=%d workers=%d", path, host, port, workers)
    if workers == 1:
        app = create_app(model, endpoint_name=endpoint_name)
        _freeze_startup_objects()
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=access_log,
        )
        return
    create_app(model, endpoint_name=endpoint_name)  # validates endpoint_name
    env = {
        MODEL_PATH_ENV: os.path.abspath(path),
        ENDPOINT_NAME_ENV: endpoint_name or "",
    }
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
    )
    sock = config.bind_socket()
    try:
        DrainingMultiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
