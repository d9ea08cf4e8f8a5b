"""Score metrics: rank the true class among per-class scores or probabilities.

:func:`top_k_accuracy_score`, :func:`dcg_score`, :func:`log_loss` and
:func:`roc_auc_score` read scores (or probabilities) rather than predicted
labels. Labels are integers ``0 .. num_classes - 1`` held in int or float
arrays; every function takes an optional ``sample_weight`` (one non-negative
weight per row) and returns a plain Python float. Each metric costs O(n K) for
``(n, K)`` scores, O(n log n) for the AUC. The functions are re-exported by
:mod:`lodgepole.metrics.classification` and :mod:`lodgepole.metrics`, and agree
with the matching :mod:`sklearn.metrics` functions.

Examples
--------
>>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.metrics._checks import (
    _as_labels,
    _as_scores,
    _as_weights,
    _check_rows,
    _first_bad,
    _mean,
    _where,
)

__all__ = [
    "dcg_score",
    "log_loss",
    "roc_auc_score",
    "top_k_accuracy_score",
]


def _label_and_matrix(
    y_true: ArrayLike, scores: ArrayLike, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(n,)`` labels against a ``(n, K)`` score matrix."""
    matrix = _as_scores(scores, name, ndim=2)
    if matrix.shape[1] < 2:
        raise DataFormatError(
            f"{name} must have one column per class (at least 2); "
            f"got shape {matrix.shape!r}."
        )
    true = _as_labels(y_true, "y_true", matrix.shape[1])
    _check_rows(true.shape[0], matrix, name)
    return true, matrix


def _true_class_rank(true: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row: classes scored strictly higher, tied higher-index, tied in all."""
    rows = np.arange(true.shape[0])
    own = matrix[rows, true][:, None]
    higher = (matrix > own).sum(axis=1)
    tied = matrix == own
    tied_after = (tied & (np.arange(matrix.shape[1]) > true[:, None])).sum(axis=1)
    return higher, tied_after, tied.sum(axis=1)


def top_k_accuracy_score(
    y_true: ArrayLike,
    scores: ArrayLike,
    k: int,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Share of rows whose true class is among the ``k`` highest scores.

    Ties follow :func:`sklearn.metrics.top_k_accuracy_score`: among equal
    scores the class with the larger index ranks first. So the true class is a
    hit when the classes scored strictly higher plus the classes with an equal
    score and a larger index number fewer than ``k``. With ``k >= K`` every
    row is a hit (no warning).

    Parameters
    ----------
    y_true
        Integer labels in ``[0, K)``.
    scores
        ``(n, K)`` scores or probabilities, one column per class.
    k
        How many of the highest-scored classes count, >= 1.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        Weighted share of hits, in ``[0, 1]``.

    Examples
    --------
    >>> scores = [[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.1, 0.6, 0.3]]
    >>> top_k_accuracy_score([1, 0, 0], scores, k=2)
    0.3333333333333333
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be an integer >= 1; got {k!r}.")
    true, matrix = _label_and_matrix(y_true, scores, "scores")
    weights = _as_weights(sample_weight, true.shape[0])

    higher, tied_after, _ = _true_class_rank(true, matrix)
    return _mean(higher + tied_after < k, weights)


def dcg_score(
    y_true: ArrayLike, scores: ArrayLike, sample_weight: ArrayLike | None = None
) -> float:
    """Mean over rows of ``1 / log2(1 + rank)`` of the true class.

    Rank 1 is the highest score. When the true class ties with others, the
    discount is averaged over the ranks the tied group occupies, which equals
    :func:`sklearn.metrics.dcg_score` on one-hot relevances.

    Parameters
    ----------
    y_true
        Integer labels in ``[0, K)``.
    scores
        ``(n, K)`` scores or probabilities, one column per class.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        Weighted mean discount, in ``(0, 1]``; 1 when the true class is always
        ranked first.

    Examples
    --------
    >>> round(dcg_score([0, 2], [[0.7, 0.2, 0.1], [0.7, 0.2, 0.1]]), 4)
    0.75
    """
    true, matrix = _label_and_matrix(y_true, scores, "scores")
    weights = _as_weights(sample_weight, true.shape[0])

    higher, _, tied = _true_class_rank(true, matrix)
    ranks = np.arange(1, matrix.shape[1] + 1)
    cumulative = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(1.0 + ranks))])
    gains = (cumulative[higher + tied] - cumulative[higher]) / tied
    return _mean(gains, weights)


def log_loss(
    y_true: ArrayLike,
    proba: ArrayLike,
    sample_weight: ArrayLike | None = None,
    eps: float | None = None,
) -> float:
    """Mean negative natural log of the probability given to the true class.

    Parameters
    ----------
    y_true
        Integer labels: in ``[0, K)`` for ``(n, K)`` ``proba``, 0 or 1 for
        ``(n,)`` ``proba``.
    proba
        ``(n, K)`` class probabilities, or ``(n,)`` probabilities of class 1.
    sample_weight
        Optional non-negative weight per row.
    eps
        Probabilities are clipped to ``[eps, 1 - eps]`` before the log. The
        default is the machine epsilon of ``proba``'s float type, as in
        scikit-learn >= 1.5.

    Returns
    -------
    float
        Weighted mean cross-entropy, >= 0.

    Notes
    -----
    Rows are not renormalised: only the true class's probability is read, so
    rows that do not sum to 1 are not detected.

    Examples
    --------
    >>> round(log_loss([0, 1], [[0.8, 0.2], [0.4, 0.6]]), 4)
    0.367
    >>> round(log_loss([0, 1], [0.2, 0.6]), 4)
    0.367
    """
    arr = np.asarray(proba)
    if arr.ndim == 1:
        matrix = _as_scores(arr, "proba", ndim=1)
        true = _as_labels(y_true, "y_true", 2)
        _check_rows(true.shape[0], matrix, "proba")
        p_true = np.where(true == 1, matrix, 1 - matrix)
    else:
        true, matrix = _label_and_matrix(y_true, arr, "proba")
        p_true = matrix[np.arange(true.shape[0]), true]
    outside = (matrix < 0) | (matrix > 1)
    if outside.any():
        index = _first_bad(outside)
        raise DataFormatError(
            f"{_where('proba', index)}: expected a probability in [0, 1]; "
            f"got {matrix[index].item()!r}."
        )
    weights = _as_weights(sample_weight, true.shape[0])

    eps = float(np.finfo(matrix.dtype).eps) if eps is None else float(eps)
    if not 0 <= eps < 0.5:
        raise ConfigError(f"eps must be in [0, 0.5); got {eps!r}.")
    return _mean(-np.log(np.clip(p_true, eps, 1 - eps), dtype=np.float64), weights)


def roc_auc_score(
    y_true: ArrayLike, score: ArrayLike, sample_weight: ArrayLike | None = None
) -> float:
    """Area under the ROC curve of a binary score.

    Computed as the weighted Mann-Whitney statistic: the chance that a random
    row labelled 1 scores higher than a random row labelled 0, ties counting
    one half. This equals the trapezoidal area of scikit-learn's ROC curve.

    Parameters
    ----------
    y_true
        Labels 0 or 1.
    score
        ``(n,)`` scores; larger means more likely class 1.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        AUC in ``[0, 1]``.

    Raises
    ------
    DataFormatError
        If only one class has rows of positive weight, as the AUC is then
        undefined.

    Examples
    --------
    >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    values = _as_scores(score, "score", ndim=1)
    true = _as_labels(y_true, "y_true", 2)
    _check_rows(true.shape[0], values, "score")
    weights = _as_weights(sample_weight, true.shape[0])
    if weights is None:
        weights = np.ones(true.shape[0])

    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    positives = np.add.reduceat((weights * true)[order], starts)
    negatives = np.add.reduceat((weights * (1 - true))[order], starts)

    total_pos, total_neg = positives.sum(), negatives.sum()
    if total_pos <= 0 or total_neg <= 0:
        present = 1 if total_pos > 0 else 0
        raise DataFormatError(
            "roc_auc_score is undefined when y_true holds one class; every row "
            f"of positive weight has label {present!r}. Both 0 and 1 are needed."
        )
    below = np.cumsum(negatives) - negatives
    return float(positives @ (below + 0.5 * negatives) / (total_pos * total_neg))
