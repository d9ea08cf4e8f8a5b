"""Threshold calibration against a brute-force search, scaler and class weights."""

from __future__ import annotations

import numpy as np
import pytest

from lodgepole.learn.class_weights import (
    ABSENT_CLASS_WEIGHT,
    balanced_class_weights,
    balanced_positive_weight,
)
from lodgepole.learn.early_stopping import EarlyStopping
from lodgepole.learn.scaler import Scaler, sample_rows
from lodgepole.learn.selection import calibrate_thresholds


def _brute_force(score, y, criterion, beta=1.0, target=0.8):
    best = -np.inf
    for t in np.concatenate([np.unique(score), [np.inf]]):
        p = score >= t
        tp = np.sum(p & (y == 1))
        fp = np.sum(p & (y == 0))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / np.sum(y == 1)
        if criterion == "accuracy":
            value = np.mean(p == (y == 1))
        elif criterion == "f_beta":
            d = beta**2 * precision + recall
            value = (1 + beta**2) * precision * recall / d if d else 0.0
        elif criterion == "precision_at_target_recall":
            value = precision if recall >= target else -np.inf
        else:
            precision = precision if tp + fp else 0.0
            value = recall if precision >= target else -np.inf
        best = max(best, value)
    return best


@pytest.mark.parametrize(
    "criterion",
    ["accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibrate_thresholds_matches_brute_force(criterion, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    scores = np.round(rng.random((300, 3)) * 0.5 + y[:, None] * 0.3, 2)  # with ties
    result = calibrate_thresholds(
        scores, y, criterion, beta=2.0, target_recall=0.8, target_precision=0.8
    )
    for m in range(3):
        expected = _brute_force(scores[:, m], y, criterion, beta=2.0)
        assert result.values[m] == pytest.approx(expected)
        predicted = scores[:, m] >= result.thresholds[m]
        # The stored threshold reproduces the value it was chosen for.
        tp = np.sum(predicted & (y == 1))
        if criterion == "accuracy":
            assert np.mean(predicted == (y == 1)) == pytest.approx(expected)
        elif criterion == "precision_at_target_recall":
            assert tp / np.sum(y == 1) >= 0.8


@pytest.mark.parametrize(
    "criterion",
    ["accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision"],
)
def test_calibrate_thresholds_weights_count_like_repeated_rows(criterion):
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    scores = np.round(rng.random((200, 2)) * 0.6 + y[:, None] * 0.2, 2)
    counts = rng.integers(0, 4, 200)  # 0 drops a row, 3 triples it
    weighted = calibrate_thresholds(
        scores, y, criterion, beta=0.5, sample_weight=counts.astype(float)
    )
    rows = np.repeat(np.arange(200), counts)
    repeated = calibrate_thresholds(scores[rows], y[rows], criterion, beta=0.5)
    np.testing.assert_allclose(weighted.values, repeated.values)
    for m in range(2):  # both thresholds split the kept rows the same way
        kept = scores[rows, m]
        np.testing.assert_array_equal(
            kept >= weighted.thresholds[m], kept >= repeated.thresholds[m]
        )


def test_calibrate_thresholds_falls_back_when_target_is_unreachable():
    y = np.array([0, 1, 0, 1, 0, 1])
    scores = np.array([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4]])
    result = calibrate_thresholds(
        scores, y, "recall_at_target_precision", target_precision=0.99
    )
    assert result.values[0] < 0  # ranks below any candidate reaching the target


def test_balanced_class_weights_are_inverse_frequencies():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    weights = balanced_class_weights(labels, num_classes=4)
    np.testing.assert_allclose(weights[:3], [10 / 6, 10 / 3, 10.0], rtol=1e-6)
    assert weights[3] == ABSENT_CLASS_WEIGHT


def test_balanced_positive_weight_equalises_totals():
    labels = np.array([0] * 98 + [1] * 2)
    assert balanced_positive_weight(labels) == 49.0
    assert balanced_positive_weight(np.zeros(5)) == 1.0


def test_scaler_statistics_and_zero_variance_feature():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]], np.float32)
    scaler = Scaler.fit(
        X,
        np.array([10.0, 20.0, 30.0]),
        normalize=True,
        center=True,
        normalize_label=True,
        center_label=True,
    )
    np.testing.assert_allclose(scaler.feature_mean, [3.0, 7.0])
    np.testing.assert_allclose(
        scaler.feature_scale, [np.std([1, 3, 5]), 1.0], rtol=1e-6
    )
    assert scaler.label_mean == 20.0
    assert scaler.label_scale == pytest.approx(np.std([10, 20, 30]))


def test_scaler_without_centring_or_normalising_is_identity():
    X = np.array([[1.0, 2.0], [3.0, 9.0]], np.float32)
    scaler = Scaler.fit(X, normalize=False, center=False)
    assert scaler.feature_mean.tolist() == [0.0, 0.0]
    assert scaler.feature_scale.tolist() == [1.0, 1.0]


def test_sample_rows_is_reproducible_and_bounded():
    rows = sample_rows(1000, 10, seed=3)
    assert len(set(rows.tolist())) == 10
    assert rows.tolist() == sample_rows(1000, 10, seed=3).tolist()
    assert rows.tolist() != sample_rows(1000, 10, seed=4).tolist()


def test_early_stopping_maximised_criterion_and_nan():
    stop = EarlyStopping(patience=1, tolerance=0.1, maximize=True)
    assert stop.update(0.5)
    assert not stop.update(float("nan"))
    assert stop.should_stop
    assert stop.best == 0.5
