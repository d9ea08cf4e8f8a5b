"""Classification metrics as pure, vectorised functions of labels and scores.

Labels are integers ``0 .. num_classes - 1`` held in int or float arrays (a
label read from any format is a float such as ``2.0``). Every function takes an
optional ``sample_weight`` (one non-negative weight per row) and returns plain
Python floats or numpy arrays. Counting goes through :func:`numpy.bincount`, so
each metric costs O(n).

Results agree with the matching :mod:`sklearn.metrics` functions; where
scikit-learn warns about an undefined value (a class never predicted, a class
absent from ``y_true``) lodgepole returns 0 for that class without a warning.

The score metrics (top-k accuracy, DCG, log loss, ROC AUC) live in
:mod:`lodgepole.metrics.ranking` and are re-exported here; the input checks
shared with :mod:`lodgepole.metrics.regression` live in
:mod:`lodgepole.metrics._checks`.

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

from lodgepole.exceptions import ConfigError
from lodgepole.metrics._checks import (
    _as_labels,
    _as_weights,
    _check_beta,
    _check_num_classes,
    _check_rows,
    _mean,
)
from lodgepole.metrics.ranking import (
    dcg_score,
    log_loss,
    roc_auc_score,
    top_k_accuracy_score,
)

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
# Helpers of the label metrics: confusion counts and the ratios built on them
# --------------------------------------------------------------------------


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
