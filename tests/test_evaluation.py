"""Tests for lodgepole.evaluation: numbers against scikit-learn, endpoint parity."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

from lodgepole import _plots
from lodgepole._types import PredictorType
from lodgepole.evaluation import Evaluation, evaluate
from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.formats.json import encode_predictions_json
from lodgepole.model import LinearModel

pd = pytest.importorskip("pandas")
metrics = pytest.importorskip("sklearn.metrics")
pytest.importorskip("matplotlib")

FEATURE_DIM = 6
NUM_CLASSES = 4
NAMES = ("spruce", "lodgepole", "aspen", "willow")


def _data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features and noisy labels 0-3 that a linear model gets partly right."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, FEATURE_DIM)).astype(np.float32)
    y = np.argmax(X[:, :NUM_CLASSES] + rng.normal(scale=0.8, size=(n, 4)), axis=1)
    return X, y.astype(np.float32)


@pytest.fixture(scope="module")
def multiclass() -> LinearModel:
    rng = np.random.default_rng(1)
    weights = np.vstack([np.eye(NUM_CLASSES), rng.normal(size=(2, NUM_CLASSES))])
    return LinearModel(
        "multiclass_classifier",
        weights,
        np.array([0.3, 0.0, -0.2, 0.1]),
        "softmax",
        label_names=NAMES,
    )


@pytest.fixture(scope="module")
def binary() -> LinearModel:
    weights = np.array([[1.5], [-0.5], [0.0], [0.2], [0.0], [0.0]])
    return LinearModel("binary_classifier", weights, np.array([0.1]), "sigmoid")


@pytest.fixture(scope="module")
def regressor() -> LinearModel:
    weights = np.arange(1, FEATURE_DIM + 1, dtype=np.float64).reshape(-1, 1)
    return LinearModel("regressor", weights, np.array([2.0]), "identity")


class _JsonPredictor:
    """Answers like an endpoint's JSON output, counting requests."""

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.sizes: list[int] = []

    def predict(self, data: Any, accept: str | None = None) -> dict[str, Any]:
        assert accept == "application/json"
        self.sizes.append(data.shape[0])
        prediction = self.model.predict(data)
        body = encode_predictions_json(prediction.score, prediction.predicted_label)
        return json.loads(body)


def _assert_same(a: Evaluation, b: Evaluation, exact: bool = True) -> None:
    assert a.predictor_type is b.predictor_type
    assert a.num_records == b.num_records
    if exact:
        assert dict(a.metrics) == dict(b.metrics)
    else:
        assert dict(a.metrics) == pytest.approx(dict(b.metrics), rel=1e-6)
    assert a.accuracy == b.accuracy
    for part in ("recall", "confusion", "confusion_normalized"):
        left, right = getattr(a, part), getattr(b, part)
        if left is None:
            assert right is None
        else:
            pd.testing.assert_frame_equal(left, right)


def test_evaluate_multiclass_matches_sklearn(multiclass: LinearModel):
    X, y = _data(500)
    result = evaluate(multiclass, X, y)
    predicted = multiclass.predict(X).predicted_label
    labels = list(range(NUM_CLASSES))

    assert result.predictor_type is PredictorType.MULTICLASS
    assert result.num_records == 500
    assert 0.4 < result.accuracy < 0.95
    assert result.accuracy == pytest.approx(metrics.accuracy_score(y, predicted))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    np.testing.assert_allclose(result.recall["recall"], recall)
    np.testing.assert_allclose(result.recall["precision"], precision)
    np.testing.assert_allclose(result.recall["f1"], f1)
    np.testing.assert_array_equal(result.recall["count"], support)
    expected = metrics.confusion_matrix(y, predicted, labels=labels)
    np.testing.assert_array_equal(result.confusion.to_numpy(), expected)
    np.testing.assert_array_equal(result.recall["correct"], np.diag(expected))
    np.testing.assert_allclose(
        result.confusion_normalized.to_numpy(),
        metrics.confusion_matrix(y, predicted, labels=labels, normalize="true"),
    )
    assert result.metrics["multiclass_accuracy"] == result.accuracy
    assert result.metrics["macro_recall"] == pytest.approx(recall.mean())


def test_evaluate_tables_are_labelled_with_model_label_names(multiclass: LinearModel):
    X, y = _data(200)
    result = evaluate(multiclass, X, y)

    assert result.label_names == NAMES
    assert list(result.recall.index) == list(NAMES)
    assert result.recall.index.name == "label"
    assert list(result.recall.columns) == [
        "count",
        "correct",
        "recall",
        "precision",
        "f1",
    ]
    assert (result.confusion.index.name, result.confusion.columns.name) == (
        "true",
        "predicted",
    )
    assert list(result.confusion.columns) == list(NAMES)
    assert result.label_counts.to_dict() == {
        name: int((y == i).sum()) for i, name in enumerate(NAMES)
    }


def test_evaluate_default_label_names_are_class_indices():
    model = LinearModel("multiclass_classifier", np.eye(3), np.zeros(3), "softmax")
    result = evaluate(model, np.eye(3), [0, 1, 2])
    assert result.label_names == ("0", "1", "2")
    assert result.accuracy == 1.0


def test_evaluate_accepts_label_names_as_y(multiclass: LinearModel):
    X, y = _data(100)
    by_name = np.array([NAMES[int(label)] for label in y])
    _assert_same(evaluate(multiclass, X, by_name), evaluate(multiclass, X, y))


def test_confusion_normalized_rows_sum_to_one_and_empty_class_row_is_zero(
    multiclass: LinearModel,
):
    X, y = _data(300)
    keep = y != 2  # no "aspen" record at all
    result = evaluate(multiclass, X[keep], y[keep])

    normalized = result.confusion_normalized
    assert not normalized.isna().any().any()
    assert normalized.loc["aspen"].tolist() == [0.0] * NUM_CLASSES
    sums = normalized.drop(index="aspen").sum(axis=1)
    np.testing.assert_allclose(sums, 1.0)
    assert result.recall.loc["aspen", "count"] == 0
    assert result.recall.loc["aspen", "recall"] == 0.0


def test_evaluate_binary_matches_sklearn(binary: LinearModel):
    X, _ = _data(400, seed=3)
    rng = np.random.default_rng(4)
    y = (X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=400) > 0).astype(np.float64)
    result = evaluate(binary, X, y, label_names=["no", "yes"])
    prediction = binary.predict(X)

    assert result.predictor_type is PredictorType.BINARY
    assert result.accuracy == pytest.approx(
        metrics.accuracy_score(y, prediction.predicted_label)
    )
    np.testing.assert_array_equal(
        result.confusion.to_numpy(),
        metrics.confusion_matrix(y, prediction.predicted_label),
    )
    assert result.recall.loc["yes", "recall"] == pytest.approx(
        metrics.recall_score(y, prediction.predicted_label)
    )
    assert result.metrics["roc_auc_score"] == pytest.approx(
        metrics.roc_auc_score(y, prediction.score), rel=1e-6
    )
    assert list(result.confusion.index) == ["no", "yes"]


def test_evaluate_regressor_gives_metrics_only(regressor: LinearModel):
    X, _ = _data(300, seed=5)
    rng = np.random.default_rng(6)
    y = X @ np.arange(1, FEATURE_DIM + 1) + 2.0 + rng.normal(size=300)
    result = evaluate(regressor, pd.DataFrame(X), pd.Series(y))
    predicted = regressor.predict(X).score

    assert result.predictor_type is PredictorType.REGRESSOR
    assert result.accuracy is None
    assert result.recall is None and result.confusion is None
    assert result.label_counts is None
    assert result.metrics["mse"] == pytest.approx(
        metrics.mean_squared_error(y, predicted)
    )
    assert result.metrics["r2"] == pytest.approx(metrics.r2_score(y, predicted))
    assert result.metrics["absolute_loss"] == pytest.approx(
        metrics.mean_absolute_error(y, predicted)
    )
    with pytest.raises(ConfigError, match="needs the evaluation of a classifier"):
        result.plot_confusion()


def test_evaluate_gives_same_result_for_dataframe_and_sparse(
    multiclass: LinearModel,
):
    X, y = _data(150)
    X[X < 0.3] = 0.0
    dense = evaluate(multiclass, X, y)
    _assert_same(evaluate(multiclass, pd.DataFrame(X), pd.Series(y)), dense)
    # Sparse products sum in another order: scores agree to float32 rounding.
    _assert_same(evaluate(multiclass, sp.csr_matrix(X), y), dense, exact=False)


@pytest.mark.parametrize("fixture", ["multiclass", "binary", "regressor"])
def test_evaluate_predictor_in_batches_equals_model(
    fixture: str, request: pytest.FixtureRequest
):
    model = request.getfixturevalue(fixture)
    X, y = _data(103, seed=8)
    if fixture == "regressor":
        y = X.sum(axis=1)
    elif fixture == "binary":
        y = (y > 1).astype(np.float32)
    predictor = _JsonPredictor(model)

    remote = evaluate(predictor, X, y, label_names=model.label_names, batches=10)

    assert predictor.sizes == [11, 11, 11] + [10] * 7
    _assert_same(remote, evaluate(model, X, y, batches=10))
    # One block rounds some float32 scores differently, nothing more.
    _assert_same(remote, evaluate(model, X, y), exact=False)


def test_evaluate_skips_empty_batches_when_batches_exceed_records(
    multiclass: LinearModel,
):
    X, y = _data(3)
    predictor = _JsonPredictor(multiclass)
    result = evaluate(predictor, X, y, batches=5)
    assert predictor.sizes == [1, 1, 1]
    assert result.num_records == 3
    assert result.label_names == ("0", "1", "2", "3")


def test_evaluate_through_real_endpoint_equals_in_process(multiclass: LinearModel):
    pytest.importorskip("uvicorn")
    from lodgepole.serving import deploy

    X, y = _data(240, seed=9)
    with deploy(multiclass) as predictor:
        remote = evaluate(predictor, X, y, label_names=NAMES, batches=7)
    _assert_same(remote, evaluate(multiclass, X, y, batches=7))


@pytest.mark.parametrize(
    ("y", "message"),
    [
        ([0, 1, 4], r"y row 2: label 4 is not a class .* \[0, 4\)"),
        ([0, -1, 1], r"y row 1: label -1 is not a class"),
        ([0, 1.5, 1], r"y row 1: label 1.5 is not a class"),
        (["spruce", "oak", "aspen"], r"y row 1: label 'oak' is not a class"),
    ],
)
def test_evaluate_rejects_labels_outside_the_classes(
    multiclass: LinearModel, y: list[Any], message: str
):
    X, _ = _data(3)
    with pytest.raises(DataFormatError, match=message):
        evaluate(multiclass, X, np.array(y))


def test_evaluate_rejects_length_mismatch(multiclass: LinearModel):
    X, y = _data(10)
    with pytest.raises(DataFormatError, match="X has 10 records but y has 9 labels"):
        evaluate(multiclass, X, y[:9])


def test_evaluate_rejects_bad_settings(multiclass: LinearModel):
    X, y = _data(10)
    with pytest.raises(ConfigError, match=r"label_names has 2 names .* 4 classes"):
        evaluate(multiclass, X, y, label_names=["a", "b"])
    with pytest.raises(ConfigError, match="batches must be an integer >= 1; got 0"):
        evaluate(multiclass, X, y, batches=0)
    with pytest.raises(ConfigError, match="must be a LinearModel or a Predictor"):
        evaluate(object(), X, y)


def test_summary_shows_accuracy_recall_and_confusion(multiclass: LinearModel):
    X, y = _data(200)
    result = evaluate(multiclass, X, y)
    text = str(result)

    assert text == result.summary()
    assert f"accuracy: {result.accuracy:.4f}" in text
    assert "per-class recall" in text and "confusion matrix" in text
    for name in NAMES:
        assert name in text
    lodgepole_recall = result.recall.loc["lodgepole", "recall"]
    assert f"{lodgepole_recall:.4f}" in text
    assert "macro_recall" in text


def test_plot_methods_draw_on_new_or_given_axes(multiclass: LinearModel):
    from matplotlib.figure import Figure

    X, y = _data(200)
    result = evaluate(multiclass, X, y)

    ax = result.plot_confusion()
    assert len(ax.texts) == NUM_CLASSES**2
    assert len(ax.figure.axes) == 2  # the heatmap and its colour bar
    cells = result.confusion_normalized.to_numpy().ravel()
    colours = [text.get_color() for text in ax.texts]
    assert colours[int(np.argmax(cells))] == "white"
    assert colours[int(np.argmin(cells))] == "black"
    assert ax.texts[0].get_text() == f"{cells[0]:.2f}"

    counts_ax = result.plot_confusion(normalized=False)
    assert counts_ax.texts[0].get_text() == str(result.confusion.iat[0, 0])

    figure = Figure()
    given = figure.add_subplot()
    assert result.plot_recall(ax=given) is given
    heights = [bar.get_height() for bar in given.patches]
    np.testing.assert_allclose(heights, result.recall["recall"])
    bars = result.plot_label_counts().patches
    assert [bar.get_height() for bar in bars] == result.label_counts.tolist()


def test_missing_optional_dependency_names_the_extra():
    with pytest.raises(ImportError, match=r'pip install "lodgepole\[report\]"'):
        _plots.require("lodgepole_no_such_module", "plotting")
