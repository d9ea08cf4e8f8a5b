"""The OpenAPI 3.0 document of the endpoint app (``GET /openapi.json``)."""

from __future__ import annotations

from typing import Any

from lodgepole.serving._protocol import (
    CSV,
    ENDPOINT_NAME_PATTERN,
    JSON,
    METRICS_TYPE,
    REQUEST_TYPES,
    RESPONSE_TYPES,
    VARIANT_HEADER,
)

__all__ = ["openapi_document"]


def _body_schemas() -> dict[str, Any]:
    """Schemas of the JSON request body and the JSON prediction reply."""
    number = {"type": "number"}
    numbers = {"type": "array", "items": number}
    sparse = {
        "type": "object",
        "required": ["values"],
        "properties": {
            "keys": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "values": numbers,
        },
    }
    instance = {
        "anyOf": [
            numbers,
            {
                "type": "object",
                "required": ["features"],
                "properties": {"features": numbers},
            },
            {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "data": {
                        "type": "object",
                        "required": ["features"],
                        "properties": {"features": sparse},
                    }
                },
            },
        ]
    }
    number_or_numbers = {"anyOf": [number, numbers]}
    prediction = {
        "type": "object",
        "required": ["score"],
        "properties": {
            "score": number_or_numbers,
            "predicted_label": number_or_numbers,
            "predicted_labels": numbers,
            "top_k_labels": numbers,
            "top_k_scores": numbers,
        },
    }
    return {
        "Instances": {
            "type": "object",
            "required": ["instances"],
            "properties": {"instances": {"type": "array", "items": instance}},
        },
        "Predictions": {
            "type": "object",
            "required": ["predictions"],
            "properties": {"predictions": {"type": "array", "items": prediction}},
        },
    }


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _invocation_operation(summary: str, operation_id: str) -> dict[str, Any]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    text = {"schema": {"type": "string"}}
    request_content = {media: binary for media in REQUEST_TYPES}
    request_content[CSV] = text
    request_content[JSON] = {"schema": {"$ref": "#/components/schemas/Instances"}}
    response_content = {media: binary for media in RESPONSE_TYPES}
    response_content[CSV] = text
    response_content[JSON] = {"schema": {"$ref": "#/components/schemas/Predictions"}}
    return {
        "summary": summary,
        "operationId": operation_id,
        # No "Accept" parameter: OpenAPI 3.0 ignores header parameters named
        # Accept; the 200 response's media types are what Accept chooses from.
        "parameters": [
            {
                "name": "top_k",
                "in": "query",
                "required": False,
                "description": "Multiclass models: also list each record's k best "
                "classes (JSON and JSON Lines replies). Also read as top_k=N "
                "from X-Amzn-SageMaker-Custom-Attributes.",
                "schema": {"type": "integer", "minimum": 1},
            },
        ],
        "requestBody": {
            "required": True,
            "description": "Records to score, without labels (SPEC section 6.1).",
            "content": request_content,
        },
        "responses": {
            "200": {
                "description": "One prediction per input row, in input order, "
                "in the type the Accept header prefers (q-values honoured); "
                "application/json when Accept is absent or */*.",
                "content": response_content,
            },
            "400": _error_response("Malformed body or header."),
            "406": _error_response("No supported type in Accept."),
            "408": _error_response("Request not read or scored in time."),
            "413": _error_response("Request body over the size limit."),
            "415": _error_response("Unsupported Content-Type."),
            "500": _error_response("Internal error while scoring."),
            "503": _error_response("Server busy or shutting down; retry later."),
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 description served at ``GET /openapi.json``.

    Returns
    -------
    dict
        A fresh JSON-able OpenAPI document listing every route, its request
        and response content types and its error responses.

    Examples
    --------
    >>> doc = openapi_document()
    >>> doc["openapi"], "/invocations" in doc["paths"]
    ('3.0.3', True)
    """
    runtime = _invocation_operation(
        "Score records (the runtime InvokeEndpoint path).", "invokeEndpoint"
    )
    runtime["parameters"].insert(
        0,
        {
            "name": "endpoint_name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ENDPOINT_NAME_PATTERN.pattern},
        },
    )
    runtime["responses"]["404"] = _error_response("Unknown endpoint name.")
    runtime["responses"]["200"]["headers"] = {
        VARIANT_HEADER: {
            "description": "Name of the production variant that answered.",
            "schema": {"type": "string"},
        }
    }
    json_object = {"schema": {"type": "object"}}
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "lodgepole inference endpoint",
            "version": "1",
            "description": "SageMaker-compatible serving of a Linear Learner model.",
        },
        "paths": {
            "/ping": {
                "get": {
                    "summary": "Health check.",
                    "operationId": "ping",
                    "responses": {"200": {"description": "Ready; empty body."}},
                }
            },
            "/invocations": {
                "post": _invocation_operation("Score records.", "invocations")
            },
            "/endpoints/{endpoint_name}/invocations": {"post": runtime},
            "/execution-parameters": {
                "get": {
                    "summary": "Batch transform settings.",
                    "operationId": "executionParameters",
                    "responses": {
                        "200": {
                            "description": "MaxConcurrentTransforms, "
                            "BatchStrategy and MaxPayloadInMB.",
                            "content": {JSON: json_object},
                        }
                    },
                }
            },
            "/model": {
                "get": {
                    "summary": "Metadata of the served model.",
                    "operationId": "model",
                    "responses": {
                        "200": {
                            "description": "Predictor type, dimensions, "
                            "hyperparameters and metrics.",
                            "content": {JSON: json_object},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "operationId": "openapi",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.0 document.",
                            "content": {JSON: json_object},
                        }
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics.",
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition 0.0.4.",
                            "content": {METRICS_TYPE: {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                **_body_schemas(),
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Only when the server is started with a "
                    "token; /ping never asks for one.",
                }
            },
        },
        # Optional: {} (no credentials) is one of the alternatives.
        "security": [{}, {"bearerAuth": []}],
    }
    for path, item in document["paths"].items():
        for operation in item.values():
            if path == "/ping":
                operation["security"] = []
                continue
            unauthorized = _error_response(
                "Missing or wrong bearer token (only when the server requires one)."
            )
            unauthorized["headers"] = {
                "WWW-Authenticate": {
                    "description": "The Bearer challenge (RFC 6750).",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^Bearer"},
                }
            }
            operation["responses"]["401"] = unauthorized
    return document
