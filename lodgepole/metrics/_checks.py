"""Input checks shared by the metric modules (private).

Each check turns an array-like into a numpy array of the expected shape and
kind, or raises :class:`~lodgepole.exceptions.DataFormatError` naming the
first offending row; the ``_check_*`` helpers validate settings and raise
:class:`~lodgepole.exceptions.ConfigError`. :func:`_mean` is the weighted mean
every metric ends with. Used by :mod:`lodgepole.metrics.classification`,
:mod:`lodgepole.metrics.ranking`, :mod:`lodgepole.metrics.regression` and
:mod:`lodgepole.metrics`.

Examples
--------
>>> _as_labels([0.0, 2.0, 1.0], "y_true", num_classes=3).tolist()
[0, 2, 1]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.exceptions import ConfigError, DataFormatError


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
