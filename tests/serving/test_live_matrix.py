"""The real server on loopback: every content type x accept x predictor type.

Each predictor type is deployed as a real endpoint (a detached ``lodgepole
serve`` process with two workers on 127.0.0.1). Every request body type is
sent with every response type over HTTP, and the reply must be byte for byte
the one the in-process app gives for the same request; the in-process app is
checked against ``LinearModel.predict`` in test_app.py, and here the JSON
replies are checked against it once more. Concurrent clients then send a mix
of good and malformed requests and every reply must be the expected one.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from starlette.testclient import TestClient

import lodgepole
from lodgepole.formats.csv import encode_csv
from lodgepole.formats.recordio import encode_records
from lodgepole.model import LinearModel
from lodgepole.serving import create_app

pytest.importorskip("uvicorn")

FEATURE_DIM = 6
PREDICTOR_TYPES = [
    "binary_classifier",
    "multiclass_classifier",
    "regressor",
    "multilabel_classifier",
]
ACCEPTS = [
    "application/json",
    "application/jsonlines",
    "application/x-recordio-protobuf",
    "text/csv",
]
RECORDIO = "application/x-recordio-protobuf"


def _data(predictor_type: str, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, FEATURE_DIM)).astype(np.float32)
    raw = X @ np.linspace(-1.0, 2.0, FEATURE_DIM, dtype=np.float32)
    if predictor_type == "binary_classifier":
        return X, (raw > 0).astype(np.float32)
    if predictor_type == "multiclass_classifier":
        return X, np.digitize(raw, [-1.5, 1.5]).astype(np.float32)
    if predictor_type == "multilabel_classifier":
        labels = np.stack([raw > -1.0, raw > 1.0, X[:, 0] > 0], axis=1)
        return X, labels.astype(np.float32)
    return X, 3.0 * raw - 7.0


def _bodies(X: np.ndarray) -> dict[str, tuple[str, bytes]]:
    """One request body per request form: name -> (Content-Type, body)."""
    sparse = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0).astype(np.float32))
    sparse_json = [
        {
            "data": {
                "features": {
                    "shape": [FEATURE_DIM],
                    "keys": row.indices.tolist(),
                    "values": row.data.tolist(),
                }
            }
        }
        for row in sparse
    ]
    return {
        "csv": ("text/csv", encode_csv(X)),
        "json-instances": (
            "application/json",
            json.dumps({"instances": [{"features": r} for r in X.tolist()]}).encode(),
        ),
        "json-sparse": (
            "application/json",
            json.dumps({"instances": sparse_json}).encode(),
        ),
        "jsonlines": (
            "application/jsonlines",
            "\n".join(json.dumps({"features": r}) for r in X.tolist()).encode(),
        ),
        "recordio-dense": ("application/x-recordio-protobuf", encode_records(X)),
        "recordio-sparse": ("application/x-recordio-protobuf", encode_records(sparse)),
    }


@pytest.fixture(scope="module", params=PREDICTOR_TYPES)
def served(request) -> Iterator[tuple[LinearModel, str, TestClient]]:
    predictor_type = request.param
    hp = {"predictor_type": predictor_type, "epochs": 2, "mini_batch_size": 50}
    if predictor_type in ("multiclass_classifier", "multilabel_classifier"):
        hp["num_classes"] = 3
    model = lodgepole.train(hp, _data(predictor_type)).model
    predictor = model.deploy(2, endpoint_name=f"matrix-{predictor_type[:5]}")
    try:
        yield model, predictor.url, TestClient(create_app(model))
    finally:
        predictor.delete_endpoint()


def _post(url: str, body: bytes, content_type: str, accept: str) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        headers = {"Content-Type": content_type, "Accept": accept}
        connection.request("POST", "/invocations", body, headers)
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


@pytest.mark.parametrize("accept", ACCEPTS)
def test_every_request_form_gives_the_in_process_reply(served, accept: str):
    model, url, local = served
    X = _data(model.predictor_type, 40)[0][:25]
    for name, (content_type, body) in _bodies(X).items():
        status, data = _post(url, body, content_type, accept)
        expected = local.post(
            "/invocations",
            content=body,
            headers={"Content-Type": content_type, "Accept": accept},
        )
        assert status == expected.status_code == 200, (name, data[:200])
        assert data == expected.content, name


def test_json_reply_of_the_real_server_is_model_predict(served):
    model, url, _ = served
    X = _data(model.predictor_type, 60)[0]
    status, data = _post(url, encode_csv(X), "text/csv", "application/json")
    assert status == 200
    predictions = json.loads(data)["predictions"]
    expected = model.predict(X)
    score = np.array([p["score"] for p in predictions], np.float32)
    np.testing.assert_allclose(
        score.reshape(expected.score.shape), expected.score, rtol=1e-6, atol=1e-6
    )
    if expected.predicted_label is not None:
        labels = np.array([p["predicted_label"] for p in predictions], np.float32)
        np.testing.assert_array_equal(
            labels.reshape(expected.predicted_label.shape), expected.predicted_label
        )


def test_concurrent_clients_get_their_own_answers(served):
    """32 requests from 8 threads, a quarter malformed: every reply is right."""
    model, url, local = served
    X = _data(model.predictor_type, 200)[0]
    requests = []
    for i in range(32):
        rows = X[i * 5 : i * 5 + 1 + i % 5]
        if i % 4 == 3:
            body = encode_csv(rows).replace(b",", b",x", 1)  # a bad cell
            requests.append((body, "text/csv", "application/json"))
        else:
            accept = ACCEPTS[i % len(ACCEPTS)]
            requests.append((encode_records(rows), RECORDIO, accept))
    expected = [
        (r.status_code, r.content)
        for r in (
            local.post(
                "/invocations",
                content=body,
                headers={"Content-Type": content_type, "Accept": accept},
            )
            for body, content_type, accept in requests
        )
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda r: _post(url, *r), requests))
    assert got == expected
    assert sum(status == 400 for status, _ in got) == 8
    assert b"column" in got[3][1]  # the 400 says where the bad cell is
