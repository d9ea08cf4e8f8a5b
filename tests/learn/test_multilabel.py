"""Multilabel training: one logistic head per label in the shared pass."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    precision_score,
    recall_score,
)
from sklearn.multiclass import OneVsRestClassifier

from lodgepole import LinearLearner, LinearModel, train
from lodgepole.exceptions import ConfigError, DataFormatError, ModelFormatError
from lodgepole.metrics import compute_metrics, is_maximized

NUM_LABELS = 5
HP = {"predictor_type": "multilabel_classifier", "num_classes": NUM_LABELS}


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    X, Y = make_multilabel_classification(
        n_samples=12_000,
        n_features=20,
        n_classes=NUM_LABELS,
        n_labels=2,
        random_state=0,
    )
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    return {
        "train": (X[:8000], Y[:8000]),
        "validation": (X[8000:10_000], Y[8000:10_000]),
        "test": (X[10_000:], Y[10_000:]),
    }


@pytest.fixture(scope="module")
def result(data):
    return train(HP, data["train"], data["validation"], data["test"])


def test_multilabel_micro_f1_is_within_a_point_of_one_vs_rest_logistic(data, result):
    X, Y = data["train"]
    X_test, Y_test = data["test"]
    reference = OneVsRestClassifier(LogisticRegression(max_iter=2000)).fit(X, Y)
    theirs = f1_score(Y_test, reference.predict(X_test), average="micro")
    prediction = result.model.predict(X_test)
    mine = f1_score(Y_test, prediction.predicted_label, average="micro")
    assert mine >= theirs - 0.01
    assert result.metrics["test"]["micro_f_1.000"] == pytest.approx(mine)
    assert prediction.score.shape == prediction.predicted_label.shape == (2000, 5)


def test_label_thresholds_are_calibrated_per_label_on_validation(data, result):
    thresholds = result.model.threshold
    assert isinstance(thresholds, tuple) and len(thresholds) == NUM_LABELS
    assert len(set(thresholds)) == NUM_LABELS  # each label its own
    X_val, Y_val = data["validation"]
    score = result.model.predict(X_val).score
    for k, t in enumerate(thresholds):  # each maximises that label's accuracy
        best = max(
            np.mean((score[:, k] >= c) == Y_val[:, k]) for c in np.unique(score[:, k])
        )
        assert np.mean((score[:, k] >= t) == Y_val[:, k]) == pytest.approx(best)
    plain = train(
        {
            **HP,
            "binary_classifier_model_selection_criteria": "loss_function",
            "num_models": 2,
        },
        data["train"],
        data["validation"],
    )
    assert plain.model.threshold == (0.5,) * NUM_LABELS
    f_beta = train(
        {**HP, "binary_classifier_model_selection_criteria": "f_beta", "num_models": 4},
        data["train"],
        data["validation"],
        data["test"],
    )
    assert (
        f_beta.metrics["test"]["micro_f_1.000"]
        >= result.metrics["test"]["micro_f_1.000"] - 0.005
    )


def test_multilabel_metrics_match_scikit_learn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, (300, 4)).astype(float)
    pred = np.where(rng.random((300, 4)) < 0.8, y, 1 - y)
    weight = rng.uniform(0.1, 2.0, 300)
    found = compute_metrics(
        "multilabel_classifier", y, pred, pred, beta=1.0, sample_weight=weight
    )
    expected = {
        "multilabel_subset_accuracy": accuracy_score(y, pred, sample_weight=weight),
        "hamming_loss": hamming_loss(y, pred, sample_weight=weight),
        "micro_precision": precision_score(
            y, pred, average="micro", sample_weight=weight
        ),
        "micro_recall": recall_score(y, pred, average="micro", sample_weight=weight),
        "micro_f_1.000": f1_score(y, pred, average="micro", sample_weight=weight),
        "macro_precision": precision_score(
            y, pred, average="macro", sample_weight=weight
        ),
        "macro_recall": recall_score(y, pred, average="macro", sample_weight=weight),
        "macro_f_1.000": f1_score(y, pred, average="macro", sample_weight=weight),
    }
    assert set(found) == set(expected)
    for name, value in expected.items():
        assert found[name] == pytest.approx(value), name
    assert is_maximized("micro_f_1.000") and not is_maximized("validation:hamming_loss")


def test_multilabel_model_round_trips_with_its_thresholds(result, tmp_path):
    path = result.model.save(tmp_path / "model.tar.gz")
    loaded = LinearModel.load(path)
    assert loaded.threshold == result.model.threshold
    X = np.ones((3, 20), np.float32)
    np.testing.assert_array_equal(
        loaded.predict(X).predicted_label, result.model.predict(X).predicted_label
    )
    with pytest.raises(ModelFormatError, match="threshold must be 2 numbers"):
        LinearModel(
            "multilabel_classifier", np.eye(2), np.zeros(2), "sigmoid", threshold=0.5
        )
    with pytest.raises(ModelFormatError, match="one column per label"):
        LinearModel("multilabel_classifier", np.ones((2, 1)), np.zeros(1), "sigmoid")


def test_bad_multilabel_input_is_refused_with_where_and_why(data):
    X, Y = data["train"]
    with pytest.raises(
        DataFormatError, match=r"needs 5 0/1 labels per record .* got 1"
    ):
        train(HP, (X, Y[:, 0]))
    bad = Y.copy()
    bad[7, 3] = 2.0
    with pytest.raises(DataFormatError, match=r"row 7: label 3 must be 0 or 1"):
        train(HP, (X, bad))
    with pytest.raises(
        DataFormatError, match="only predictor_type 'multilabel_classifier'"
    ):
        train({"predictor_type": "binary_classifier"}, (X, Y))
    with pytest.raises(ConfigError, match=r"num_classes .* is required"):
        train({"predictor_type": "multilabel_classifier"}, (X, Y))
    with pytest.raises(ConfigError, match="must be >= 2"):
        train({**HP, "num_classes": 1}, (X, Y[:, :1]))


def test_estimator_trains_a_multilabel_job(data):
    linear = LinearLearner("multilabel_classifier", num_classes=NUM_LABELS, epochs=3)
    linear.fit({"train": data["train"], "test": data["test"]})
    job = linear.latest_training_job
    assert job.metrics["test"]["micro_f_1.000"] > 0.6
