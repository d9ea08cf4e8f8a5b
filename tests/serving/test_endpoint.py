"""Tests for lodgepole.serving.endpoint and server: real server processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import lodgepole
from lodgepole._process import running as _alive
from lodgepole.exceptions import ConfigError, LodgepoleError
from lodgepole.model import LinearModel
from lodgepole.serving import (
    EndpointError,
    Predictor,
    deploy,
    describe_endpoint,
    list_endpoints,
)
from lodgepole.serving.endpoint import decode_response, encode_request
from tests._processes import children

pytest.importorskip("uvicorn")

FEATURE_DIM = 5
NUM_CLASSES = 3
JSON = "application/json"
JSONLINES = "application/jsonlines"


def _rows(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, FEATURE_DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> LinearModel:
    X = _rows(300, seed=7)
    raw = X @ np.arange(1, FEATURE_DIM + 1, dtype=np.float32)
    y = np.digitize(raw, [-2.0, 2.0]).astype(np.float32)
    hp = {
        "predictor_type": "multiclass_classifier",
        "num_classes": NUM_CLASSES,
        "epochs": 2,
        "mini_batch_size": 50,
    }
    return lodgepole.train(hp, (X, y)).model


@pytest.fixture(scope="module")
def predictor(model) -> Iterator[Predictor]:
    endpoint = deploy(model, endpoint_name="my-endpoint")
    try:
        yield endpoint
    finally:
        endpoint.delete_endpoint()


def _port_open(url: str) -> bool:
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def test_recordio_records_read_as_the_sdk_does(predictor, model):
    X = _rows(100)
    out = [r for part in np.array_split(X, 4) for r in predictor.predict(part)]
    assert len(out) == 100
    labels = np.array(
        [r.label["predicted_label"].float32_tensor.values[0] for r in out]
    )
    scores = np.array([list(r.label["score"].float32_tensor.values) for r in out])
    expected = model.predict(X)
    assert scores.shape == (100, NUM_CLASSES)
    np.testing.assert_array_equal(labels, expected.predicted_label)
    np.testing.assert_array_equal(scores, expected.score.astype(np.float32))


def test_one_dimensional_and_sparse_input(predictor, model):
    X = _rows(3)
    [record] = predictor.predict(X[0])
    assert (
        record.label["predicted_label"].float32_tensor.values[0]
        == (model.predict(X[:1]).predicted_label[0])
    )
    X[np.abs(X) < 0.5] = 0.0
    records = predictor.predict(sp.csr_matrix(X))
    labels = [r.label["predicted_label"].float32_tensor.values[0] for r in records]
    np.testing.assert_array_equal(labels, model.predict(X).predicted_label)


@pytest.mark.parametrize("content_type", ["text/csv", JSON, JSONLINES])
def test_json_accept_matches_model_predict(predictor, model, content_type):
    X = _rows(20)
    reply = predictor.predict(X, content_type=content_type, accept=JSON)
    expected = model.predict(X)
    predictions = reply["predictions"]
    assert [p["predicted_label"] for p in predictions] == (
        expected.predicted_label.tolist()
    )
    np.testing.assert_allclose(
        [p["score"] for p in predictions], expected.score, rtol=1e-6
    )


def test_jsonlines_accept_gives_one_dict_per_row(predictor, model):
    X = _rows(7)
    reply = predictor.predict(X, accept=JSONLINES)
    assert isinstance(reply, list) and len(reply) == 7
    labels = [row["predicted_label"] for row in reply]
    assert labels == model.predict(X).predicted_label.tolist()


def test_bad_request_raises_with_status_400(predictor):
    with pytest.raises(EndpointError) as info:
        predictor.predict(b"1,2,not-a-number\n", content_type="text/csv")
    assert info.value.status == 400
    assert isinstance(info.value, LodgepoleError)
    assert info.value.message


def test_unsupported_content_type_raises_415(predictor):
    with pytest.raises(EndpointError) as info:
        predictor.predict(b"x", content_type="text/plain")
    assert info.value.status == 415


def test_two_workers_serve_and_delete_closes_port(model):
    predictor = deploy(model, initial_instance_count=2)
    try:
        X = _rows(10)
        for _ in range(4):
            reply = predictor.predict(X, accept=JSON)
            labels = [p["predicted_label"] for p in reply["predictions"]]
            assert labels == model.predict(X).predicted_label.tolist()
        endpoint = describe_endpoint(predictor.endpoint_name)
        assert endpoint.status == "InService" and endpoint.instance_count == 2
        workers = children(endpoint.pid)
        assert len(workers) >= 2
    finally:
        predictor.delete_endpoint()
    assert not _alive(endpoint.pid)
    deadline = time.monotonic() + 5  # worker processes exit just after the main
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)
    assert not Path(endpoint.directory).exists()
    assert list_endpoints() == [] or endpoint.name not in {
        e.name for e in list_endpoints()
    }
    assert not _port_open(predictor.url)
    predictor.delete_endpoint()  # a second call does nothing
    with pytest.raises(EndpointError) as info:
        predictor.predict(_rows(1))
    assert info.value.status is None


def test_deploy_rejects_zero_instances(model):
    with pytest.raises(ConfigError):
        deploy(model, initial_instance_count=0)


def test_failed_start_raises_with_stderr_tail(model):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(EndpointError, match="did not start"):
            deploy(model, port=port)


def test_encode_and_decode_helpers():
    assert encode_request(b"raw", "text/csv") == b"raw"
    with pytest.raises(LodgepoleError):
        encode_request(np.ones((1, 2)), "text/plain")
    with pytest.raises(LodgepoleError):
        encode_request(np.ones((1, 2, 3)), "text/csv")
    assert decode_response(b"abc", "text/plain") == b"abc"


@pytest.mark.parametrize("layout", ["argument", "container_archive", "container_dir"])
def test_cli_serve_answers_ping(model, tmp_path: Path, layout: str):
    if layout == "argument":
        arguments = [str(model.save(tmp_path / "model.tar.gz"))]
    else:
        # As a SageMaker inference container: the model in <root>/model.
        (tmp_path / "ml").mkdir()
        if layout == "container_archive":
            (tmp_path / "ml" / "model").mkdir()
            model.save(tmp_path / "ml" / "model" / "model.tar.gz")
        else:
            model.save(tmp_path / "ml" / "model")
        arguments = ["--ml-root", str(tmp_path / "ml")]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SAGEMAKER_BIND_TO_PORT": str(port)}
    env.pop("SM_MODEL_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "lodgepole.cli", "serve", *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                url = f"http://127.0.0.1:{port}/ping"
                with urllib.request.urlopen(url, timeout=1) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM)


def test_cli_serve_missing_model_exits_with_usage_error(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", "serve", str(tmp_path / "none")],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert b"no model" in result.stderr


def test_cli_serve_without_model_names_the_container_model_dir(tmp_path: Path):
    env = {**os.environ, "LODGEPOLE_ML_ROOT": str(tmp_path)}
    env.pop("SM_MODEL_DIR", None)
    result = subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", "serve"],
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    assert f"no model directory '{tmp_path / 'model'}'".encode() in result.stderr


def test_container_model_path_follows_the_sagemaker_layout(model, tmp_path: Path):
    from lodgepole.serving.server import container_model_path

    root = tmp_path / "ml"
    (root / "model").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"holds no model.json or .tar.gz"):
        container_model_path(root, {})
    archive = model.save(root / "model" / "model.tar.gz")
    assert container_model_path(root, {}) == str(archive)
    assert container_model_path(None, {"LODGEPOLE_ML_ROOT": str(root)}) == str(archive)
    model.save(root / "model" / "second.tar.gz")
    with pytest.raises(FileNotFoundError, match="holds 2 archives"):
        container_model_path(root, {})
    extracted = tmp_path / "elsewhere"
    model.save(extracted)
    # SageMaker's SM_MODEL_DIR names the directory itself, extracted here.
    assert container_model_path(None, {"SM_MODEL_DIR": str(extracted)}) == str(
        extracted
    )
    with pytest.raises(FileNotFoundError, match="no model directory"):
        container_model_path(tmp_path / "nothing", {})
    # An explicit root wins over SM_MODEL_DIR.
    with pytest.raises(FileNotFoundError, match="holds 2 archives"):
        container_model_path(root, {"SM_MODEL_DIR": str(extracted)})


def test_bad_port_variable_is_a_config_error():
    from lodgepole.serving.server import default_port

    with pytest.raises(ConfigError):
        default_port({"SAGEMAKER_BIND_TO_PORT": "http"})
