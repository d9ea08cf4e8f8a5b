"""ASGI factory: a SageMaker-compatible inference endpoint for one model.

Routes (SPEC sections 6, 7.2 and 7.3):

- ``GET /ping``: 200 with an empty body.
- ``POST /invocations`` and ``POST /endpoints/{endpoint_name}/invocations``:
  score the records in the body. The request ``Content-Type`` picks the
  decoder, the ``Accept`` header the encoder.
- ``GET /execution-parameters``: the batch-transform settings.
- ``GET /model``: metadata of the served model.

Client errors are answered with a JSON body ``{"error": "..."}`` whose
message is cut to a bounded length, so no request echoes much of its input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.csv import decode_csv
from lodgepole.formats.json import (
    decode_json_instances,
    decode_jsonlines_instances,
    encode_predictions_json,
    encode_predictions_jsonlines,
)
from lodgepole.formats.recordio import decode_records, encode_prediction_records
from lodgepole.model import LinearModel, Prediction

try:
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "lodgepole.serving needs Starlette; install it with `pip install starlette`."
    ) from err

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
REQUEST_TYPES = (CSV, JSON, JSONLINES, RECORDIO)
RESPONSE_TYPES = (JSON, JSONLINES, RECORDIO)
DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024
VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
VARIANT_NAME = "AllTraffic"

# Bodies up to this size are parsed and scored on the event loop; a thread
# hop costs more than the work for them.
_INLINE_BODY_BYTES = 32 * 1024
# Longest error message sent back; longer ones are cut with "...".
_MAX_MESSAGE_CHARS = 512
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


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
    >>> choose_response_type("text/csv;q=1, application/jsonlines;q=0.5")
    'application/jsonlines'
    >>> choose_response_type("text/csv") is None
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
    if response_type == RECORDIO:
        return encode_prediction_records(score, label)
    if response_type == JSONLINES:
        return encode_predictions_jsonlines(score, label)
    return encode_predictions_json(score, label)


def _score(
    model: LinearModel, content_type: str, response_type: str, body: bytes
) -> bytes:
    """Decode, predict and encode one request; runs in a worker thread."""
    features = _decode(content_type, body, source="request body")
    if features.shape[0] == 0:
        raise DataFormatError("the request body holds no records; expected >= 1.")

    prediction = model.predict(features)
    logger.debug(
        "request scored rows=%d content_type=%s accept=%s",
        features.shape[0],
        content_type,
        response_type,
    )
    return _encode(response_type, prediction)


# --- request handling --------------------------------------------------------


def _bounded(message: str) -> str:
    if len(message) <= _MAX_MESSAGE_CHARS:
        return message
    return message[: _MAX_MESSAGE_CHARS - 3] + "..."


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": _bounded(message)}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _HTTPError(400, "Content-Length must be a non-negative integer.")
        if int(declared) > limit:
            raise _HTTPError(413, f"request body over the limit of {limit} bytes.")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _HTTPError(413, f"request body over the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _negotiate(request: Request) -> tuple[str, str]:
    """Request and response content types, or 415 / 406."""
    content_type = _media_type(request.headers.get("content-type", ""))
    if content_type not in REQUEST_TYPES:
        raise _HTTPError(
            415,
            f"unsupported Content-Type {content_type[:100]!r}; expected one of "
            f"{', '.join(REQUEST_TYPES)}.",
        )
    response_type = choose_response_type(request.headers.get("accept"))
    if response_type is None:
        raise _HTTPError(
            406,
            f"no supported type in Accept {request.headers['accept'][:100]!r}; "
            f"expected one of {', '.join(RESPONSE_TYPES)} or */*.",
        )
    return content_type, response_type


async def _invoke(
    model: LinearModel, request: Request, max_body_bytes: int
) -> Response:
    try:
        content_type, response_type = _negotiate(request)
        body = await _read_body(request, max_body_bytes)
        if len(body) > _INLINE_BODY_BYTES:
            data = await run_in_threadpool(
                _score, model, content_type, response_type, body
            )
        else:
            data = _score(model, content_type, response_type, body)
    except _HTTPError as err:
        return _error(err.status, err.message)
    except DataFormatError as err:
        return _error(400, str(err))
    except Exception:
        logger.exception("request failed path=%s", request.url.path)
        return _error(500, "internal error while scoring the request.")
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
        ``label_names``, ``hyperparameters`` and ``metrics``, JSON-able.

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
        "hyperparameters": _jsonable(model.hyperparameters),
        "metrics": _jsonable(model.metrics),
    }


def create_app(
    model: LinearModel,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    endpoint_name: str | None = None,
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

    Returns
    -------
    starlette.applications.Starlette
        The application; run it with any ASGI server (uvicorn, hypercorn).

    Raises
    ------
    ValueError
        If ``max_body_bytes`` is not positive or ``endpoint_name`` is not a
        valid endpoint name.

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
    if endpoint_name is not None and not _ENDPOINT_NAME.match(endpoint_name):
        raise ValueError(
            f"endpoint_name {endpoint_name!r} is not a valid endpoint name; use up "
            "to 63 letters, digits and inner hyphens."
        )

    async def ping(request: Request) -> Response:
        return Response(b"", status_code=200)

    async def invocations(request: Request) -> Response:
        return await _invoke(model, request, max_body_bytes)

    async def runtime_invocations(request: Request) -> Response:
        name = request.path_params["endpoint_name"]
        if endpoint_name is not None and name != endpoint_name:
            response: Response = _error(
                404,
                f"endpoint {name[:63]!r} not found; this server serves "
                f"{endpoint_name!r}.",
            )
        else:
            response = await _invoke(model, request, max_body_bytes)
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

    metadata = model_metadata(model)

    async def model_route(request: Request) -> Response:
        return JSONResponse(metadata)

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
    ]
    logger.info(
        "app created predictor_type=%s feature_dim=%d max_body_bytes=%d",
        metadata["predictor_type"],
        model.feature_dim,
        max_body_bytes,
    )
    return Starlette(routes=routes)
