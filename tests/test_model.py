"""Tests for lodgepole.model: prediction, validation and the model artifact."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
from sklearn.linear_model import LinearRegression, LogisticRegression

import lodgepole._artifact as artifact_module
import lodgepole.model as model_module
from lodgepole._types import PredictorType
from lodgepole.exceptions import DataFormatError, ModelFormatError
from lodgepole.model import FORMAT_NAME, LinearModel, Prediction

FEATURE_DIM = 6
NUM_CLASSES = 4


def make_model(predictor_type: str, seed: int = 0, **overrides: object) -> LinearModel:
    rng = np.random.default_rng(seed)
    several = ("multiclass_classifier", "multilabel_classifier")
    k = NUM_CLASSES if predictor_type in several else 1
    links = {
        "binary_classifier": "sigmoid",
        "multiclass_classifier": "softmax",
        "regressor": "identity",
        "multilabel_classifier": "sigmoid",
    }
    num_labels = {
        "binary_classifier": 2,
        "multiclass_classifier": k,
        "regressor": 1,
        "multilabel_classifier": k,
    }
    thresholds = {
        "binary_classifier": 0.1 + 0.2,
        "multilabel_classifier": (0.1 + 0.2, 0.5, 0.7, 0.25),
    }
    fields: dict[str, object] = {
        "predictor_type": predictor_type,
        "weights": rng.normal(size=(FEATURE_DIM, k)),
        "bias": rng.normal(size=k),
        "link": links[predictor_type],
        "threshold": thresholds.get(predictor_type),
        "label_names": tuple(f"label {i}" for i in range(num_labels[predictor_type])),
        "feature_names": tuple(f"f{i}" for i in range(FEATURE_DIM)),
        "hyperparameters": {"learning_rate": 1 / 3, "loss": "auto", "epochs": 15},
        "metrics": {"validation": {"loss": 2 / 3, "roc_auc_score": math.nan}},
        "metadata": {"summary": {"best_epoch": np.int64(4), "losses": [0.5, 0.25]}},
    }
    fields.update(overrides)
    return LinearModel(**fields)


def make_features(n: int = 40, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, FEATURE_DIM))
    X[rng.random(X.shape) < 0.5] = 0.0
    return X


def artifact_path(tmp_path: Path, kind: str) -> Path:
    return tmp_path / ("model.tar.gz" if kind == "tar" else "model")


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def artifact_bytes(model: LinearModel, tmp_path: Path) -> dict[str, bytes]:
    directory = model.save(tmp_path / "source")
    return {
        name: (directory / name).read_bytes() for name in artifact_module.ARTIFACT_FILES
    }


# --- round trips ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["directory", "tar"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("predictor_type", [t.value for t in PredictorType])
def test_linear_model_round_trip_gives_identical_predictions(
    tmp_path: Path, predictor_type: str, sparse: bool, kind: str
) -> None:
    model = make_model(predictor_type)
    X = make_features()
    features = sp.csr_matrix(X) if sparse else X
    loaded = LinearModel.load(model.save(artifact_path(tmp_path, kind)))

    before, after = model.predict(features), loaded.predict(features)
    assert after.score.dtype == np.float32
    assert np.array_equal(before.score, after.score)
    if predictor_type == "regressor":
        assert before.predicted_label is None and after.predicted_label is None
    else:
        assert np.array_equal(before.predicted_label, after.predicted_label)
    assert np.array_equal(model.weights, loaded.weights)
    assert np.array_equal(model.bias, loaded.bias)


@pytest.mark.parametrize("kind", ["directory", "tar"])
def test_linear_model_round_trip_keeps_every_field_exactly(
    tmp_path: Path, kind: str
) -> None:
    model = make_model("binary_classifier")
    loaded = LinearModel.load(model.save(artifact_path(tmp_path, kind)))

    assert loaded.predictor_type is PredictorType.BINARY
    assert loaded.threshold == 0.1 + 0.2 == 0.30000000000000004
    assert loaded.link == "sigmoid"
    assert loaded.label_names == ("label 0", "label 1")
    assert loaded.feature_names == model.feature_names
    assert loaded.hyperparameters == {
        "learning_rate": 1 / 3,
        "loss": "auto",
        "epochs": 15,
    }
    assert loaded.metrics["validation"]["loss"] == 2 / 3
    assert math.isnan(loaded.metrics["validation"]["roc_auc_score"])
    assert loaded.metadata == {"summary": {"best_epoch": 4, "losses": (0.5, 0.25)}}
    assert type(loaded.metadata["summary"]["best_epoch"]) is int


def test_linear_model_save_writes_strict_json_with_checksum(tmp_path: Path) -> None:
    directory = make_model("multiclass_classifier").save(tmp_path / "model")

    def reject(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    text = (directory / "model.json").read_text()
    document = json.loads(text, parse_constant=reject)
    npz = (directory / "weights.npz").read_bytes()
    assert document["format"] == FORMAT_NAME
    assert document["format_version"] == 1
    assert document["lodgepole_version"] == "0.1.0"
    assert (document["feature_dim"], document["num_classes"]) == (6, 4)
    assert document["metrics"]["validation"]["roc_auc_score"] is None
    entry = document["files"]["weights.npz"]
    assert entry["sha256"] == hashlib.sha256(npz).hexdigest()
    assert entry["arrays"]["weights"] == {"shape": [6, 4], "dtype": "float32"}
    assert sorted(os.listdir(directory)) == ["model.json", "weights.npz"]


def test_linear_model_save_is_deterministic_and_readable_by_numpy(
    tmp_path: Path,
) -> None:
    model = make_model("regressor")
    first = model.save(tmp_path / "a.tar.gz").read_bytes()
    second = model.save(tmp_path / "b.tar.gz").read_bytes()
    assert first == second

    directory = model.save(tmp_path / "dir")
    with np.load(directory / "weights.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["bias", "weights"]
        assert np.array_equal(archive["weights"], model.weights)


def test_linear_model_save_returns_path_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "deeper" / "model.tar.gz"
    assert make_model("regressor").save(str(target)) == target
    assert tarfile.is_tarfile(target)


# --- prediction maths -------------------------------------------------------


def test_sigmoid_matches_scipy_expit_without_overflow() -> None:
    raw = np.concatenate(
        [np.linspace(-120, 120, 2001), [-1e30, -88.8, 0.0, 88.8, 1e30]]
    ).astype(np.float32)
    score = model_module._sigmoid(raw)
    assert score.dtype == np.float32
    # Against a float64 reference: float32 rounding, and absolute error only
    # among subnormals (scipy's float32 expit flushes those to zero).
    reference = scipy.special.expit(raw.astype(np.float64))
    np.testing.assert_allclose(score, reference, rtol=4e-7, atol=1e-38)
    np.testing.assert_allclose(score, scipy.special.expit(raw), rtol=4e-7, atol=1e-38)
    assert np.all((score >= 0) & (score <= 1))


def test_softmax_matches_scipy_on_large_scores() -> None:
    rng = np.random.default_rng(3)
    raw = (rng.normal(size=(50, 5)) * 40).astype(np.float32)
    raw[0] = [1e4, 1e4 - 1, -1e4, 0, 3e4]
    score = model_module._softmax(raw)
    assert score.dtype == np.float32
    np.testing.assert_allclose(
        score, scipy.special.softmax(raw.astype(np.float64), axis=1), atol=1e-6
    )
    np.testing.assert_allclose(score.sum(axis=1), 1.0, rtol=1e-6)


def test_predict_matches_sklearn_logistic_regression_binary() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, FEATURE_DIM))
    y = (X @ rng.normal(size=FEATURE_DIM) + rng.normal(size=200) > 0).astype(int)
    reference = LogisticRegression().fit(X, y)
    model = LinearModel(
        "binary_classifier", reference.coef_.T, reference.intercept_, "sigmoid"
    )

    prediction = model.predict(X)
    proba = reference.predict_proba(X)[:, 1]
    np.testing.assert_allclose(prediction.score, proba, rtol=1e-5, atol=1e-6)
    away_from_half = np.abs(proba - 0.5) > 1e-5
    assert np.array_equal(
        prediction.predicted_label[away_from_half], reference.predict(X)[away_from_half]
    )


def test_predict_matches_sklearn_logistic_regression_multiclass() -> None:
    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, FEATURE_DIM))
    y = np.argmax(X @ rng.normal(size=(FEATURE_DIM, NUM_CLASSES)), axis=1)
    reference = LogisticRegression(C=0.5).fit(X, y)
    model = LinearModel(
        "multiclass_classifier", reference.coef_.T, reference.intercept_, "softmax"
    )

    prediction = model.predict(sp.csr_array(X))
    np.testing.assert_allclose(
        prediction.score, reference.predict_proba(X), rtol=1e-5, atol=1e-6
    )
    assert np.array_equal(prediction.predicted_label, reference.predict(X))
    assert prediction.predicted_label.dtype == np.float32


def test_predict_matches_sklearn_linear_regression() -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(100, FEATURE_DIM))
    y = X @ rng.normal(size=FEATURE_DIM) * 50 + 1000
    reference = LinearRegression().fit(X, y)
    model = LinearModel(
        "regressor", reference.coef_[:, None], [reference.intercept_], "identity"
    )
    prediction = model.predict(X)
    np.testing.assert_allclose(prediction.score, reference.predict(X), rtol=1e-5)
    assert prediction.predicted_label is None


@pytest.mark.parametrize("predictor_type", [t.value for t in PredictorType])
def test_decision_function_sparse_matches_dense(predictor_type: str) -> None:
    model = make_model(predictor_type)
    X = make_features(seed=9)
    dense = model.decision_function(X)
    np.testing.assert_allclose(
        model.decision_function(sp.csr_matrix(X)), dense, rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        model.decision_function(sp.coo_array(X)), dense, rtol=1e-6, atol=1e-6
    )
    expected = X @ model.weights.astype(np.float64) + model.bias
    np.testing.assert_allclose(dense, expected.squeeze(), rtol=1e-5, atol=1e-5)


def test_decision_function_treats_1d_input_as_one_row() -> None:
    model = make_model("multiclass_classifier")
    row = make_features(1)[0]
    assert model.decision_function(row).shape == (1, NUM_CLASSES)
    assert np.array_equal(
        model.decision_function(row), model.decision_function(row[None])
    )
    assert make_model("regressor").decision_function(row.astype(np.int8)).shape == (1,)


def test_predict_handles_zero_rows() -> None:
    prediction = make_model("multiclass_classifier").predict(np.empty((0, FEATURE_DIM)))
    assert prediction.score.shape == (0, NUM_CLASSES)
    assert prediction.predicted_label.shape == (0,)


def test_predict_binary_label_is_one_when_score_equals_threshold() -> None:
    model = LinearModel("binary_classifier", [[1.0]], [0.0], "identity", threshold=0.5)
    just_below = np.nextafter(np.float32(0.5), np.float32(0))
    X = np.array([[0.5], [just_below], [0.75]], dtype=np.float32)
    assert model.predict(X).predicted_label.tolist() == [1.0, 0.0, 1.0]


def test_predict_binary_threshold_compares_exactly_in_float64() -> None:
    # float32(0.1) is slightly above the double 0.1; its predecessor is below.
    model = LinearModel("binary_classifier", [[1.0]], [0.0], "identity", threshold=0.1)
    tenth = np.float32(0.1)
    X = np.array([[tenth], [np.nextafter(tenth, np.float32(0))]], dtype=np.float32)
    assert model.predict(X).predicted_label.tolist() == [1.0, 0.0]


def test_predict_binary_default_threshold_is_half_of_sigmoid() -> None:
    model = LinearModel("binary_classifier", [[1.0]], [0.0], "sigmoid")
    assert model.threshold == 0.5
    X = np.array([[-1e-3], [0.0], [1e-3]])
    assert model.predict(X).predicted_label.tolist() == [0.0, 1.0, 1.0]


def test_predict_multiclass_ties_go_to_lowest_index() -> None:
    weights = np.array([[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    model = LinearModel("multiclass_classifier", weights, np.zeros(3), "softmax")
    X = np.array([[0.0, 5.0], [2.0, 0.0], [-2.0, 0.0]])
    assert model.predict(X).predicted_label.tolist() == [0.0, 1.0, 0.0]


# --- input errors -----------------------------------------------------------


def test_decision_function_rejects_wrong_feature_count() -> None:
    model = make_model("binary_classifier")
    message = r"expected 6 features \(feature_dim of the model\), got 5"
    with pytest.raises(DataFormatError, match=message):
        model.predict(np.zeros((3, 5)))
    with pytest.raises(DataFormatError, match=message):
        model.predict(sp.csr_matrix((3, 5)))


def test_decision_function_names_first_non_finite_dense_cell() -> None:
    X = make_features(10)
    X[7, 1] = np.inf
    X[4, 5] = np.nan
    with pytest.raises(DataFormatError, match=r"nan at row 4, column 5"):
        make_model("regressor").predict(X)


def test_decision_function_names_first_non_finite_sparse_cell() -> None:
    # Entries of a row are deliberately out of column order.
    X = sp.csr_matrix(
        (np.array([1.0, -np.inf, np.nan, 2.0]), np.array([5, 3, 1, 0]), [0, 0, 3, 4]),
        shape=(3, FEATURE_DIM),
    )
    with pytest.raises(DataFormatError, match=r"nan at row 1, column 1"):
        make_model("regressor").predict(X)


def test_decision_function_rejects_values_beyond_float32() -> None:
    X = np.zeros((2, FEATURE_DIM))
    X[1, 2] = 1e39
    with pytest.raises(DataFormatError, match=r"1e\+39, which is outside the float32"):
        make_model("regressor").predict(X)
    with pytest.raises(DataFormatError, match=r"row 1, column 2"):
        make_model("regressor").predict(sp.csr_matrix(X))


def test_decision_function_rejects_overflowing_scores() -> None:
    model = LinearModel(
        "multiclass_classifier", np.full((1, 3), 1e30), np.zeros(3), "softmax"
    )
    with pytest.raises(DataFormatError, match="score of row 1 overflows float32"):
        model.predict(np.array([[1.0], [1e20]]))


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((2, FEATURE_DIM), dtype=complex), "real numbers.*'complex128'"),
        (np.array([["a"] * FEATURE_DIM]), "real numbers"),
        (np.zeros((2, 3, FEATURE_DIM)), "got 3 dimensions with shape"),
        (sp.csr_matrix(np.zeros((2, FEATURE_DIM), dtype=complex)), "real numbers"),
    ],
)
def test_decision_function_rejects_bad_input_kinds(X: object, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        make_model("regressor").decision_function(X)


# --- construction -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"weights": np.zeros(FEATURE_DIM)}, "weights must be a 2-D array"),
        ({"weights": np.zeros((FEATURE_DIM, 2))}, r"shape \(feature_dim, 1\)"),
        ({"weights": np.zeros((0, 1))}, "at least one row"),
        ({"bias": np.zeros(2)}, r"bias must have shape \(1,\)"),
        ({"link": "softmax"}, "link 'softmax' does not fit.*'sigmoid', 'identity'"),
        ({"threshold": math.inf}, "threshold must be finite"),
        ({"threshold": "0.5"}, "threshold must be a real number"),
        ({"label_names": ("a", "b", "c")}, "label_names must have 2 entries"),
        ({"label_names": "ab"}, "label_names must be a sequence of strings"),
        ({"feature_names": ("f",) * FEATURE_DIM}, r"distinct; \['f'\] repeat"),
        ({"metadata": {1: "x"}}, "metadata must have string keys; got key 1"),
        ({"metadata": {"a": [object()]}}, r"metadata\['a'\]\[0\] must be JSON-able"),
        ({"hyperparameters": [1]}, "hyperparameters must be a mapping"),
        ({"metrics": {"train": {"loss": "low"}}}, r"metrics\['train'\] must map"),
        ({"metrics": {"train": 0.5}}, "metrics must map channel names"),
    ],
)
def test_linear_model_rejects_invalid_fields(overrides: dict, match: str) -> None:
    with pytest.raises(ModelFormatError, match=match):
        make_model("binary_classifier", **overrides)


def test_linear_model_rejects_unknown_predictor_type() -> None:
    with pytest.raises(ModelFormatError, match=r"one of .*got 'ranker'"):
        LinearModel("ranker", np.zeros((3, 1)), np.zeros(1), "identity")


def test_linear_model_rejects_two_class_multiclass() -> None:
    with pytest.raises(ModelFormatError, match=r"num_classes must be >= 3 .* got 2"):
        LinearModel("multiclass_classifier", np.zeros((3, 2)), np.zeros(2), "softmax")


def test_linear_model_rejects_threshold_for_regressor() -> None:
    with pytest.raises(ModelFormatError, match="threshold applies only to"):
        make_model("regressor", threshold=0.5)


def test_linear_model_rejects_non_finite_weights() -> None:
    weights = np.zeros((FEATURE_DIM, 1))
    weights[3, 0] = np.nan
    with pytest.raises(ModelFormatError, match=r"finite.*nan at index \(3, 0\)"):
        make_model("regressor", weights=weights)


def test_linear_model_is_immutable_and_copies_inputs() -> None:
    weights = np.ones((FEATURE_DIM, 1))
    metadata = {"notes": ["a"]}
    model = make_model("regressor", weights=weights, metadata=metadata)
    weights[0, 0] = 5.0
    metadata["notes"].append("b")

    assert model.weights[0, 0] == 1.0 and model.metadata["notes"] == ("a",)
    assert model.weights.dtype == np.float32 and model.weights.flags.c_contiguous
    with pytest.raises(ValueError, match="read-only"):
        model.weights[0, 0] = 2.0
    with pytest.raises(TypeError):
        model.metadata["x"] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.link = "sigmoid"


def test_linear_model_repr_is_short() -> None:
    text = repr(make_model("multiclass_classifier"))
    assert text == (
        "LinearModel(predictor_type='multiclass_classifier', feature_dim=6, "
        "num_classes=4, link='softmax', threshold=None)"
    )
    assert isinstance(make_model("regressor").predict(make_features(2)), Prediction)


# --- loading errors ---------------------------------------------------------


def rewrite_json(directory: Path, **changes: object) -> None:
    """Edit model.json and record the new manifest digest (a deliberate edit)."""
    path = directory / "model.json"
    document = json.loads(path.read_text())
    document.update(changes)
    document["manifest_sha256"] = artifact_module.manifest_digest(document)
    path.write_text(json.dumps(document))


def test_load_rejects_other_format(tmp_path: Path) -> None:
    directory = make_model("regressor").save(tmp_path / "model")
    rewrite_json(directory, format="sagemaker-mxnet")
    with pytest.raises(ModelFormatError, match="format 'sagemaker-mxnet'; expected"):
        LinearModel.load(directory)


def test_load_rejects_newer_format_version(tmp_path: Path) -> None:
    directory = make_model("regressor").save(tmp_path / "model")
    rewrite_json(directory, format_version=2, lodgepole_version="9.0")
    with pytest.raises(
        ModelFormatError, match=r"format_version 2.*reads format_version 1"
    ):
        LinearModel.load(directory)


def test_load_rejects_missing_keys(tmp_path: Path) -> None:
    directory = make_model("regressor").save(tmp_path / "model")
    document = json.loads((directory / "model.json").read_text())
    del document["link"], document["metrics"]
    (directory / "model.json").write_text(json.dumps(document))
    with pytest.raises(ModelFormatError, match=r"required keys \['link', 'metrics'\]"):
        LinearModel.load(directory)


def test_load_rejects_tampered_weights(tmp_path: Path) -> None:
    directory = make_model("binary_classifier").save(tmp_path / "model")
    path = directory / "weights.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(
        ModelFormatError, match=r"weights\.npz is corrupt or was modified"
    ):
        LinearModel.load(directory)


def test_load_rejects_shapes_that_disagree_with_feature_dim(tmp_path: Path) -> None:
    directory = make_model("binary_classifier").save(tmp_path / "model")
    rewrite_json(directory, feature_dim=7)
    with pytest.raises(ModelFormatError, match=r"expected \[7, 1\] from feature_dim=7"):
        LinearModel.load(directory)


def test_load_rejects_wrong_num_classes_for_binary(tmp_path: Path) -> None:
    directory = make_model("binary_classifier").save(tmp_path / "model")
    rewrite_json(directory, num_classes=3)
    with pytest.raises(ModelFormatError, match="num_classes=3, but the weights give"):
        LinearModel.load(directory)


def test_load_refuses_pickled_object_arrays(tmp_path: Path) -> None:
    directory = make_model("regressor").save(tmp_path / "model")
    buffer = io.BytesIO()
    np.savez(buffer, weights=np.array([[1.0]] * FEATURE_DIM, dtype=object), bias=[0.0])
    with pytest.raises(ValueError, match="allow_pickle"):
        np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False)["weights"]

    (directory / "weights.npz").write_bytes(buffer.getvalue())
    document = json.loads((directory / "model.json").read_text())
    sha = hashlib.sha256(buffer.getvalue()).hexdigest()
    document["files"]["weights.npz"]["sha256"] = sha
    document["manifest_sha256"] = artifact_module.manifest_digest(document)
    (directory / "model.json").write_text(json.dumps(document))
    with pytest.raises(ModelFormatError, match="cannot be read without pickle"):
        LinearModel.load(directory)


@pytest.mark.parametrize(
    ("edit", "value"),
    [("threshold", 0.25), ("link", "identity"), ("label_names", ["x", "y"])],
)
def test_load_rejects_a_modified_manifest(tmp_path: Path, edit: str, value: object):
    directory = make_model("binary_classifier").save(tmp_path / "model")
    path = directory / "model.json"
    document = json.loads(path.read_text())
    document[edit] = value  # digest left as it was
    path.write_text(json.dumps(document, indent=2))
    with pytest.raises(ModelFormatError, match=r"model\.json is corrupt or was modif"):
        LinearModel.load(directory)
    del document["manifest_sha256"]
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFormatError, match=r"lacks the required keys.*manifest"):
        LinearModel.load(directory)


def test_manifest_digest_ignores_indentation(tmp_path: Path) -> None:
    directory = make_model("multiclass_classifier").save(tmp_path / "model")
    path = directory / "model.json"
    path.write_text(json.dumps(json.loads(path.read_text())))  # one line
    assert LinearModel.load(directory).predictor_type == "multiclass_classifier"


@pytest.mark.parametrize("name", ["model.json", "weights.npz"])
@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_load_rejects_truncated_files(tmp_path: Path, name: str, keep: float) -> None:
    directory = make_model("multiclass_classifier").save(tmp_path / "model")
    path = directory / name
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelFormatError, match=name.replace(".", r"\.")):
        LinearModel.load(directory)


def test_load_rejects_truncated_tarball(tmp_path: Path) -> None:
    path = make_model("regressor").save(tmp_path / "model.tar.gz")
    data = path.read_bytes()
    for keep in (10, len(data) // 2, len(data) - 5):
        path.write_bytes(data[:keep])
        with pytest.raises(ModelFormatError):
            LinearModel.load(path)


def test_load_bounds_the_data_after_the_tar_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_model("regressor").save(tmp_path / "model.tar.gz")
    monkeypatch.setattr(artifact_module, "_MAX_TRAILING_BYTES", 100)  # tar pads more
    with pytest.raises(ModelFormatError, match="more than 100 bytes after the end"):
        LinearModel.load(path)


def test_load_rejects_directory_without_weights(tmp_path: Path) -> None:
    directory = make_model("regressor").save(tmp_path / "model")
    (directory / "weights.npz").unlink()
    with pytest.raises(ModelFormatError, match=r"has no weights\.npz"):
        LinearModel.load(directory)


def test_load_rejects_missing_path_and_non_tar_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model artifact at"):
        LinearModel.load(tmp_path / "absent")
    bogus = tmp_path / "model.tar.gz"
    bogus.write_bytes(b"not a tarball at all")
    with pytest.raises(
        ModelFormatError, match=r"not a readable \.tar\.gz model artifact"
    ):
        LinearModel.load(bogus)


def test_load_rejects_invalid_json(tmp_path: Path) -> None:
    directory = make_model("regressor").save(tmp_path / "model")
    (directory / "model.json").write_text("{not json")
    with pytest.raises(ModelFormatError, match=r"model\.json is not valid JSON"):
        LinearModel.load(directory)


# --- tar safety -------------------------------------------------------------


def regular(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def test_load_accepts_dot_slash_member_names(tmp_path: Path) -> None:
    model = make_model("multiclass_classifier")
    files = artifact_bytes(model, tmp_path)
    dot = tarfile.TarInfo(".")
    dot.type = tarfile.DIRTYPE
    path = write_tar(
        tmp_path / "dot.tar.gz",
        [(dot, None)] + [(regular(f"./{name}"), data) for name, data in files.items()],
    )
    X = make_features()
    assert np.array_equal(
        LinearModel.load(path).predict(X).score, model.predict(X).score
    )


def link_member(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ((regular("../evil"), b"x"), r"a regular file '\.\./evil'"),
        ((regular("/etc/model.json"), b"x"), "'/etc/model.json'"),
        ((regular("notes.txt"), b"x"), "'notes.txt'; a model artifact may hold only"),
        ((link_member("model.json", tarfile.SYMTYPE, "/etc/passwd"), None), "symbolic"),
        ((link_member("weights.npz", tarfile.LNKTYPE, "x"), None), "a hard link"),
        ((link_member("sub", tarfile.DIRTYPE, ""), None), "a directory 'sub'"),
    ],
)
def test_load_refuses_unsafe_tar_members(
    tmp_path: Path, extra: tuple[tarfile.TarInfo, bytes | None], match: str
) -> None:
    files = artifact_bytes(make_model("regressor"), tmp_path)
    members = [extra] + [(regular(name), data) for name, data in files.items()]
    path = write_tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(ModelFormatError, match=match):
        LinearModel.load(path)
    assert not (tmp_path / "evil").exists()


def test_load_refuses_duplicate_and_missing_tar_members(tmp_path: Path) -> None:
    files = artifact_bytes(make_model("regressor"), tmp_path)
    twice = [(regular("model.json"), files["model.json"])] * 2
    with pytest.raises(ModelFormatError, match=r"holds model\.json twice"):
        LinearModel.load(write_tar(tmp_path / "twice.tar.gz", twice))
    with pytest.raises(ModelFormatError, match=r"has no weights\.npz"):
        LinearModel.load(write_tar(tmp_path / "half.tar.gz", twice[:1]))


def test_load_refuses_oversized_tar_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_model("regressor").save(tmp_path / "model.tar.gz")
    monkeypatch.setattr(artifact_module, "MAX_MEMBER_BYTES", 100)
    with pytest.raises(ModelFormatError, match=r"more than the limit of 100"):
        LinearModel.load(path)


# --- atomic writes ----------------------------------------------------------


def fail_on_call(real: object, call_number: int) -> object:
    calls = []

    def wrapper(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if len(calls) == call_number:
            raise OSError("simulated disk failure")
        return real(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize(
    ("target", "call_number"),
    [("_write_file", 2), ("os.rename", 2)],
)
def test_save_directory_failure_keeps_old_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, call_number: int
) -> None:
    old, new = (
        make_model("binary_classifier", seed=1),
        make_model("binary_classifier", 2),
    )
    path = old.save(tmp_path / "model")
    if target == "os.rename":
        monkeypatch.setattr(os, "rename", fail_on_call(os.rename, call_number))
    else:
        patched = fail_on_call(artifact_module._write_file, call_number)
        monkeypatch.setattr(artifact_module, target, patched)

    with pytest.raises(OSError, match="simulated disk failure"):
        new.save(path)
    monkeypatch.undo()
    X = make_features()
    assert np.array_equal(LinearModel.load(path).predict(X).score, old.predict(X).score)
    assert os.listdir(tmp_path) == ["model"]
    assert sorted(os.listdir(path)) == ["model.json", "weights.npz"]


def test_save_directory_replaces_old_artifact(tmp_path: Path) -> None:
    old, new = make_model("regressor", seed=1), make_model("regressor", seed=2)
    path = old.save(tmp_path / "model")
    new.save(path)
    X = make_features()
    assert np.array_equal(LinearModel.load(path).predict(X).score, new.predict(X).score)
    assert os.listdir(tmp_path) == ["model"]


@pytest.mark.parametrize("stage", ["addfile", "replace"])
def test_save_tarball_failure_keeps_old_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    old, new = (
        make_model("multiclass_classifier", 1),
        make_model("multiclass_classifier", 2),
    )
    path = old.save(tmp_path / "model.tar.gz")
    before = path.read_bytes()
    if stage == "addfile":
        patched = fail_on_call(tarfile.TarFile.addfile, 2)
        monkeypatch.setattr(tarfile.TarFile, "addfile", patched)
    else:
        monkeypatch.setattr(os, "replace", fail_on_call(os.replace, 1))

    with pytest.raises(OSError, match="simulated disk failure"):
        new.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.tar.gz"]


def test_save_refuses_to_replace_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match=r"'thesis\.tex', which is not part"):
        make_model("regressor").save(tmp_path / "home")
    assert (tmp_path / "home" / "thesis.tex").read_text() == "precious"

    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is not a directory"):
        make_model("regressor").save(tmp_path / "file")
    assert sorted(os.listdir(tmp_path)) == ["file", "home"]


def test_save_fills_existing_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    model = make_model("regressor")
    model.save(tmp_path / "model")
    assert LinearModel.load(tmp_path / "model").feature_dim == FEATURE_DIM


def test_linear_model_turns_non_finite_metadata_into_none(tmp_path: Path) -> None:
    metadata = {"summary": {"last_loss": math.nan, "scale": np.float32(np.inf)}}
    model = make_model("regressor", metadata=metadata, hyperparameters={"l1": -np.inf})
    assert model.metadata == {"summary": {"last_loss": None, "scale": None}}
    assert model.hyperparameters == {"l1": None}
    loaded = LinearModel.load(model.save(tmp_path / "model"))
    assert loaded.metadata == model.metadata


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_save_writes_world_readable_artifacts(tmp_path: Path) -> None:
    model = make_model("regressor")
    directory = model.save(tmp_path / "model")
    tarball = model.save(tmp_path / "model.tar.gz")
    assert directory.stat().st_mode & 0o777 == 0o755
    assert tarball.stat().st_mode & 0o777 == 0o644


def test_linear_model_pickles_through_its_constructor() -> None:
    import pickle

    model = LinearModel(
        "multiclass_classifier",
        np.arange(12.0).reshape(4, 3),
        np.array([0.5, -1.0, 2.0]),
        "softmax",
        label_names=("a", "b", "c"),
        feature_names=("w", "x", "y", "z"),
        hyperparameters={"epochs": 3, "wd": [1e-4, 0.0]},
        metrics={"test": {"multiclass_accuracy": 0.75, "auc": float("nan")}},
        metadata={"note": {"nested": (1, 2)}},
    )
    data = pickle.dumps(model)
    assert b"mappingproxy" not in data  # rebuilt by value, not by internals
    again = pickle.loads(data)
    assert again.weights.flags.writeable is False
    for name in ("label_names", "feature_names", "hyperparameters", "metadata"):
        assert getattr(again, name) == getattr(model, name)
    assert again.metrics["test"]["multiclass_accuracy"] == 0.75
    X = np.ones((2, 4))
    np.testing.assert_array_equal(again.predict(X).score, model.predict(X).score)
