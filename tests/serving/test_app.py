"""Tests for lodgepole.serving.app: routes, formats, negotiation, errors."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

import lodgepole
from lodgepole.exceptions import DataFormatError
from lodgepole.formats._framing import read_frames
from lodgepole.formats.csv import encode_csv, encode_predictions_csv
from lodgepole.formats.record_pb2 import Record
from lodgepole.formats.recordio import encode_prediction_records, encode_records
from lodgepole.model import LinearModel
from lodgepole.serving import create_app
from lodgepole.serving.app import choose_response_type

FEATURE_DIM = 5
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
PREDICTOR_TYPES = [
    "binary_classifier",
    "multiclass_classifier",
    "regressor",
    "multilabel_classifier",
]


def _data(predictor_type: str, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, FEATURE_DIM)).astype(np.float32)
    raw = X @ np.arange(1, FEATURE_DIM + 1, dtype=np.float32)
    if predictor_type == "binary_classifier":
        return X, (raw > 0).astype(np.float32)
    if predictor_type == "multiclass_classifier":
        return X, np.digitize(raw, [-2.0, 2.0]).astype(np.float32)
    if predictor_type == "multilabel_classifier":
        labels = np.stack([raw > -2.0, raw > 2.0, X[:, 0] > 0], axis=1)
        return X, labels.astype(np.float32)
    return X, raw + 10.0


@pytest.fixture(scope="module", params=PREDICTOR_TYPES)
def model(request) -> LinearModel:
    hp = {"predictor_type": request.param, "epochs": 2, "mini_batch_size": 50}
    if request.param in ("multiclass_classifier", "multilabel_classifier"):
        hp["num_classes"] = 3
    return lodgepole.train(hp, _data(request.param)).model


@pytest.fixture(scope="module")
def client(model) -> TestClient:
    return TestClient(create_app(model, endpoint_name="my-endpoint"))


def _rows(n: int = 4) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, FEATURE_DIM)).astype(np.float32)


def _post(client, body, content_type=CSV, accept=None, path="/invocations"):
    headers = {"Content-Type": content_type}
    if accept is not None:
        headers["Accept"] = accept
    return client.post(path, content=body, headers=headers)


def _read_predictions(body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores and predicted labels of a RecordIO prediction reply."""
    scores, labels = [], []
    for payload in read_frames(body):
        record = Record()
        record.ParseFromString(payload)
        scores.append(list(record.label["score"].float32_tensor.values))
        if "predicted_label" in record.label:
            values = list(record.label["predicted_label"].float32_tensor.values)
            labels.append(values[0] if len(values) == 1 else values)
    score = np.array(scores, np.float32)
    return score, (np.array(labels, np.float32) if labels else None)


def _check_records(model, X, body) -> None:
    """The RecordIO reply holds model.predict(X), to float32 precision."""
    expected = model.predict(X)
    score, label = _read_predictions(body)
    np.testing.assert_allclose(
        score.reshape(expected.score.shape), expected.score, rtol=1e-6, atol=1e-6
    )
    if expected.predicted_label is None:
        assert label is None
    else:
        np.testing.assert_array_equal(label, expected.predicted_label)


# --- simple routes -----------------------------------------------------------


def test_ping_returns_empty_200(client):
    reply = client.get("/ping")
    assert reply.status_code == 200
    assert reply.content == b""


def test_execution_parameters_match_batch_contract(client):
    assert client.get("/execution-parameters").json() == {
        "MaxConcurrentTransforms": 1,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


def test_model_route_describes_model(client, model):
    meta = client.get("/model").json()
    assert meta["predictor_type"] == model.predictor_type.value
    assert meta["feature_dim"] == FEATURE_DIM
    assert meta["num_classes"] == model.num_classes
    assert set(meta) == {
        "predictor_type",
        "feature_dim",
        "num_classes",
        "label_names",
        "feature_names",
        "hyperparameters",
        "metrics",
    }


# --- predictions -------------------------------------------------------------


def test_invocations_csv_matches_predict(client, model):
    X = _rows()
    reply = _post(client, encode_csv(X), accept=RECORDIO)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == RECORDIO
    _check_records(model, X, reply.content)


def test_invocations_csv_ignores_content_type_parameters(client, model):
    X = _rows(2)
    reply = _post(
        client, encode_csv(X), "text/csv; label_size=0; charset=utf-8", RECORDIO
    )
    assert reply.status_code == 200
    _check_records(model, X, reply.content)


@pytest.mark.parametrize("sparse", [False, True])
def test_invocations_recordio_matches_predict(client, model, sparse):
    X = _rows()
    if sparse:
        import scipy.sparse as sp

        X[:, 1:3] = 0.0
        body = encode_records(sp.csr_matrix(X))
    else:
        body = encode_records(X)
    reply = _post(client, body, RECORDIO, RECORDIO)
    assert reply.status_code == 200
    _check_records(model, X, reply.content)


def test_invocations_1000_row_csv(client, model):
    X = _rows(1000)
    body = encode_csv(X)
    assert len(body) > 32 * 1024  # scored in the thread pool
    reply = _post(client, body, accept=RECORDIO)
    assert reply.status_code == 200
    _check_records(model, X, reply.content)


def test_runtime_path_sets_variant_header(client, model):
    X = _rows(3)
    path = "/endpoints/my-endpoint/invocations"
    reply = _post(client, encode_csv(X), accept=RECORDIO, path=path)
    assert reply.status_code == 200
    assert reply.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    _check_records(model, X, reply.content)


def test_runtime_path_404_when_endpoint_name_differs(client):
    reply = _post(client, b"1,2,3,4,5", path="/endpoints/other/invocations")
    assert reply.status_code == 404
    assert "other" in reply.json()["error"]


def test_recordio_exact_bytes_for_simple_binary_model():
    model = LinearModel(
        predictor_type="binary_classifier",
        weights=np.zeros((2, 1)),
        bias=np.zeros(1),
        link="sigmoid",
    )
    reply = _post(TestClient(create_app(model)), b"1,2\n", accept=RECORDIO)
    assert reply.status_code == 200
    assert reply.content == encode_prediction_records(
        np.array([0.5], np.float32), np.array([1.0], np.float32)
    )


# --- Accept negotiation ------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        (JSON, JSON),
        (JSONLINES, JSONLINES),
        (RECORDIO, RECORDIO),
        ("text/csv, application/jsonlines", CSV),
        ("text/html, application/jsonlines", JSONLINES),
        ("application/json;q=0.2, application/x-recordio-protobuf;q=0.9", RECORDIO),
        ("application/jsonlines;q=0, application/json;q=0.1", JSON),
        ("text/csv;q=1.0, */*;q=0.1", CSV),
        ("text/html;q=1.0, */*;q=0.1", JSON),
        ("text/csv", CSV),
        ("text/csv;q=0.5, application/json", JSON),
        ("text/html, application/xml", None),
        ("application/json;q=oops", None),
    ],
)
def test_choose_response_type_follows_spec_table(accept, expected):
    assert choose_response_type(accept) == expected


def test_invocations_honours_recordio_from_q_list(client, model):
    X = _rows(2)
    accept = "text/html;q=1, application/x-recordio-protobuf;q=0.5"
    reply = _post(client, encode_csv(X), accept=accept)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == RECORDIO
    _check_records(model, X, reply.content)


@pytest.mark.parametrize("accept", ["text/html", "application/xml"])
def test_invocations_406_when_accept_unsupported(client, accept):
    reply = _post(client, encode_csv(_rows(1)), accept=accept)
    assert reply.status_code == 406
    assert "Accept" in reply.json()["error"]


# --- client errors -----------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_invocations_415_when_content_type_unsupported(client, content_type):
    reply = _post(client, b"1,2,3,4,5", content_type=content_type)
    assert reply.status_code == 415
    assert "Content-Type" in reply.json()["error"]


def test_invocations_413_when_content_length_over_limit(model):
    small = TestClient(create_app(model, max_body_bytes=100))
    reply = _post(small, b"1," * 60 + b"1\n", accept=RECORDIO)
    assert reply.status_code == 413
    assert "100 bytes" in reply.json()["error"]


def test_invocations_413_when_streamed_body_over_limit(model):
    small = TestClient(create_app(model, max_body_bytes=100))

    def chunks():
        for _ in range(10):
            yield b"1,2,3,4,5\n1,2,3,4,5\n"

    reply = small.post("/invocations", content=chunks(), headers={"Content-Type": CSV})
    assert reply.status_code == 413


def test_invocations_400_names_feature_count(client):
    reply = _post(client, b"1,2,3,4\n", accept=RECORDIO)
    assert reply.status_code == 400
    assert "expected 5 features" in reply.json()["error"]
    assert "got 4" in reply.json()["error"]


@pytest.mark.parametrize(
    "body",
    [b"", b"1,2,x,4,5\n", b"1,2,nan,4,5\n", b"1,2,inf,4,5\n", b"1,2\n1,2,3\n"],
)
def test_invocations_400_when_csv_malformed(client, body):
    reply = _post(client, body, accept=RECORDIO)
    assert reply.status_code == 400
    assert reply.json()["error"]


def test_invocations_400_when_recordio_nan(client):
    X = _rows(2)
    X[1, 3] = np.nan
    reply = _post(client, encode_records(X), RECORDIO, RECORDIO)
    assert reply.status_code == 400
    assert "nan" in reply.json()["error"].lower()


@pytest.mark.parametrize("body", [b"", b"\x00" * 7, b"garbage that is not recordio"])
def test_invocations_400_when_recordio_malformed(client, body):
    reply = _post(client, body, RECORDIO, RECORDIO)
    assert reply.status_code == 400
    assert reply.json()["error"]


def test_invocations_error_message_is_bounded(client):
    body = b"1,2,3,4," + b"9" * 100_000 + b"x\n"
    reply = _post(client, body, accept=RECORDIO)
    assert reply.status_code == 400
    assert len(reply.json()["error"]) <= 512


def test_invocations_serves_next_request_after_error(client, model):
    assert _post(client, b"bad\n", accept=RECORDIO).status_code == 400
    X = _rows(2)
    reply = _post(client, encode_csv(X), accept=RECORDIO)
    assert reply.status_code == 200
    _check_records(model, X, reply.content)


def test_create_app_rejects_bad_arguments(model):
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(model, max_body_bytes=0)
    with pytest.raises(ValueError, match="endpoint_name"):
        create_app(model, endpoint_name="-bad name")


# --- JSON and JSON Lines ----------------------------------------------------


@pytest.mark.parametrize("accept", [None, "", "*/*", JSON])
def test_invocations_json_by_default(client, model, accept):
    X = _rows(3)
    reply = _post(client, encode_csv(X), accept=accept)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == JSON
    predictions = reply.json()["predictions"]
    expected = model.predict(X)
    score = np.array([p["score"] for p in predictions], np.float32)
    np.testing.assert_allclose(score, expected.score, rtol=1e-6, atol=1e-6)
    if expected.predicted_label is None:
        assert all("predicted_label" not in p for p in predictions)
    else:
        labels = [p["predicted_label"] for p in predictions]
        assert labels == expected.predicted_label.tolist()
        if expected.predicted_label.ndim == 2:  # multilabel: indices that hold
            held = [np.flatnonzero(row).astype(float).tolist() for row in labels]
            assert [p["predicted_labels"] for p in predictions] == held


def test_invocations_jsonlines_response(client, model):
    import json

    X = _rows(3)
    reply = _post(client, encode_csv(X), accept=JSONLINES)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == JSONLINES
    assert reply.content.endswith(b"\n")
    lines = [json.loads(line) for line in reply.content.splitlines()]
    score = np.array([line["score"] for line in lines], np.float32)
    np.testing.assert_allclose(score, model.predict(X).score, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("content_type", [JSON, JSONLINES])
def test_invocations_json_requests_match_predict(client, model, content_type):
    import json

    X = _rows(3)
    rows = [{"features": row} for row in X.tolist()]
    if content_type == JSON:
        body = json.dumps({"instances": rows}).encode()
    else:
        body = "".join(json.dumps(row) + "\n" for row in rows).encode()
    reply = _post(client, body, content_type, RECORDIO)
    assert reply.status_code == 200
    _check_records(model, X, reply.content)


def test_invocations_sparse_json_instance_matches_predict(client, model):
    X = np.zeros((1, FEATURE_DIM), np.float32)
    X[0, [1, 3]] = [2.0, -1.0]
    sparse = {"keys": [1, 3], "shape": [FEATURE_DIM], "values": [2.0, -1.0]}
    body = (
        b'{"instances": [{"data": {"features": %s}}]}'
        % str(sparse).replace("'", '"').encode()
    )
    reply = _post(client, body, JSON, RECORDIO)
    assert reply.status_code == 200
    _check_records(model, X, reply.content)


def test_invocations_400_when_json_malformed(client):
    reply = _post(client, b'{"instances": [', JSON, JSON)
    assert reply.status_code == 400
    assert reply.json()["error"]


def test_json_exact_bytes_for_simple_binary_model():
    model = LinearModel(
        predictor_type="binary_classifier",
        weights=np.zeros((2, 1)),
        bias=np.zeros(1),
        link="sigmoid",
    )
    reply = _post(TestClient(create_app(model)), b"1,2\n")
    assert reply.status_code == 200
    assert reply.content == b'{"predictions": [{"score": 0.5, "predicted_label": 1.0}]}'


# --- text/csv responses ------------------------------------------------------


def test_invocations_csv_response_matches_predict(client, model):
    X = _rows(6)
    reply = _post(client, encode_csv(X), accept=CSV)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith(CSV)
    expected = model.predict(X)
    lines = reply.content.decode("ascii").splitlines()
    assert reply.content.endswith(b"\n")
    assert len(lines) == X.shape[0]
    table = np.array([[float(v) for v in line.split(",")] for line in lines])
    if expected.predicted_label is None:
        assert table.shape == (X.shape[0], 1)
        scores = table[:, 0]
    elif expected.predicted_label.ndim == 2:  # multilabel: K labels, K scores
        k = expected.predicted_label.shape[1]
        np.testing.assert_array_equal(table[:, :k], expected.predicted_label)
        scores = table[:, k:]
    else:
        np.testing.assert_array_equal(table[:, 0], expected.predicted_label)
        scores = table[:, 1:].reshape(expected.score.shape)
    # Printed at float32 precision as shortest doubles: exact round trip.
    np.testing.assert_array_equal(scores.astype(np.float32), expected.score)


def test_csv_response_formats_numbers_like_json():
    model = LinearModel(
        predictor_type="binary_classifier",
        weights=np.zeros((2, 1)),
        bias=np.zeros(1),
        link="sigmoid",
    )
    reply = _post(TestClient(create_app(model)), b"1,2\n3,4\n", accept=CSV)
    assert reply.status_code == 200
    assert reply.content == b"1.0,0.5\n1.0,0.5\n"


def test_encode_predictions_csv_rejects_bad_input():
    with pytest.raises(DataFormatError, match="finite"):
        encode_predictions_csv(np.array([np.nan]), None)
    with pytest.raises(DataFormatError, match="shape"):
        encode_predictions_csv(np.array([0.5, 0.5]), np.array([1.0]))


# --- OpenAPI -------------------------------------------------------------------


def test_openapi_document_lists_every_route_and_validates(client):
    openapi_spec_validator = pytest.importorskip("openapi_spec_validator")
    reply = client.get("/openapi.json")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == JSON
    doc = json.loads(reply.content)
    openapi_spec_validator.validate(doc)
    routes = {route.path for route in client.app.routes if isinstance(route, Route)}
    assert set(doc["paths"]) == routes
    for path in ("/invocations", "/endpoints/{endpoint_name}/invocations"):
        operation = doc["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) == {
            CSV,
            JSON,
            JSONLINES,
            RECORDIO,
        }
        assert set(operation["responses"]["200"]["content"]) == {
            CSV,
            JSON,
            JSONLINES,
            RECORDIO,
        }
        assert {"400", "406", "413", "415", "500"} <= set(operation["responses"])


# --- metrics -------------------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Samples of a Prometheus text exposition, keyed by name and labels."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = frozenset(_LABEL.findall(labels or ""))
        samples[name, pairs] = float(value)
    return samples


def test_metrics_count_requests_rows_and_latency(model):
    fresh = TestClient(create_app(model, endpoint_name="my-endpoint"))
    for n in (1, 2, 3):
        assert _post(fresh, encode_csv(_rows(n)), accept=JSON).status_code == 200
    assert _post(fresh, b"1,2\n", accept=JSON).status_code == 400
    assert _post(fresh, b"1\n", accept="text/html").status_code == 406
    runtime = "/endpoints/my-endpoint/invocations"
    assert _post(fresh, encode_csv(_rows(4)), path=runtime).status_code == 200
    assert fresh.get("/ping").status_code == 200
    assert fresh.get("/no-such-route").status_code == 404

    reply = fresh.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _parse_metrics(reply.text)

    def requests(route: str, status: str) -> float:
        key = frozenset({("route", route), ("status", status)})
        return samples["lodgepole_requests_total", key]

    assert requests("/invocations", "200") == 3
    assert requests("/invocations", "400") == 1
    assert requests("/invocations", "406") == 1
    assert requests("/endpoints/{endpoint_name}/invocations", "200") == 1
    assert requests("/ping", "200") == 1
    assert requests("<unmatched>", "404") == 1
    assert samples["lodgepole_rows_predicted_total", frozenset()] == 1 + 2 + 3 + 4
    route = frozenset({("route", "/invocations")})
    assert samples["lodgepole_request_duration_seconds_count", route] == 5
    assert samples["lodgepole_request_duration_seconds_sum", route] > 0
    info = frozenset(
        {
            ("predictor_type", model.predictor_type.value),
            ("feature_dim", str(FEATURE_DIM)),
            ("num_classes", str(model.num_classes)),
        }
    )
    assert samples["lodgepole_model_info", info] == 1


def test_metrics_counters_are_thread_safe(model):
    fresh = TestClient(create_app(model))
    body = encode_csv(_rows(2))

    def call(_: int) -> int:
        return _post(fresh, body, accept=JSON).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(call, range(40))) == {200}
    samples = _parse_metrics(fresh.get("/metrics").text)
    key = frozenset({("route", "/invocations"), ("status", "200")})
    assert samples["lodgepole_requests_total", key] == 40
    assert samples["lodgepole_rows_predicted_total", frozenset()] == 80


# --- top_k -------------------------------------------------------------------


@pytest.fixture(scope="module")
def multiclass_client() -> tuple[LinearModel, TestClient]:
    hp = {"predictor_type": "multiclass_classifier", "num_classes": 3, "epochs": 2}
    model = lodgepole.train(hp, _data("multiclass_classifier")).model
    return model, TestClient(create_app(model))


@pytest.mark.parametrize("how", ["query", "custom_attributes"])
@pytest.mark.parametrize("accept", [JSON, JSONLINES])
def test_top_k_lists_the_best_classes_with_scores(multiclass_client, how, accept):
    model, client = multiclass_client
    X = _rows(6)
    headers = {"Content-Type": CSV, "Accept": accept}
    path = "/invocations"
    if how == "query":
        path += "?top_k=2"
    else:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = "trace=abc, top_k=2"
    reply = client.post(path, content=encode_csv(X), headers=headers)
    assert reply.status_code == 200, reply.text
    if accept == JSON:
        records = reply.json()["predictions"]
    else:
        records = [json.loads(line) for line in reply.text.splitlines()]
    expected = model.predict(X)
    for record, score, label in zip(
        records, expected.score, expected.predicted_label, strict=True
    ):
        order = np.argsort(-score, kind="stable")[:2]
        assert record["top_k_labels"] == order.astype(float).tolist()
        np.testing.assert_array_equal(np.float32(record["top_k_scores"]), score[order])
        assert record["predicted_label"] == label == record["top_k_labels"][0]


@pytest.mark.parametrize(
    ("path", "accept", "message"),
    [
        ("/invocations?top_k=0", JSON, r"top_k must be an integer in \[1, 3\]"),
        ("/invocations?top_k=4", JSON, r"top_k must be an integer in \[1, 3\]"),
        ("/invocations?top_k=two", JSON, r"top_k must be an integer"),
        ("/invocations?top_k=2", CSV, r"top_k needs an application/json"),
    ],
)
def test_top_k_errors_are_400_with_the_reason(multiclass_client, path, accept, message):
    _, client = multiclass_client
    reply = client.post(
        path,
        content=encode_csv(_rows(2)),
        headers={"Content-Type": CSV, "Accept": accept},
    )
    assert reply.status_code == 400
    assert re.search(message, reply.json()["error"])


def test_top_k_is_refused_for_other_predictor_types(client, model):
    if model.predictor_type.value == "multiclass_classifier":
        pytest.skip("multiclass models take top_k")
    reply = client.post(
        "/invocations?top_k=1",
        content=encode_csv(_rows(2)),
        headers={"Content-Type": CSV},
    )
    assert reply.status_code == 400
    assert "multiclass_classifier models only" in reply.json()["error"]
