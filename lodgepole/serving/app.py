"""ASGI factory: a SageMaker-compatible inference endpoint for one model.

Routes (SPEC sections 6, 7.2 and 7.3):

- ``GET /ping``: 200 with an empty body.
- ``POST /invocations`` and ``POST /endpoints/{endpoint_name}/invocations``:
  score the records in the body. The request ``Content-Type`` picks the
  decoder, the ``Accept`` header the encoder.
- ``GET /execution-parameters``: the batch-transform settings.
- ``GET /model``: metadata of the served model.
- ``GET /openapi.json``: an OpenAPI 3.0 description of these routes.
- ``GET /metrics``: Prometheus text exposition of request counters.

Responses may be ``application/json``, ``application/jsonlines``,
``application/x-recordio-protobuf`` or ``text/csv``. A ``text/csv`` reply
has one line per input row, numbers printed as in the JSON reply (float32
values as shortest round-trip doubles):

- binary classifier: ``<predicted_label>,<score>``
- multiclass classifier: ``<predicted_label>,<score_0>,...,<score_K-1>``
- multilabel classifier: ``<label_0>,...,<label_K-1>,<score_0>,...,<score_K-1>``
- regressor: ``<score>``

A multiclass request may ask for its ``top_k`` best classes, as the query
parameter ``?top_k=N`` or ``top_k=N`` in the ``X-Amzn-SageMaker-Custom-
Attributes`` header; JSON and JSON Lines replies then carry ``top_k_labels``
and ``top_k_scores`` per record.

Client errors are answered with a JSON body ``{"error": "..."}`` whose
message is cut to a bounded length, so no request echoes much of its input.

Access and limits: with an ``auth_token`` every route but ``GET /ping``
needs ``Authorization: Bearer <token>`` (else 401, before the body is
read); bodies over ``max_body_bytes`` get 413; a body not received within
``request_timeout`` seconds gets 408, and scoring that takes longer than
``request_timeout`` gets 503.

The app's parts live in private modules: ``_protocol`` (media types and
limits), ``_guard`` (bearer-token middleware, bounded error replies),
``_metrics`` (Prometheus counters) and ``_openapi`` (the document).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from lodgepole._types import PredictorType
from lodgepole.exceptions import DataFormatError
from lodgepole.formats.csv import decode_csv, encode_predictions_csv
from lodgepole.formats.json import (
    decode_json_instances,
    decode_jsonlines_instances,
    encode_predictions_json,
    encode_predictions_jsonlines,
    encode_predictions_top_k,
)
from lodgepole.formats.recordio import decode_records, encode_prediction_records
from lodgepole.model import LinearModel, Prediction

try:
    import anyio
    import anyio.to_thread
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "lodgepole.serving needs Starlette; install it with `pip install starlette`."
    ) from err

from lodgepole.serving._guard import (
    BearerAuthMiddleware,
    check_auth_token,
    error_reply,
    quote,
)
from lodgepole.serving._metrics import Metrics, MetricsMiddleware
from lodgepole.serving._openapi import openapi_document
from lodgepole.serving._protocol import (
    CSV,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
    ENDPOINT_NAME_PATTERN,
    JSON,
    JSONLINES,
    METRICS_TYPE,
    RECORDIO,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    VARIANT_HEADER,
    VARIANT_NAME,
)

__all__ = [
    "CSV",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_REQUEST_TIMEOUT",
    "JSON",
    "JSONLINES",
    "RECORDIO",
    "REQUEST_TYPES",
    "RESPONSE_TYPES",
    "check_auth_token",
    "choose_response_type",
    "create_app",
    "model_metadata",
    "openapi_document",
]

logger = logging.getLogger(__name__)

# Bodies up to this size are parsed and scored on the event loop; a thread
# hop costs more than the work for them.
_INLINE_BODY_BYTES = 32 * 1024
# Scoring jobs still running in threads (including ones whose request timed
# out) beyond which new large requests get 503 rather than another thread.
_MAX_SCORING_THREADS = 40


class _HTTPError(Exception):
    """A client error to answer with ``status`` and ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- content negotiation -----------------------------------------------------


def _media_type(header: str) -> str:
    """Lower-cased ``type/subtype`` of a header value, without parameters."""
    return header.split(";", 1)[0].strip().lower()


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def choose_response_type(accept: str | None) -> str | None:
    """Pick the response content type for an ``Accept`` header (SPEC §6.3).

    Parameters
    ----------
    accept
        The header value, or None when the request has none.

    Returns
    -------
    str or None
        ``application/json`` for an absent, empty or wildcard header; else
        the supported type the client prefers most (highest q-value, then
        order of listing); None when nothing listed is supported.

    Examples
    --------
    >>> choose_response_type(None)
    'application/json'
    >>> choose_response_type("text/html;q=1, application/jsonlines;q=0.5")
    'application/jsonlines'
    >>> choose_response_type("text/csv")
    'text/csv'
    >>> choose_response_type("text/html") is None
    True
    """
    if accept is None or not accept.strip():
        return JSON
    ranked = []
    for position, part in enumerate(accept.split(",")):
        media, *params = part.split(";")
        q = _quality(params)
        if q > 0.0:
            ranked.append((-q, position, media.strip().lower()))
    for _, _, media in sorted(ranked):
        if media in ("*/*", "application/*"):
            return JSON
        if media in RESPONSE_TYPES:
            return media
    return None


# --- decoding and encoding ---------------------------------------------------


def _decode(content_type: str, body: bytes, source: str) -> Any:
    """Features of the request body; DataFormatError when malformed."""
    if content_type == CSV:
        return decode_csv(body, has_labels=False, source=source)[0]
    if content_type == RECORDIO:
        return decode_records(body, source=source)[0]
    if content_type == JSONLINES:
        return decode_jsonlines_instances(body, source=source)
    return decode_json_instances(body, source=source)


def _encode(response_type: str, prediction: Prediction) -> bytes:
    score, label = prediction.score, prediction.predicted_label
    if response_type == CSV:
        return encode_predictions_csv(score, label)
    if response_type == RECORDIO:
        return encode_prediction_records(score, label)
    if response_type == JSONLINES:
        return encode_predictions_jsonlines(score, label)
    return encode_predictions_json(score, label)


#: ``top_k=N`` in the SageMaker custom-attributes header (``k=v`` pairs).
_TOP_K_ATTRIBUTE = re.compile(r"(?:^|[,;]\s*)top_k\s*=\s*([^,;\s]*)")


def _top_k(request: Request, model: LinearModel, response_type: str) -> int | None:
    """The ``top_k`` a request asks for (query parameter or custom attribute).

    Raises _HTTPError 400 when it is not an integer in ``[1, num_classes]``,
    the model is not multiclass, or the response type cannot carry it.
    """
    text = request.query_params.get("top_k")
    if text is None:
        header = request.headers.get("x-amzn-sagemaker-custom-attributes", "")
        match = _TOP_K_ATTRIBUTE.search(header)
        text = None if match is None else match.group(1)
    if text is None:
        return None
    if model.predictor_type is not PredictorType.MULTICLASS:
        raise _HTTPError(
            400,
            "top_k applies to multiclass_classifier models only; this model "
            f"is a {model.predictor_type.value}.",
        )
    # The length check keeps int() away from huge digit strings, which
    # Python refuses (over 4300 digits) and which cost quadratic time.
    if (
        not (text.isascii() and text.isdigit())
        or len(text) > 9
        or not 1 <= int(text) <= model.num_classes
    ):
        raise _HTTPError(
            400,
            f"top_k must be an integer in [1, {model.num_classes}]; got {quote(text)}.",
        )
    if response_type not in (JSON, JSONLINES):
        raise _HTTPError(
            400,
            f"top_k needs an {JSON} or {JSONLINES} response; the request "
            f"accepts {response_type}.",
        )
    return int(text)


def _score(
    model: LinearModel,
    content_type: str,
    response_type: str,
    body: bytes,
    top_k: int | None = None,
) -> tuple[bytes, int]:
    """Decode, predict and encode one request: (body, rows scored)."""
    features = _decode(content_type, body, source="request body")
    if features.shape[0] == 0:
        raise DataFormatError("the request body holds no records; expected >= 1.")

    prediction = model.predict(features)
    if top_k is not None:
        lines = response_type == JSONLINES
        data = encode_predictions_top_k(
            prediction.score, prediction.predicted_label, top_k, lines=lines
        )
        return data, int(features.shape[0])
    logger.debug(
        "request scored rows=%d content_type=%s accept=%s",
        features.shape[0],
        content_type,
        response_type,
    )
    return _encode(response_type, prediction), int(features.shape[0])


# --- request handling --------------------------------------------------------


async def _read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request body; 413 as soon as it is known to exceed ``limit``, 408
    when it has not all arrived within ``timeout`` seconds."""
    declared = request.headers.get("content-length")
    if declared is not None:
        declared = declared.strip()
        if not (declared.isascii() and declared.isdigit()):
            raise _HTTPError(400, "Content-Length must be a non-negative integer.")
        if len(declared) > 18 or int(declared) > limit:
            raise _HTTPError(413, f"request body over the limit of {limit} bytes.")
    chunks = []
    size = 0
    with anyio.move_on_after(timeout) as scope:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _HTTPError(413, f"request body over the limit of {limit} bytes.")
            chunks.append(chunk)
    if scope.cancelled_caught:
        raise _HTTPError(
            408,
            f"request body not received within the time limit of {timeout:g} s "
            f"({size} bytes arrived); send it faster or in a smaller request.",
        )
    return b"".join(chunks)


def _negotiate(request: Request) -> tuple[str, str]:
    """Request and response content types, or 415 / 406."""
    content_type = _media_type(request.headers.get("content-type", ""))
    if content_type not in REQUEST_TYPES:
        raise _HTTPError(
            415,
            f"unsupported Content-Type {quote(content_type)}; expected one of "
            f"{', '.join(REQUEST_TYPES)}.",
        )
    response_type = choose_response_type(request.headers.get("accept"))
    if response_type is None:
        raise _HTTPError(
            406,
            f"no supported type in Accept {quote(request.headers['accept'])}; "
            f"expected one of {', '.join(RESPONSE_TYPES)} or */*.",
        )
    return content_type, response_type


class _ScoringThreads:
    """Counts scoring jobs running in threads, abandoned ones included."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.running >= self.limit:
                return False
            self.running += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.running -= 1


async def _score_in_thread(
    threads: _ScoringThreads,
    timeout: float,
    model: LinearModel,
    content_type: str,
    response_type: str,
    body: bytes,
    top_k: int | None,
) -> tuple[bytes, int]:
    """:func:`_score` in a worker thread; 503 when it takes over ``timeout``.

    A thread cannot be interrupted: on timeout the request stops waiting and
    the job runs on, its result discarded; it still counts against the
    limit of running scoring threads until it ends.
    """
    if not threads.acquire():
        raise _HTTPError(
            503,
            f"server busy: {threads.limit} scoring jobs are still running; "
            "retry later.",
        )

    # A job abandoned before a worker thread picked it up never runs (anyio
    # drops it), so its slot is given back here; once it runs, the job
    # gives it back itself when it ends.
    state = {"phase": "queued"}
    lock = threading.Lock()

    def job() -> tuple[bytes, int] | None:
        with lock:
            if state["phase"] == "abandoned":
                return None
            state["phase"] = "running"
        try:
            return _score(model, content_type, response_type, body, top_k)
        finally:
            threads.release()

    result: tuple[bytes, int] | None = None
    with anyio.move_on_after(timeout):
        result = await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
    if result is None:
        with lock:
            if state["phase"] == "queued":
                state["phase"] = "abandoned"
                threads.release()
        logger.warning(
            "scoring over the time limit seconds=%g bytes=%d", timeout, len(body)
        )
        raise _HTTPError(
            503,
            f"scoring did not finish within the time limit of {timeout:g} s; "
            "send fewer records per request.",
        )
    return result


async def _invoke(
    model: LinearModel,
    request: Request,
    max_body_bytes: int,
    metrics: Metrics,
    request_timeout: float,
    threads: _ScoringThreads,
) -> Response:
    try:
        content_type, response_type = _negotiate(request)
        top_k = _top_k(request, model, response_type)
        body = await _read_body(request, max_body_bytes, request_timeout)
        if len(body) > _INLINE_BODY_BYTES:
            data, rows = await _score_in_thread(
                threads,
                request_timeout,
                model,
                content_type,
                response_type,
                body,
                top_k,
            )
        else:
            data, rows = _score(model, content_type, response_type, body, top_k)
    except _HTTPError as err:
        # A slow client's connection is closed. After a 401 or 413 the server
        # discards the rest of the body unread, so the client gets the answer.
        # the connection rather than read it.
        close = {"Connection": "close"} if err.status == 408 else None
        return error_reply(err.status, err.message, close)
    except DataFormatError as err:
        return error_reply(400, str(err))
    except Exception:
        logger.exception("request failed path=%s", request.url.path)
        return error_reply(500, "internal error while scoring the request.")
    metrics.add_rows(rows)
    return Response(data, media_type=response_type)


def _jsonable(value: Any) -> Any:
    """Plain JSON types from the model's read-only mappings and tuples."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def model_metadata(model: LinearModel) -> dict[str, Any]:
    """Describe ``model`` as the ``GET /model`` route does.

    Parameters
    ----------
    model
        The served model.

    Returns
    -------
    dict
        ``predictor_type``, ``feature_dim``, ``num_classes``,
        ``label_names``, ``feature_names`` (None when the model was trained
        on unnamed columns), ``hyperparameters`` and ``metrics``, JSON-able.

    Examples
    --------
    >>> model = LinearModel(
    ...     predictor_type="regressor",
    ...     weights=np.ones((3, 1)),
    ...     bias=np.zeros(1),
    ...     link="identity",
    ... )
    >>> meta = model_metadata(model)
    >>> meta["predictor_type"], meta["feature_dim"], meta["num_classes"]
    ('regressor', 3, 1)
    """
    return {
        "predictor_type": str(model.predictor_type.value),
        "feature_dim": model.feature_dim,
        "num_classes": model.num_classes,
        "label_names": _jsonable(model.label_names),
        "feature_names": _jsonable(model.feature_names),
        "hyperparameters": _jsonable(model.hyperparameters),
        "metrics": _jsonable(model.metrics),
    }


def create_app(
    model: LinearModel,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    endpoint_name: str | None = None,
    auth_token: str | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> Starlette:
    """Build the ASGI application that serves ``model``.

    Parameters
    ----------
    model
        The trained model to serve.
    max_body_bytes
        Largest request body accepted; larger ones get 413. The default is
        the 6 MiB limit of ``InvokeEndpoint``.
    endpoint_name
        When set, ``POST /endpoints/{name}/invocations`` answers 404 for any
        other name; when None every valid name is accepted.
    auth_token
        When set, every route except ``GET /ping`` answers 401 (with a
        ``WWW-Authenticate: Bearer`` header, before reading the body) unless
        the request carries ``Authorization: Bearer <auth_token>``. None
        (the default) serves everyone.
    request_timeout
        Seconds allowed to receive a request body (else 408) and, for
        bodies over 32 KiB, to score it (else 503; the scoring thread runs
        on, its result discarded). Default 60.

    Returns
    -------
    starlette.applications.Starlette
        The application; run it with any ASGI server (uvicorn, hypercorn).

    Raises
    ------
    ValueError
        If ``max_body_bytes`` or ``request_timeout`` is not positive,
        ``endpoint_name`` is not a valid endpoint name, or ``auth_token`` is
        empty or not printable ASCII.

    Notes
    -----
    Bodies over 32 KiB are decoded and scored in Starlette's thread pool, so
    a large request does not stall ``/ping``; the whole body is held in
    memory (at most ``max_body_bytes``).

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> model = LinearModel(
    ...     predictor_type="binary_classifier",
    ...     weights=np.array([[2.0], [-1.0]]),
    ...     bias=np.array([0.5]),
    ...     link="sigmoid",
    ... )
    >>> client = TestClient(create_app(model))
    >>> client.get("/ping").status_code
    200
    >>> reply = client.post(
    ...     "/invocations",
    ...     content=b"1,0\\n0,3\\n",
    ...     headers={"Content-Type": "text/csv", "Accept": RECORDIO},
    ... )
    >>> reply.status_code, reply.headers["content-type"]
    (200, 'application/x-recordio-protobuf')
    """
    if max_body_bytes <= 0:
        raise ValueError(f"max_body_bytes must be > 0; got {max_body_bytes!r}.")
    if not (
        isinstance(request_timeout, int | float) and 0 < request_timeout < math.inf
    ):
        raise ValueError(
            f"request_timeout must be a positive number of seconds; got "
            f"{request_timeout!r}."
        )
    if auth_token is not None:
        check_auth_token(auth_token, "auth_token")
    if endpoint_name is not None and not ENDPOINT_NAME_PATTERN.match(endpoint_name):
        raise ValueError(
            f"endpoint_name {endpoint_name!r} is not a valid endpoint name; use up "
            "to 63 letters, digits and inner hyphens."
        )

    async def ping(request: Request) -> Response:
        return Response(b"", status_code=200)

    metadata = model_metadata(model)
    metrics = Metrics(
        {
            "predictor_type": metadata["predictor_type"],
            "feature_dim": model.feature_dim,
            "num_classes": model.num_classes,
        }
    )

    threads = _ScoringThreads(_MAX_SCORING_THREADS)
    invoke = functools.partial(
        _invoke,
        model,
        max_body_bytes=max_body_bytes,
        metrics=metrics,
        request_timeout=float(request_timeout),
        threads=threads,
    )

    async def invocations(request: Request) -> Response:
        return await invoke(request)

    async def runtime_invocations(request: Request) -> Response:
        name = request.path_params["endpoint_name"]
        if endpoint_name is not None and name != endpoint_name:
            response: Response = error_reply(
                404,
                f"endpoint {quote(name)} not found; this server serves "
                f"{endpoint_name!r}.",
            )
        else:
            response = await invoke(request)
        response.headers[VARIANT_HEADER] = VARIANT_NAME
        return response

    async def execution_parameters(request: Request) -> Response:
        return JSONResponse(
            {
                "MaxConcurrentTransforms": 1,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": max(1, max_body_bytes // (1024 * 1024)),
            }
        )

    async def model_route(request: Request) -> Response:
        return JSONResponse(metadata)

    openapi = openapi_document()

    async def openapi_route(request: Request) -> Response:
        return JSONResponse(openapi)

    async def metrics_route(request: Request) -> Response:
        return Response(metrics.render(), media_type=METRICS_TYPE)

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route(
            "/endpoints/{endpoint_name}/invocations",
            runtime_invocations,
            methods=["POST"],
        ),
        Route("/execution-parameters", execution_parameters, methods=["GET"]),
        Route("/model", model_route, methods=["GET"]),
        Route("/openapi.json", openapi_route, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ]
    logger.info(
        "app created predictor_type=%s feature_dim=%d max_body_bytes=%d "
        "request_timeout=%g auth=%s",
        metadata["predictor_type"],
        model.feature_dim,
        max_body_bytes,
        request_timeout,
        "bearer" if auth_token is not None else "none",
    )
    app = Starlette(routes=routes)
    if auth_token is not None:
        app.add_middleware(
            BearerAuthMiddleware,
            token=auth_token,
            max_body_bytes=max_body_bytes,
            timeout=float(request_timeout),
        )
    # Added last, so outermost: refused requests are counted too.
    app.add_middleware(MetricsMiddleware, routes=routes, metrics=metrics)
    return app
