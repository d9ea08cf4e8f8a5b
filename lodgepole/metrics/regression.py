"""Regression metrics as pure, vectorised functions of labels and predictions.

All sums run in float64 whatever the input type, and results are in label
units. Each function takes an optional ``sample_weight`` (one non-negative
weight per row) and agrees with the matching :mod:`sklearn.metrics` function.

Examples
--------
>>> mean_absolute_error([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
0.5
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.metrics._checks import (
    _as_scores,
    _as_weights,
    _check_rows,
    _mean,
)

__all__ = [
    "mean_absolute_error",
    "mean_squared_error",
    "r2_score",
    "root_mean_squared_error",
]


def _prepare(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check two finite ``(n,)`` arrays and their weights; return float64."""
    true = _as_scores(y_true, "y_true", ndim=1).astype(np.float64)
    pred = _as_scores(y_pred, "y_pred", ndim=1).astype(np.float64)
    _check_rows(true.shape[0], pred, "y_pred")
    return true, pred, _as_weights(sample_weight, true.shape[0])


def mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
) -> float:
    """Weighted mean of the squared errors (``mse``).

    Parameters
    ----------
    y_true, y_pred
        Finite ``(n,)`` labels and predictions.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        Mean of ``(y_pred - y_true) ** 2``.

    Raises
    ------
    DataFormatError
        If the inputs differ in length, are not 1-D, or hold NaN or inf.

    Examples
    --------
    >>> mean_squared_error([1.0, 2.0, 4.0], [1.5, 2.0, 3.0])
    0.4166666666666667
    """
    true, pred, weights = _prepare(y_true, y_pred, sample_weight)
    return _mean((pred - true) ** 2, weights)


def root_mean_squared_error(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
) -> float:
    """Square root of :func:`mean_squared_error` (``rmse``).

    Parameters
    ----------
    y_true, y_pred
        Finite ``(n,)`` labels and predictions.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        ``sqrt(mse)``, in label units.

    Examples
    --------
    >>> root_mean_squared_error([0.0, 0.0], [3.0, -3.0])
    3.0
    """
    return float(np.sqrt(mean_squared_error(y_true, y_pred, sample_weight)))


def mean_absolute_error(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
) -> float:
    """Weighted mean of the absolute errors (``absolute_loss``).

    Parameters
    ----------
    y_true, y_pred
        Finite ``(n,)`` labels and predictions.
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    float
        Mean of ``abs(y_pred - y_true)``.

    Examples
    --------
    >>> mean_absolute_error([1.0, 2.0], [2.0, 5.0], sample_weight=[3.0, 1.0])
    1.5
    """
    true, pred, weights = _prepare(y_true, y_pred, sample_weight)
    return _mean(np.abs(pred - true), weights)


def r2_score(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
) -> float:
    """Coefficient of determination, ``1 - SS_res / SS_tot``.

    Parameters
    ----------
    y_true, y_pred
        Finite ``(n,)`` labels and predictions.
    sample_weight
        Optional non-negative weight per row; the mean of ``y_true`` in
        ``SS_tot`` is weighted too.

    Returns
    -------
    float
        At most 1; negative when worse than predicting the mean.

    Notes
    -----
    When ``y_true`` is constant over the rows of positive weight (including a
    single row) the ratio is undefined: the result is 1.0 for a perfect
    prediction and 0.0 otherwise, as scikit-learn's default
    ``force_finite=True`` does. Constancy is tested exactly, so rounding in
    the mean cannot turn a constant label into a huge negative score.

    Examples
    --------
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    true, pred, weights = _prepare(y_true, y_pred, sample_weight)
    if weights is None:
        weights = np.ones_like(true)

    residual = float(weights @ (true - pred) ** 2)
    centred = true - (weights @ true) / weights.sum()
    total = float(weights @ centred**2)
    active = true[weights > 0]
    # Constancy is tested exactly: rounding in the mean leaves a tiny SS_tot.
    if total == 0 or active.min() == active.max():
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total
