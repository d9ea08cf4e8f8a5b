"""Classification metrics against scikit-learn, by hand and by property."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.metrics import (
    METRIC_DIRECTIONS,
    accuracy_score,
    balanced_accuracy_score,
    binary_scores,
    compute_metrics,
    confusion_matrix,
    dcg_score,
    is_maximized,
    log_loss,
    macro_scores,
    per_class_scores,
    roc_auc_score,
    top_k_accuracy_score,
)

SEEDS = [0, 1, 2]
K = 5


def _labels(
    seed: int, n: int = 400, num_classes: int = K
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True labels, predictions that never use the last class, and weights."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, num_classes, n).astype(np.float32)
    pred = np.where(rng.random(n) < 0.6, true, rng.integers(0, num_classes, n))
    pred = np.minimum(pred, num_classes - 2).astype(np.int64)
    weights = rng.uniform(0.1, 3.0, n)
    return true, pred, weights


def _proba(
    seed: int, n: int = 300, num_classes: int = K, decimals: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and rounded softmax probabilities, so that ties occur."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, num_classes)) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba = np.round(proba, decimals)
    true = rng.integers(0, num_classes, n)
    return true, proba, rng.uniform(0.1, 3.0, n)


def _weights_or_none(weights: np.ndarray, weighted: bool) -> np.ndarray | None:
    return weights if weighted else None


# --------------------------------------------------------------------------
# Label metrics against scikit-learn
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_accuracy_score_matches_sklearn(seed: int, weighted: bool) -> None:
    true, pred, weights = _labels(seed)
    w = _weights_or_none(weights, weighted)
    expected = skm.accuracy_score(true, pred, sample_weight=w)
    assert accuracy_score(true, pred, sample_weight=w) == pytest.approx(expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("normalize", [None, "true", "pred", "all"])
def test_confusion_matrix_matches_sklearn(
    seed: int, weighted: bool, normalize: str | None
) -> None:
    true, pred, weights = _labels(seed)
    w = _weights_or_none(weights, weighted)
    expected = skm.confusion_matrix(
        true, pred, labels=range(K), sample_weight=w, normalize=normalize
    )
    got = confusion_matrix(true, pred, K, normalize=normalize, sample_weight=w)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_confusion_matrix_is_int64_counts_when_unweighted() -> None:
    got = confusion_matrix([0, 1, 1], [1, 1, 1], 3)
    assert got.dtype == np.int64
    assert got.tolist() == [[0, 1, 0], [0, 2, 0], [0, 0, 0]]


def test_confusion_matrix_row_normalised_keeps_empty_rows_zero() -> None:
    got = confusion_matrix([0, 0, 2], [0, 1, 2], 3, normalize="true")
    assert got.tolist() == [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_per_class_scores_match_sklearn_with_a_class_never_predicted(
    seed: int, weighted: bool, beta: float
) -> None:
    true, pred, weights = _labels(seed)
    w = _weights_or_none(weights, weighted)
    precision, recall, f_beta, support = skm.precision_recall_fscore_support(
        true, pred, beta=beta, labels=range(K), sample_weight=w, zero_division=0
    )
    got = per_class_scores(true, pred, K, beta=beta, sample_weight=w)

    assert got["precision"][K - 1] == 0.0  # never predicted
    np.testing.assert_allclose(got["precision"], precision, rtol=1e-12)
    np.testing.assert_allclose(got["recall"], recall, rtol=1e-12)
    np.testing.assert_allclose(got["f_beta"], f_beta, rtol=1e-12)
    np.testing.assert_allclose(got["support"], support, rtol=1e-12)


def test_per_class_scores_are_zero_for_a_class_seen_nowhere() -> None:
    got = per_class_scores([0, 1, 1], [0, 1, 0], 4)
    assert got["precision"].tolist() == [0.5, 1.0, 0.0, 0.0]
    assert got["recall"].tolist() == [1.0, 0.5, 0.0, 0.0]
    np.testing.assert_allclose(got["f_beta"], [2 / 3, 2 / 3, 0.0, 0.0])
    assert got["support"].tolist() == [1, 2, 0, 0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("classes", ["observed", "all"])
def test_macro_scores_match_sklearn(seed: int, weighted: bool, classes: str) -> None:
    true, pred, weights = _labels(seed, num_classes=K + 1)
    true[true == K] = 0  # class K is now seen nowhere: only "all" counts it
    w = _weights_or_none(weights, weighted)
    labels = range(K + 1) if classes == "all" else None
    kwargs = {"labels": labels, "sample_weight": w, "zero_division": 0}
    got = macro_scores(true, pred, K + 1, beta=2.0, sample_weight=w, classes=classes)

    expected = skm.precision_score(true, pred, average="macro", **kwargs)
    assert got["macro_precision"] == pytest.approx(expected, rel=1e-12)
    expected = skm.recall_score(true, pred, average="macro", **kwargs)
    assert got["macro_recall"] == pytest.approx(expected, rel=1e-12)
    expected = skm.fbeta_score(true, pred, beta=2.0, average="macro", **kwargs)
    assert got["macro_f_beta"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_balanced_accuracy_score_matches_sklearn(seed: int, weighted: bool) -> None:
    true, pred, weights = _labels(seed)
    w = _weights_or_none(weights, weighted)
    expected = skm.balanced_accuracy_score(true, pred, sample_weight=w)
    assert balanced_accuracy_score(true, pred, K, w) == pytest.approx(expected)


def test_balanced_accuracy_score_skips_classes_only_predicted() -> None:
    true, pred = [0, 0, 1, 1], [0, 2, 1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = skm.balanced_accuracy_score(true, pred)
    assert balanced_accuracy_score(true, pred, 3) == expected == 0.5


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_scores_match_sklearn(seed: int, weighted: bool) -> None:
    true, pred, weights = _labels(seed, num_classes=2)
    pred = np.where(np.random.default_rng(seed).random(pred.size) < 0.2, 1, pred)
    w = _weights_or_none(weights, weighted)
    got = binary_scores(true, pred, beta=0.5, sample_weight=w)
    assert got == pytest.approx(
        {
            "accuracy": skm.accuracy_score(true, pred, sample_weight=w),
            "precision": skm.precision_score(true, pred, sample_weight=w),
            "recall": skm.recall_score(true, pred, sample_weight=w),
            "f_beta": skm.fbeta_score(true, pred, beta=0.5, sample_weight=w),
        },
        rel=1e-12,
    )


def test_binary_scores_precision_is_zero_when_nothing_predicted_positive() -> None:
    got = binary_scores([0, 1, 1], [0, 0, 0])
    assert got == {"accuracy": 1 / 3, "precision": 0.0, "recall": 0.0, "f_beta": 0.0}


# --------------------------------------------------------------------------
# Score metrics against scikit-learn
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_accuracy_score_matches_sklearn_with_ties(
    seed: int, weighted: bool, k: int
) -> None:
    true, proba, weights = _proba(seed)
    w = _weights_or_none(weights, weighted)
    assert (proba == proba.max(axis=1, keepdims=True)).sum(axis=1).max() > 1
    expected = skm.top_k_accuracy_score(
        true, proba, k=k, labels=range(K), sample_weight=w
    )
    assert top_k_accuracy_score(true, proba, k, w) == pytest.approx(expected)


def test_top_k_accuracy_score_ranks_higher_index_first_among_ties() -> None:
    scores = [[0.4, 0.4, 0.2], [0.4, 0.4, 0.2]]
    assert top_k_accuracy_score([1, 0], scores, k=1) == 0.5
    assert top_k_accuracy_score([2, 2], scores, k=3) == 1.0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_dcg_score_matches_sklearn_on_one_hot_relevance_with_ties(
    seed: int, weighted: bool
) -> None:
    true, proba, weights = _proba(seed)
    w = _weights_or_none(weights, weighted)
    expected = skm.dcg_score(np.eye(K)[true], proba, sample_weight=w)
    assert dcg_score(true, proba, w) == pytest.approx(expected, rel=1e-12)


def test_dcg_score_hand_computed_ranks() -> None:
    scores = [[0.1, 0.6, 0.3]] * 3
    # rank of class 1, 2, 0 is 1, 2, 3
    assert dcg_score([1], scores[:1]) == 1.0
    assert dcg_score([2], scores[:1]) == pytest.approx(1 / math.log2(3))
    assert dcg_score([0], scores[:1]) == pytest.approx(0.5)
    expected = (1 + 1 / math.log2(3) + 0.5) / 3
    assert dcg_score([1, 2, 0], scores) == pytest.approx(expected)
    assert dcg_score([1, 0], scores[:2], sample_weight=[1, 3]) == pytest.approx(0.625)


def test_dcg_score_averages_the_discount_over_a_tied_group() -> None:
    # class 0 ties with class 2 behind class 1: ranks 2 and 3 are shared
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / 2
    assert dcg_score([0], [[0.25, 0.5, 0.25]]) == pytest.approx(expected)
    assert dcg_score([0], [[1.0, 1.0, 1.0, 1.0]]) == pytest.approx(
        np.mean(1 / np.log2(np.arange(2, 6)))
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_log_loss_matches_sklearn_for_class_probabilities(
    seed: int, weighted: bool
) -> None:
    true, proba, weights = _proba(seed, decimals=6)
    proba /= proba.sum(axis=1, keepdims=True)
    w = _weights_or_none(weights, weighted)
    expected = skm.log_loss(true, proba, labels=range(K), sample_weight=w)
    assert log_loss(true, proba, w) == pytest.approx(expected, rel=1e-10)


def test_log_loss_matches_sklearn_for_binary_probability_and_float32() -> None:
    rng = np.random.default_rng(3)
    true = rng.integers(0, 2, 200)
    proba = rng.random(200).astype(np.float32)
    proba[:3] = [0.0, 1.0, 0.5]  # clipped to the float32 epsilon
    true[:2] = [1, 0]
    expected = skm.log_loss(true, proba)
    assert log_loss(true, proba) == pytest.approx(expected, rel=1e-5)
    assert log_loss(true, np.stack([1 - proba, proba], axis=1)) == pytest.approx(
        expected, rel=1e-5
    )


def test_log_loss_clips_with_the_given_eps() -> None:
    assert log_loss([0], [[0.0, 1.0]], eps=1e-15) == pytest.approx(-math.log(1e-15))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("decimals", [1, 3, 8])
def test_roc_auc_score_matches_sklearn_with_ties(
    seed: int, weighted: bool, decimals: int
) -> None:
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 2, 500)
    score = np.round(rng.normal(size=500) + true, decimals).astype(np.float32)
    w = _weights_or_none(rng.uniform(0, 2, 500), weighted)
    expected = skm.roc_auc_score(true, score, sample_weight=w)
    assert roc_auc_score(true, score, w) == pytest.approx(expected, rel=1e-10)


def test_roc_auc_score_counts_ties_as_half() -> None:
    assert roc_auc_score([0, 1], [0.3, 0.3]) == 0.5
    assert roc_auc_score([0, 0, 1], [0.1, 0.5, 0.5]) == 0.75


def test_roc_auc_score_raises_when_one_class_present() -> None:
    with pytest.raises(DataFormatError, match=r"one class.*label 1"):
        roc_auc_score([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(DataFormatError, match=r"one class.*label 0"):
        roc_auc_score([0, 1, 0], [0.1, 0.2, 0.3], sample_weight=[1, 0, 1])


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

_labels_and_weights = st.integers(1, 40).flatmap(
    lambda n: st.tuples(
        hnp.arrays(np.int64, n, elements=st.integers(0, 3)),
        hnp.arrays(np.int64, n, elements=st.integers(0, 3)),
        hnp.arrays(np.int64, n, elements=st.integers(1, 4)),
    )
)


@settings(max_examples=60, deadline=None)
@given(_labels_and_weights)
def test_per_class_scores_integer_weights_equal_repeated_rows(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    true, pred, weights = data
    weighted = per_class_scores(true, pred, 4, beta=2.0, sample_weight=weights)
    repeated = per_class_scores(
        np.repeat(true, weights), np.repeat(pred, weights), 4, beta=2.0
    )
    for name in ("precision", "recall", "f_beta", "support"):
        np.testing.assert_allclose(weighted[name], repeated[name], rtol=1e-12)
    counts = confusion_matrix(true, pred, 4, sample_weight=weights)
    assert counts.sum() == weights.sum()
    np.testing.assert_array_equal(counts.sum(axis=1), weighted["support"])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 40).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int64, n, elements=st.integers(0, 1)),
            hnp.arrays(np.float64, n, elements=st.integers(-3, 3).map(float)),
        )
    )
)
def test_roc_auc_score_flips_with_the_score_and_matches_sklearn(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    true, score = data
    if true.min() == true.max():
        with pytest.raises(DataFormatError):
            roc_auc_score(true, score)
        return
    auc = roc_auc_score(true, score)
    assert roc_auc_score(true, -score) == pytest.approx(1 - auc, abs=1e-12)
    assert auc == pytest.approx(skm.roc_auc_score(true, score), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64, (12, 4), elements=st.integers(0, 3).map(float)
    ),  # few values: many ties
    hnp.arrays(np.int64, 12, elements=st.integers(0, 3)),
)
def test_top_k_accuracy_score_grows_with_k_and_k1_ranks_like_sklearn(
    scores: np.ndarray, true: np.ndarray
) -> None:
    values = [top_k_accuracy_score(true, scores, k) for k in range(1, 5)]
    assert values == sorted(values)
    assert values[-1] == 1.0
    assert values[0] == skm.top_k_accuracy_score(true, scores, k=1, labels=range(4))
    assert 0 < dcg_score(true, scores) <= 1


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------


def test_labels_out_of_range_name_the_row_and_value() -> None:
    with pytest.raises(DataFormatError, match=r"y_pred row 2: .*\[0, 3\); got 3"):
        confusion_matrix([0, 1, 2], [0, 1, 3], 3)
    with pytest.raises(DataFormatError, match=r"y_true row 1: .*>= 0; got -1"):
        accuracy_score([0, -1], [0, 0])


def test_non_integer_or_nan_labels_are_rejected() -> None:
    with pytest.raises(DataFormatError, match=r"y_true row 1: .*integer.*got 1\.5"):
        accuracy_score([0.0, 1.5], [0, 1])
    with pytest.raises(DataFormatError, match=r"y_pred row 0: .*integer.*got nan"):
        accuracy_score([0.0, 1.0], [np.nan, 1])


def test_length_mismatch_is_rejected() -> None:
    with pytest.raises(DataFormatError, match="y_pred has 2 rows but y_true has 3"):
        accuracy_score([0, 1, 1], [0, 1])
    with pytest.raises(DataFormatError, match="sample_weight has 1 rows"):
        accuracy_score([0, 1], [0, 1], sample_weight=[1.0])


def test_nan_scores_name_row_and_column() -> None:
    scores = np.full((3, 3), 1 / 3)
    scores[2, 1] = np.nan
    with pytest.raises(DataFormatError, match=r"scores row 2, column 1: .*got nan"):
        top_k_accuracy_score([0, 1, 2], scores, k=1)
    with pytest.raises(DataFormatError, match=r"score row 1: .*finite.*got inf"):
        roc_auc_score([0, 1], [0.5, np.inf])


def test_bad_probabilities_and_weights_are_rejected() -> None:
    with pytest.raises(DataFormatError, match=r"proba row 1, column 0: .*\[0, 1\]"):
        log_loss([0, 1], [[0.5, 0.5], [1.5, -0.5]])
    with pytest.raises(DataFormatError, match=r"sample_weight row 1: .*>= 0"):
        accuracy_score([0, 1], [0, 1], sample_weight=[1.0, -1.0])
    with pytest.raises(DataFormatError, match="sums to 0"):
        accuracy_score([0, 1], [0, 1], sample_weight=[0.0, 0.0])
    with pytest.raises(DataFormatError, match="empty"):
        accuracy_score([], [])
    with pytest.raises(DataFormatError, match=r"shape \(n_rows, num_classes\)"):
        dcg_score([0, 1], [0.2, 0.8])


def test_bad_options_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="normalize must be"):
        confusion_matrix([0], [0], 2, normalize="rows")
    with pytest.raises(ConfigError, match="k must be an integer >= 1; got 0"):
        top_k_accuracy_score([0], [[0.5, 0.5]], k=0)
    with pytest.raises(ConfigError, match="num_classes must be >= 2; got 1"):
        per_class_scores([0], [0], 1)
    with pytest.raises(ConfigError, match="beta must be a finite number >= 0"):
        binary_scores([0], [0], beta=-1.0)
    with pytest.raises(ConfigError, match=r"beta must be.*got '1'"):
        compute_metrics("binary_classifier", [0], [0.5], beta="1")


# --------------------------------------------------------------------------
# compute_metrics and metric directions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_compute_metrics_binary_names_and_values(weighted: bool) -> None:
    rng = np.random.default_rng(7)
    true = rng.integers(0, 2, 300)
    score = 1 / (1 + np.exp(-(rng.normal(size=300) + 2 * true - 1)))
    label = (score >= 0.3).astype(int)
    w = _weights_or_none(rng.uniform(0.5, 2, 300), weighted)
    got = compute_metrics("binary_classifier", true, score, label, sample_weight=w)

    assert list(got) == [
        "binary_classification_accuracy",
        "binary_f_1.000",
        "precision",
        "recall",
        "roc_auc_score",
    ]
    assert got["binary_f_1.000"] == pytest.approx(
        skm.f1_score(true, label, sample_weight=w)
    )
    assert got["precision"] == pytest.approx(
        skm.precision_score(true, label, sample_weight=w)
    )
    assert got["roc_auc_score"] == pytest.approx(
        skm.roc_auc_score(true, score, sample_weight=w)
    )
    default = compute_metrics("binary_classifier", true, score, beta=0.5)
    assert "binary_f_0.500" in default
    assert default["binary_classification_accuracy"] == pytest.approx(
        skm.accuracy_score(true, score >= 0.5)
    )


def test_compute_metrics_binary_auc_is_nan_for_one_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="lodgepole.metrics"):
        got = compute_metrics("binary_classifier", [1, 1], [0.2, 0.9])
    assert math.isnan(got["roc_auc_score"])
    assert got["recall"] == 0.5
    assert "roc_auc_score undefined" in caplog.text


@pytest.mark.parametrize("weighted", [False, True])
def test_compute_metrics_multiclass_names_and_values(weighted: bool) -> None:
    true, proba, weights = _proba(11, decimals=6)
    proba /= proba.sum(axis=1, keepdims=True)
    w = _weights_or_none(weights, weighted)
    got = compute_metrics(
        "multiclass_classifier", true, proba, num_classes=K, sample_weight=w
    )
    label = proba.argmax(axis=1)

    assert list(got) == [
        "multiclass_accuracy",
        "multiclass_top_k_accuracy_3",
        "dcg",
        "macro_recall",
        "macro_precision",
        "macro_f_1.000",
        "multiclass_balanced_accuracy",
        "multiclass_log_loss",
    ]
    kwargs = {"sample_weight": w}
    expected = {
        "multiclass_accuracy": skm.accuracy_score(true, label, **kwargs),
        "multiclass_top_k_accuracy_3": skm.top_k_accuracy_score(
            true, proba, k=3, **kwargs
        ),
        "dcg": skm.dcg_score(np.eye(K)[true], proba, **kwargs),
        "macro_recall": skm.recall_score(true, label, average="macro", **kwargs),
        "macro_precision": skm.precision_score(true, label, average="macro", **kwargs),
        "macro_f_1.000": skm.f1_score(true, label, average="macro", **kwargs),
        "multiclass_balanced_accuracy": skm.balanced_accuracy_score(
            true, label, **kwargs
        ),
        "multiclass_log_loss": skm.log_loss(true, proba, **kwargs),
    }
    assert got == pytest.approx(expected, rel=1e-10)


def test_compute_metrics_multiclass_uses_given_labels_and_top_k() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]])
    got = compute_metrics(
        "multiclass_classifier", [0, 2, 2], proba, [0, 0, 2], top_k=2, beta=2.0
    )
    assert got["multiclass_accuracy"] == 2 / 3
    assert got["multiclass_top_k_accuracy_2"] == 1.0
    assert "macro_f_2.000" in got


def test_compute_metrics_rejects_bad_arguments() -> None:
    with pytest.raises(ConfigError, match="predictor_type must be one of"):
        compute_metrics("classifier", [0], [0.5])
    with pytest.raises(DataFormatError, match="3 columns but num_classes is 4"):
        compute_metrics("multiclass_classifier", [0], [[0.5, 0.3, 0.2]], num_classes=4)
    with pytest.raises(DataFormatError, match=r"y_true row 0: .*\[0, 2\); got 2"):
        compute_metrics("binary_classifier", [2], [0.5])


def test_is_maximized_handles_fixed_and_parametrised_names() -> None:
    assert set(METRIC_DIRECTIONS.values()) == {"maximize", "minimize"}
    for name, direction in METRIC_DIRECTIONS.items():
        assert is_maximized(name) is (direction == "maximize")
    assert is_maximized("binary_f_0.500")
    assert is_maximized("macro_f_1.000")
    assert is_maximized("multiclass_top_k_accuracy_5")
    assert not is_maximized("binary_classification_cross_entropy_objective")
    assert not is_maximized("validation:objective_loss:final")
    assert is_maximized("test:roc_auc_score")
    assert not is_maximized("multiclass_log_loss")
    with pytest.raises(ConfigError, match="unknown metric name 'f1'"):
        is_maximized("f1")


def test_compute_metrics_names_all_have_a_direction() -> None:
    names = list(compute_metrics("binary_classifier", [0, 1], [0.2, 0.8]))
    names += compute_metrics("multiclass_classifier", [0, 2], np.eye(3)[[0, 2]])
    assert all(isinstance(is_maximized(name), bool) for name in names)
    assert not is_maximized("multiclass_log_loss")
