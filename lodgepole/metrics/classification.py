"""Classification metrics as pure, vectorised functions of labels and scores.

Labels are integers ``0 .. num_classes - 1`` held in int or float arrays (a
label read from any format is a float such as ``2.0``). Every function takes an
optional ``sample_weight`` (one non-negative weight per row) and returns plain
Python floats or numpy arrays. Counting goes through :func:`numpy.bincount`, so
each metric costs O(n) (O(n log n) for the AUC, O(n K) for ranking metrics).

Results agree with the matching :mod:`sklearn.metrics` functions; where
scikit-learn warns about an undefined value (a class never predicted, a class
absent from ``y_true``) lodgepole returns 0 for that class without a warning.

Examples
--------
>>> accuracy_score([0, 1, 2, 2], [0, 2, 2, 2])
0.75
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.exceptions import ConfigError, DataFormatError

__all__ = [
    "accuracy_score",
    "balanced_accuracy_score",
    "binary_scores",
    "confusion_matrix",
    "dcg_score",
    "log_loss",
    "macro_scores",
    "per_class_scores",
    "roc_auc_score",
    "top_k_accuracy_score",
]

logger = logging.getLogger(__name__)

Normalize = Literal["true", "pred", "all"]


# --------------------------------------------------------------------------
# Input checks shared by the metrics (also used by ``regression``)
# --------------------------------------------------------------------------


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    """Index (row, or row and column) of the first True entry of ``mask``."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _where(name: str, index: tuple[int, ...]) -> str:
    if len(index) == 1:
        return f"{name} row {index[0]}"
    return f"{name} row {index[0]}, column {index[1]}"


def _as_numeric(values: ArrayLike, name: str, ndim: int) -> np.ndarray:
    """Return ``values`` as a non-empty numeric array of ``ndim`` dimensions."""
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":
        raise DataFormatError(
            f"{name} must hold numbers; got an array of dtype {arr.dtype.str!r}."
        )
    if arr.ndim != ndim:
        shape = "(n_rows,)" if ndim == 1 else "(n_rows, num_classes)"
        raise DataFormatError(
            f"{name} must have shape {shape}; got shape {arr.shape!r}."
        )
    if arr.shape[0] == 0:
        raise DataFormatError(f"{name} is empty; a metric needs at least one row.")
    return arr


def _as_labels(
    values: ArrayLike, name: str, num_classes: int | None = None
) -> np.ndarray:
    """Check integer labels in ``[0, num_classes)`` and return them as int64."""
    arr = _as_numeric(values, name, ndim=1)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        bad[~bad] = arr[~bad] != np.floor(arr[~bad])
        if bad.any():
            (row,) = _first_bad(bad)
            raise DataFormatError(
                f"{name} row {row}: expected an integer label; got {arr[row].item()!r}."
            )
    upper = np.inf if num_classes is None else num_classes
    bad = (arr < 0) | (arr >= upper)
    if bad.any():
        (row,) = _first_bad(bad)
        expected = f"a label in [0, {num_classes})" if num_classes else "a label >= 0"
        raise DataFormatError(
            f"{name} row {row}: expected {expected}; got {arr[row].item()!r}."
        )
    return arr.astype(np.int64)


def _as_scores(values: ArrayLike, name: str, ndim: int) -> np.ndarray:
    """Check finite float scores of ``ndim`` dimensions."""
    arr = _as_numeric(values, name, ndim)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        index = _first_bad(bad)
        raise DataFormatError(
            f"{_where(name, index)}: expected a finite number; "
            f"got {arr[index].item()!r}."
        )
    return arr


def _check_rows(num_rows: int, other: np.ndarray, name: str) -> None:
    if other.shape[0] != num_rows:
        raise DataFormatError(
            f"{name} has {other.shape[0]} rows but y_true has {num_rows}; "
            "every input needs one entry per row."
        )


def _as_weights(sample_weight: ArrayLike | None, num_rows: int) -> np.ndarray | None:
    """Check one finite, non-negative weight per row with a positive sum."""
    if sample_weight is None:
        return None
    weights = _as_scores(sample_weight, "sample_weight", ndim=1).astype(np.float64)
    _check_rows(num_rows, weights, "sample_weight")
    if (weights < 0).any():
        (row,) = _first_bad(weights < 0)
        raise DataFormatError(
            f"sample_weight row {row}: expected a weight >= 0; "
            f"got {weights[row].item()!r}."
        )
    if weights.sum() <= 0:
        raise DataFormatError(
            "sample_weight sums to 0; at least one row needs a positive weight."
        )
    return weights


def _check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ConfigError(f"num_classes must be an integer; got {num_classes!r}.")
    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2; got {num_classes!r}.")
    return int(num_classes)


def _check_beta(beta: float) -> float:
    number = isinstance(beta, (int, float, np.number)) and not isinstance(beta, bool)
    if not number or not np.isfinite(beta) or beta < 0:
        raise ConfigError(f"beta must be a finite number >= 0; got {beta!r}.")
    return float(beta)


def _mean(values: np.ndarray, weights: np.ndarray | None) -> float:
    if weights is None:
        return float(np.mean(values, dtype=np.float64))
    return float(np.dot(values, weights) / weights.sum())


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio that is 0 where the denominator is 0."""
    out = np.zeros(np.shape(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _label_pair(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray]:
    true = _as_labels(y_true, "y_true", num_classes)
    pred = _as_labels(y_pred, "y_pred", num_classes)
    _check_rows(true.shape[0], pred, "y_pred")
    return true, pred


def _counts(
    true: np.ndarray, pred: np.ndarray, num_classes: int, weights: np.ndarray | None
) -> np.ndarray:
    """Confusion counts, rows true and columns predicted (int64 if unweighted)."""
    flat = np.bincount(
        true * num_classes + pred, weights=weights, minlength=num_classes**2
    )
    return flat.reshape(num_classes, num_classes)


def _f_beta(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, beta: float) -> np.ndarray:
    """F-beta from counts; equals (1+b²)PR/(b²P+R) and is 0 where undefined."""
    b2 = beta * beta
    return _divide((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)


def _per_class(counts: np.ndarray, beta: float) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F-beta and support from confusion counts."""
    tp = np.diag(counts)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    return {
        "precision": _divide(tp, predicted),
        "recall": _divide(tp, support),
        "f_beta": _f_beta(tp, predicted - tp, support - tp, beta),
        "support": support,
    }


# --------------------------------------------------------------------------
# Label metrics
# --------------------------------------------------------------------------


def accuracy_score(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
) -> float:
    """Share of rows whose predicted label equals the true label.

    Parameters
    ----------
    y_true, y_pred
        Integer labels (>= 0), one per row.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        Weighted share of correct rows, in ``[0, 1]``.

    Raises
    ------
    DataFormatError
        If the inputs differ in length or hold a non-integer or negative label.

    Examples
    --------
    >>> accuracy_score([0, 1, 1, 0], [0, 1, 0, 0], sample_weight=[1, 1, 2, 0])
    0.5
    """
    true, pred = _label_pair(y_true, y_pred, None)
    weights = _as_weights(sample_weight, true.shape[0])
    return _mean(true == pred, weights)


def confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int,
    *,
    normalize: Normalize | None = None,
    sample_weight: ArrayLike | None = None,
) -> np.ndarray:
    """Count rows by true label (rows) and predicted label (columns).

    Parameters
    ----------
    y_true, y_pred
        Integer labels in ``[0, num_classes)``.
    num_classes
        Size of the square matrix.
    normalize
        ``None`` for (weighted) counts; ``"true"`` divides each row by its sum,
        ``"pred"`` each column, ``"all"`` the whole matrix. A row or column
        with no rows stays 0.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    numpy.ndarray
        ``(num_classes, num_classes)``; int64 counts when neither weights nor
        normalisation are given, float64 otherwise.

    Examples
    --------
    >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3).tolist()
    [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    >>> confusion_matrix([0, 0, 1], [0, 1, 1], 3, normalize="true").tolist()
    [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ConfigError(
            f"normalize must be None, 'true', 'pred' or 'all'; got {normalize!r}."
        )
    num_classes = _check_num_classes(num_classes)
    true, pred = _label_pair(y_true, y_pred, num_classes)
    weights = _as_weights(sample_weight, true.shape[0])
    counts = _counts(true, pred, num_classes, weights)

    if normalize == "true":
        return _divide(counts, counts.sum(axis=1, keepdims=True))
    if normalize == "pred":
        return _divide(counts, counts.sum(axis=0, keepdims=True))
    if normalize == "all":
        return counts / counts.sum()
    return counts


def per_class_scores(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int,
    *,
    beta: float = 1.0,
    sample_weight: ArrayLike | None = None,
) -> dict[str, np.ndarray]:
    """Precision, recall, F-beta and support of every class.

    A class never predicted has precision 0 and a class absent from ``y_true``
    has recall 0 (no warning); F-beta is 0 when both are 0.

    Parameters
    ----------
    y_true, y_pred
        Integer labels in ``[0, num_classes)``.
    num_classes
        Number of classes; each array in the result has this length.
    beta
        Weight of recall relative to precision in F-beta.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"precision"``, ``"recall"``, ``"f_beta"`` (float64) and ``"support"``
        (rows per true class: int64, or summed weights when weighted).

    Examples
    --------
    >>> scores = per_class_scores([0, 0, 1, 2], [0, 1, 1, 1], 3)
    >>> scores["precision"].round(3).tolist(), scores["support"].tolist()
    ([1.0, 0.333, 0.0], [2, 1, 1])
    """
    num_classes = _check_num_classes(num_classes)
    beta = _check_beta(beta)
    true, pred = _label_pair(y_true, y_pred, num_classes)
    weights = _as_weights(sample_weight, true.shape[0])
    return _per_class(_counts(true, pred, num_classes, weights), beta)


def macro_scores(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int,
    *,
    beta: float = 1.0,
    sample_weight: ArrayLike | None = None,
    classes: Literal["observed", "all"] = "observed",
) -> dict[str, float]:
    """Unweighted means over classes of precision, recall and F-beta.

    Parameters
    ----------
    y_true, y_pred
        Integer labels in ``[0, num_classes)``.
    num_classes
        Number of classes.
    beta
        Weight of recall relative to precision in F-beta.
    sample_weight
        Optional non-negative weight per row.
    classes
        ``"observed"`` averages over the classes occurring in ``y_true`` or
        ``y_pred`` (scikit-learn's ``average="macro"`` with ``labels=None``);
        ``"all"`` averages over all ``num_classes`` classes, so a class seen
        nowhere adds zeros.

    Returns
    -------
    dict of str to float
        ``"macro_precision"``, ``"macro_recall"``, ``"macro_f_beta"``.

    Examples
    --------
    >>> scores = macro_scores([0, 0, 1, 1], [0, 1, 1, 1], 3)
    >>> {name: round(value, 4) for name, value in scores.items()}
    {'macro_precision': 0.8333, 'macro_recall': 0.75, 'macro_f_beta': 0.7333}
    """
    if classes not in ("observed", "all"):
        raise ConfigError(f"classes must be 'observed' or 'all'; got {classes!r}.")
    num_classes = _check_num_classes(num_classes)
    beta = _check_beta(beta)
    true, pred = _label_pair(y_true, y_pred, num_classes)
    weights = _as_weights(sample_weight, true.shape[0])
    scores = _per_class(_counts(true, pred, num_classes, weights), beta)

    keep = np.ones(num_classes, dtype=bool)
    if classes == "observed":
        seen = np.bincount(np.concatenate([true, pred]), minlength=num_classes)
        keep = seen > 0
    return {
        "macro_precision": float(scores["precision"][keep].mean()),
        "macro_recall": float(scores["recall"][keep].mean()),
        "macro_f_beta": float(scores["f_beta"][keep].mean()),
    }


def balanced_accuracy_score(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_classes: int,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Mean recall over the classes present in ``y_true``.

    A class counts as present when its rows carry a positive total weight, as
    in :func:`sklearn.metrics.balanced_accuracy_score`; classes only predicted
    are left out (unlike ``macro_scores(...)["macro_recall"]``).

    Parameters
    ----------
    y_true, y_pred
        Integer labels in ``[0, num_classes)``.
    num_classes
        Number of classes.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        Balanced accuracy in ``[0, 1]``.

    Examples
    --------
    >>> balanced_accuracy_score([0, 0, 0, 1], [0, 0, 1, 1], 3)
    0.8333333333333333
    """
    num_classes = _check_num_classes(num_classes)
    true, pred = _label_pair(y_true, y_pred, num_classes)
    weights = _as_weights(sample_weight, true.shape[0])
    counts = _counts(true, pred, num_classes, weights)

    support = counts.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(counts)[present] / support[present]))


def binary_scores(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    beta: float = 1.0,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """Accuracy, and precision, recall and F-beta of class 1.

    Parameters
    ----------
    y_true, y_pred
        Labels 0 or 1 (``y_pred`` after the decision threshold).
    beta
        Weight of recall relative to precision in F-beta.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    dict of str to float
        ``"accuracy"``, ``"precision"`` (0 if nothing is predicted 1),
        ``"recall"`` (0 if no row is labelled 1) and ``"f_beta"``.

    Examples
    --------
    >>> scores = binary_scores([0, 1, 1, 1, 0], [1, 1, 1, 0, 0], beta=2.0)
    >>> {name: round(value, 4) for name, value in scores.items()}
    {'accuracy': 0.6, 'precision': 0.6667, 'recall': 0.6667, 'f_beta': 0.6667}
    """
    beta = _check_beta(beta)
    true, pred = _label_pair(y_true, y_pred, 2)
    weights = _as_weights(sample_weight, true.shape[0])
    (tn, fp), (fn, tp) = _counts(true, pred, 2, weights)

    return {
        "accuracy": float((tp + tn) / (tp + tn + fp + fn)),
        "precision": float(_divide(tp, tp + fp)),
        "recall": float(_divide(tp, tp + fn)),
        "f_beta": float(_f_beta(tp, fp, fn, beta)),
    }


# --------------------------------------------------------------------------
# Score metrics
# --------------------------------------------------------------------------


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
