"""Metrics of multilabel classifiers: K independent 0/1 labels per record.

Every function takes ``y_true`` and ``y_pred`` as ``(n, K)`` arrays of 0/1
and optional per-record weights, and matches scikit-learn's function of the
same meaning (``accuracy_score`` on indicator matrices for the subset
accuracy, ``hamming_loss``, ``precision_recall_fscore_support`` with
``average="micro"`` or ``"macro"``).

Examples
--------
>>> y_true = np.array([[1, 0, 1], [0, 1, 0]])
>>> y_pred = np.array([[1, 0, 0], [0, 1, 0]])
>>> scores = multilabel_scores(y_true, y_pred)
>>> scores["subset_accuracy"], round(scores["hamming_loss"], 4)
(0.5, 0.1667)
>>> round(scores["micro_f_beta"], 4)
0.8
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.exceptions import DataFormatError

__all__ = ["multilabel_scores"]


def _indicator(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise DataFormatError(
            f"{name} must be an (n, K) array of 0/1 labels; got shape {array.shape}."
        )
    if not np.isin(array, (0.0, 1.0)).all():
        raise DataFormatError(f"{name} must hold only 0 and 1.")
    return array


def multilabel_scores(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    beta: float = 1.0,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """Subset accuracy, Hamming loss, and micro and macro precision, recall, F.

    Parameters
    ----------
    y_true, y_pred
        ``(n, K)`` arrays of 0/1.
    beta
        β of the F-beta scores.
    sample_weight
        Optional non-negative weight per record.

    Returns
    -------
    dict of str to float
        ``subset_accuracy`` (every label right), ``hamming_loss`` (share of
        wrong labels), ``micro_precision``, ``micro_recall``,
        ``micro_f_beta`` (counts pooled over labels) and ``macro_precision``,
        ``macro_recall``, ``macro_f_beta`` (mean over labels; a label with no
        true and no predicted positive scores 0, as in scikit-learn).

    Raises
    ------
    DataFormatError
        If the shapes differ or a value is not 0 or 1.
    """
    true = _indicator(y_true, "y_true")
    pred = _indicator(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise DataFormatError(
            f"y_true has shape {true.shape} but y_pred has shape {pred.shape}."
        )
    n = true.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    total = float(w.sum())
    tp = w @ (true * pred)
    fp = w @ ((1 - true) * pred)
    fn = w @ (true * (1 - pred))
    b2 = beta * beta

    def f_beta(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        denominator = (1 + b2) * tp + b2 * fn + fp
        return np.divide(
            (1 + b2) * tp, denominator, out=np.zeros_like(tp), where=denominator > 0
        )

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    micro = [np.array([tp.sum()]), np.array([fp.sum()]), np.array([fn.sum()])]
    exact = (true == pred).all(axis=1)
    return {
        "subset_accuracy": float(w @ exact / total) if total else 0.0,
        "hamming_loss": float(w @ (true != pred).mean(axis=1) / total)
        if total
        else 0.0,
        "micro_precision": float(ratio(micro[0], micro[0] + micro[1])[0]),
        "micro_recall": float(ratio(micro[0], micro[0] + micro[2])[0]),
        "micro_f_beta": float(f_beta(*micro)[0]),
        "macro_precision": float(ratio(tp, tp + fp).mean()),
        "macro_recall": float(ratio(tp, tp + fn).mean()),
        "macro_f_beta": float(f_beta(tp, fp, fn).mean()),
    }
