"""Tests for LinearModel.to_onnx and lodgepole._onnx: ONNX predicts as predict does."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
import scipy.sparse as sp

import lodgepole
import lodgepole._onnx as onnx_module
from lodgepole.exceptions import ModelFormatError
from lodgepole.model import LinearModel

FEATURE_DIM = 6
NUM_CLASSES = 4
RTOL, ATOL = 1e-5, 1e-6
# Binary rows whose score lies this close to the threshold may get either
# label: onnxruntime's Sigmoid and predict's may round the last bit apart.
NEAR_THRESHOLD = 1e-6
TRAINED_KINDS = ("sigmoid", "hinge", "multiclass", "regressor", "multilabel")


def make_features(n: int, seed: int = 0, zeros: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, FEATURE_DIM)).astype(np.float32)
    X[rng.random(X.shape) < zeros] = 0.0
    return X


def train_model(kind: str, features: Any = None) -> LinearModel:
    X = make_features(1200, seed=1) if features is None else features
    values = np.asarray(X, dtype=np.float32)
    signal = values @ np.linspace(-1.0, 1.0, FEATURE_DIM, dtype=np.float32)
    hyperparameters: dict[str, object] = {"epochs": 3, "mini_batch_size": 100}
    label_names: tuple[str, ...] | None = None
    if kind == "multiclass":
        hyperparameters.update(
            predictor_type="multiclass_classifier", num_classes=NUM_CLASSES
        )
        y = np.digitize(signal, np.quantile(signal, [0.25, 0.5, 0.75]))
        label_names = ("north", "east", "south", "west")
    elif kind == "multilabel":
        hyperparameters.update(
            predictor_type="multilabel_classifier", num_classes=NUM_CLASSES
        )
        cuts = np.quantile(signal, [0.2, 0.4, 0.6, 0.8])
        y = np.stack([signal > c for c in cuts], axis=1) ^ (values[:, :4] > 1.0)
        label_names = ("pine", "fir", "aspen", "spruce")
    elif kind == "regressor":
        hyperparameters["predictor_type"] = "regressor"
        y = 3.0 * signal + 1.0
        label_names = ("elevation",)
    else:
        hyperparameters["predictor_type"] = "binary_classifier"
        if kind == "hinge":
            hyperparameters["loss"] = "hinge_loss"
        y = signal > 0
        label_names = ("no", "yes")
    labels = np.asarray(y, dtype=np.float32)
    return lodgepole.train(hyperparameters, (X, labels), label_names=label_names).model


@pytest.fixture(scope="module")
def trained_models() -> dict[str, LinearModel]:
    return {kind: train_model(kind) for kind in TRAINED_KINDS}


def built_model(predictor_type: str, seed: int = 0) -> LinearModel:
    rng = np.random.default_rng(seed)
    k = NUM_CLASSES if predictor_type == "multiclass_classifier" else 1
    links = {
        "binary_classifier": "sigmoid",
        "multiclass_classifier": "softmax",
        "regressor": "identity",
    }
    return LinearModel(
        predictor_type=predictor_type,
        weights=rng.normal(size=(FEATURE_DIM, k)),
        bias=rng.normal(size=k),
        link=links[predictor_type],
        # Not a float32 number, as calibrated thresholds usually are not.
        threshold=0.1 + 0.2 if predictor_type == "binary_classifier" else None,
    )


def run_onnx(path: Path, X: np.ndarray) -> dict[str, np.ndarray]:
    session = onnxruntime.InferenceSession(
        os.fspath(path), providers=["CPUExecutionProvider"]
    )
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"features": X}), strict=True))


def metadata(path: Path) -> dict[str, str]:
    return {prop.key: prop.value for prop in onnx.load(path).metadata_props}


def assert_predicts_like(model: LinearModel, outputs: dict[str, np.ndarray], X: Any):
    prediction = model.predict(X)
    score = outputs["score"]
    assert score.dtype == np.float32
    assert score.shape == prediction.score.shape
    np.testing.assert_allclose(score, prediction.score, rtol=RTOL, atol=ATOL)
    if prediction.predicted_label is None:
        assert set(outputs) == {"score"}
        return

    label = outputs["predicted_label"]
    assert label.dtype == np.float32
    assert label.shape == prediction.predicted_label.shape
    keep = np.ones(label.shape, dtype=bool)
    if model.threshold is not None:
        keep = np.abs(prediction.score - model.threshold) > NEAR_THRESHOLD
        assert keep.mean() > 0.99
    np.testing.assert_array_equal(label[keep], prediction.predicted_label[keep])


# --- predictions ------------------------------------------------------------


@pytest.mark.parametrize("kind", TRAINED_KINDS)
def test_to_onnx_predicts_like_predict_for_trained_models(
    trained_models: dict[str, LinearModel], kind: str, tmp_path: Path
) -> None:
    model = trained_models[kind]
    X = make_features(500, seed=2)
    path = model.to_onnx(tmp_path / "model.onnx")
    assert path == tmp_path / "model.onnx"
    assert_predicts_like(model, run_onnx(path, X), X)


def test_to_onnx_trained_links_are_the_ones_asked_for(
    trained_models: dict[str, LinearModel],
) -> None:
    links = {kind: model.link for kind, model in trained_models.items()}
    assert links == {
        "sigmoid": "sigmoid",
        "hinge": "identity",
        "multiclass": "softmax",
        "regressor": "identity",
        "multilabel": "sigmoid",
    }


@pytest.mark.parametrize(
    "predictor_type", ["binary_classifier", "multiclass_classifier", "regressor"]
)
def test_to_onnx_predicts_like_predict_for_dense_and_sparse_input(
    predictor_type: str, tmp_path: Path
) -> None:
    model = built_model(predictor_type)
    X = make_features(400, seed=3, zeros=0.7)
    outputs = run_onnx(model.to_onnx(tmp_path / "model.onnx"), X)
    assert_predicts_like(model, outputs, X)
    assert_predicts_like(model, outputs, sp.csr_matrix(X))


def test_to_onnx_binary_threshold_compares_like_predict_at_the_boundary(
    tmp_path: Path,
) -> None:
    # The identity link makes score == feature exactly. float32(0.7) lies
    # below 0.7, so predict (comparing in float64) labels it 0.0; comparing
    # with the threshold rounded to float32 would label it 1.0.
    model = LinearModel("binary_classifier", [[1.0]], [0.0], "identity", 0.7)
    at = np.float32(0.7)
    above = np.nextafter(at, np.float32(1.0))
    X = np.array([[at], [above], [0.9], [0.0]], dtype=np.float32)
    outputs = run_onnx(model.to_onnx(tmp_path / "model.onnx"), X)
    expected = model.predict(X).predicted_label
    assert expected.tolist() == [0.0, 1.0, 1.0, 0.0]
    np.testing.assert_array_equal(outputs["predicted_label"], expected)


def test_to_onnx_multiclass_ties_pick_the_lowest_index(tmp_path: Path) -> None:
    model = LinearModel(
        "multiclass_classifier",
        np.zeros((FEATURE_DIM, NUM_CLASSES)),
        [0.0, 1.0, 1.0, 0.0],
        "softmax",
    )
    X = make_features(5, seed=4)
    outputs = run_onnx(model.to_onnx(tmp_path / "model.onnx"), X)
    assert outputs["predicted_label"].tolist() == [1.0] * 5
    assert model.predict(X).predicted_label.tolist() == [1.0] * 5


@pytest.mark.parametrize("rows", [1, 1000])
def test_to_onnx_batch_dimension_is_dynamic(
    trained_models: dict[str, LinearModel], rows: int, tmp_path: Path
) -> None:
    for kind, model in trained_models.items():
        path = model.to_onnx(tmp_path / f"{kind}.onnx")
        X = make_features(rows, seed=5)
        outputs = run_onnx(path, X)
        assert outputs["score"].shape[0] == rows
        assert_predicts_like(model, outputs, X)


# --- the file ---------------------------------------------------------------


@pytest.mark.parametrize("kind", TRAINED_KINDS)
def test_to_onnx_file_passes_the_onnx_checker(
    trained_models: dict[str, LinearModel], kind: str, tmp_path: Path
) -> None:
    path = trained_models[kind].to_onnx(tmp_path / "model.onnx")
    onnx.checker.check_model(os.fspath(path), full_check=True)
    proto = onnx.load(path)
    assert proto.ir_version == onnx_module.IR_VERSION
    assert [(o.domain, o.version) for o in proto.opset_import] == [
        ("", onnx_module.OPSET_VERSION)
    ]
    (features,) = proto.graph.input
    dims = features.type.tensor_type.shape.dim
    assert features.name == "features"
    assert [dims[0].dim_param, dims[1].dim_value] == ["N", FEATURE_DIM]


@pytest.mark.parametrize(
    ("kind", "outputs"),
    [
        ("sigmoid", ["score", "predicted_label"]),
        ("multiclass", ["score", "predicted_label"]),
        ("regressor", ["score"]),
        ("multilabel", ["score", "predicted_label"]),
    ],
)
def test_to_onnx_outputs_are_named_as_in_predict(
    trained_models: dict[str, LinearModel],
    kind: str,
    outputs: list[str],
    tmp_path: Path,
) -> None:
    proto = onnx.load(trained_models[kind].to_onnx(tmp_path / "model.onnx"))
    assert [output.name for output in proto.graph.output] == outputs


def test_to_onnx_metadata_carries_predictor_type_and_label_names(
    trained_models: dict[str, LinearModel], tmp_path: Path
) -> None:
    model = trained_models["sigmoid"]
    path = model.to_onnx(tmp_path / "model.onnx")
    props = metadata(path)
    assert props["predictor_type"] == "binary_classifier"
    assert json.loads(props["label_names"]) == ["no", "yes"]
    assert float(props["threshold"]) == model.threshold
    assert props["link"] == "sigmoid"
    assert props["lodgepole_version"] == lodgepole.__version__
    assert "feature_names" not in props  # trained on a numpy array
    assert "predicted_label = 1.0 where score >=" in onnx.load(path).doc_string


def test_to_onnx_metadata_carries_feature_names_of_a_dataframe(
    tmp_path: Path,
) -> None:
    columns = [f"band_{i}" for i in range(FEATURE_DIM)]
    frame = pd.DataFrame(make_features(600, seed=6), columns=columns)
    model = train_model("multiclass", frame)
    assert model.feature_names == tuple(columns)
    props = metadata(model.to_onnx(tmp_path / "model.onnx"))
    assert json.loads(props["feature_names"]) == columns
    assert json.loads(props["label_names"]) == ["north", "east", "south", "west"]
    assert props["num_classes"] == str(NUM_CLASSES)


def test_to_onnx_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "model.onnx"
    built_model("regressor", seed=0).to_onnx(target)
    replacement = built_model("regressor", seed=1)
    replacement.to_onnx(target)
    assert os.listdir(target.parent) == ["model.onnx"]
    X = make_features(10, seed=7)
    assert_predicts_like(replacement, run_onnx(target, X), X)


def test_to_onnx_removes_its_temporary_file_when_the_write_fails(
    tmp_path: Path,
) -> None:
    (tmp_path / "model.onnx").mkdir()
    with pytest.raises(IsADirectoryError):
        built_model("regressor").to_onnx(tmp_path / "model.onnx")
    assert os.listdir(tmp_path) == ["model.onnx"]
    assert os.listdir(tmp_path / "model.onnx") == []


def test_model_to_onnx_gives_the_same_bytes_for_the_same_model() -> None:
    model = built_model("binary_classifier")
    first = onnx_module.model_to_onnx(model).SerializeToString()
    assert onnx_module.model_to_onnx(model).SerializeToString() == first


def test_model_to_onnx_refuses_weights_larger_than_a_file_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(onnx_module, "_MAX_WEIGHT_BYTES", 16)
    with pytest.raises(ModelFormatError, match=r"more than one ONNX file can hold"):
        onnx_module.model_to_onnx(built_model("regressor"))


def test_to_onnx_without_onnx_raises_import_error_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes ``import onnx`` fail
    monkeypatch.delitem(sys.modules, "lodgepole._onnx")
    with pytest.raises(ImportError, match=r'pip install "lodgepole\[onnx\]"'):
        built_model("regressor").to_onnx(tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()
