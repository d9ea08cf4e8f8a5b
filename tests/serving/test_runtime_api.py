"""boto3's ``sagemaker-runtime`` client against a local lodgepole server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

import lodgepole
from lodgepole.formats.csv import encode_csv
from lodgepole.model import LinearModel
from lodgepole.serving import Predictor, deploy

pytest.importorskip("uvicorn")
boto3 = pytest.importorskip("boto3")

FEATURE_DIM = 4
ENDPOINT_NAME = "my-endpoint"


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, FEATURE_DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> LinearModel:
    X = _rows(200, seed=3)
    y = (X @ np.arange(1, FEATURE_DIM + 1, dtype=np.float32) > 0).astype(np.float32)
    hp = {"predictor_type": "binary_classifier", "epochs": 2, "mini_batch_size": 50}
    return lodgepole.train(hp, (X, y)).model


@pytest.fixture(scope="module")
def predictor(model) -> Iterator[Predictor]:
    endpoint = deploy(model, endpoint_name=ENDPOINT_NAME, host="127.0.0.1")
    try:
        yield endpoint
    finally:
        endpoint.delete_endpoint()


@pytest.fixture()
def runtime(predictor, monkeypatch):
    """A sagemaker-runtime client that can reach only the local server."""
    assert predictor.url.startswith("http://127.0.0.1:")
    # Explicit credentials and region; no profile, config file or metadata
    # service lookups.
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/lodgepole-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/lodgepole-creds")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.session.Session()
    client = session.client(
        "sagemaker-runtime",
        endpoint_url=predictor.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    try:
        yield client
    finally:
        client.close()


def test_invoke_endpoint_returns_model_predictions(runtime, model):
    X = _rows(5, seed=11)
    reply = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME,
        Body=encode_csv(X),
        ContentType="text/csv",
        Accept="application/json",
    )
    assert reply["ContentType"] == "application/json"
    assert reply["InvokedProductionVariant"] == "AllTraffic"
    with reply["Body"] as body:
        predictions = json.loads(body.read())["predictions"]
    expected = model.predict(X)
    scores = np.array([p["score"] for p in predictions], np.float32)
    labels = np.array([p["predicted_label"] for p in predictions], np.float32)
    np.testing.assert_array_equal(scores, expected.score)
    np.testing.assert_array_equal(labels, expected.predicted_label)


def test_invoke_endpoint_csv_accept(runtime, model):
    X = _rows(3, seed=12)
    reply = runtime.invoke_endpoint(
        EndpointName=ENDPOINT_NAME,
        Body=encode_csv(X),
        ContentType="text/csv",
        Accept="text/csv",
    )
    assert reply["ContentType"].startswith("text/csv")
    with reply["Body"] as body:
        lines = body.read().decode("ascii").splitlines()
    expected = model.predict(X)
    table = np.array([[float(v) for v in line.split(",")] for line in lines])
    np.testing.assert_array_equal(table[:, 0], expected.predicted_label)
    np.testing.assert_array_equal(table[:, 1].astype(np.float32), expected.score)


def test_invoke_endpoint_unknown_name_is_a_client_error(runtime):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="other-endpoint",
            Body=b"1,2,3,4\n",
            ContentType="text/csv",
        )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
