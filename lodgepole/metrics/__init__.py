"""Metrics: pure functions of labels, scores and weights.

:func:`compute_metrics` returns, for one predictor type, the metrics under the
names the SageMaker Linear Learner logs (SPEC §8.1); :data:`METRIC_DIRECTIONS`
and :func:`is_maximized` say which way each name improves. The single-metric
functions live in :mod:`lodgepole.metrics.classification`,
:mod:`lodgepole.metrics.ranking` and :mod:`lodgepole.metrics.regression` and are
re-exported here.

Examples
--------
>>> metrics = compute_metrics("regressor", [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
>>> sorted(metrics)
['absolute_loss', 'mse', 'r2', 'rmse']
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.metrics._checks import (
    _as_labels,
    _as_scores,
    _as_weights,
    _check_beta,
)
from lodgepole.metrics.classification import (
    accuracy_score,
    balanced_accuracy_score,
    binary_scores,
    confusion_matrix,
    macro_scores,
    per_class_scores,
)
from lodgepole.metrics.multilabel import multilabel_scores
from lodgepole.metrics.ranking import (
    dcg_score,
    log_loss,
    roc_auc_score,
    top_k_accuracy_score,
)
from lodgepole.metrics.regression import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    root_mean_squared_error,
)

__all__ = [
    "METRIC_DIRECTIONS",
    "accuracy_score",
    "balanced_accuracy_score",
    "binary_scores",
    "compute_metrics",
    "confusion_matrix",
    "dcg_score",
    "is_maximized",
    "log_loss",
    "macro_scores",
    "mean_absolute_error",
    "mean_squared_error",
    "per_class_scores",
    "r2_score",
    "roc_auc_score",
    "root_mean_squared_error",
    "top_k_accuracy_score",
]

logger = logging.getLogger(__name__)

_MAX, _MIN = "maximize", "minimize"

#: Direction of every fixed metric name lodgepole reports or tunes on. The
#: parametrised forms (``binary_f_1.000``, ``macro_f_0.500``,
#: ``multiclass_top_k_accuracy_3``, ``<loss>_objective``) are handled by
#: :func:`is_maximized`.
METRIC_DIRECTIONS: dict[str, str] = {
    "objective_loss": _MIN,
    # binary_classifier
    "binary_classification_accuracy": _MAX,
    "binary_f_beta": _MAX,
    "precision": _MAX,
    "recall": _MAX,
    "roc_auc_score": _MAX,
    # multiclass_classifier
    "multiclass_accuracy": _MAX,
    "multiclass_top_k_accuracy": _MAX,
    "dcg": _MAX,
    "macro_recall": _MAX,
    "macro_precision": _MAX,
    "macro_f_beta": _MAX,
    "multiclass_balanced_accuracy": _MAX,
    "multiclass_log_loss": _MIN,
    # regressor
    "mse": _MIN,
    "rmse": _MIN,
    "absolute_loss": _MIN,
    "r2": _MAX,
    # multilabel classifier (a lodgepole extension)
    "multilabel_subset_accuracy": _MAX,
    "hamming_loss": _MIN,
    "micro_precision": _MAX,
    "micro_recall": _MAX,
}

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(binary|macro|micro)_f_\d+(\.\d+)?"), _MAX),
    (re.compile(r"multiclass_top_k_accuracy_\d+"), _MAX),
    (re.compile(r"[a-z0-9_]+_objective"), _MIN),
)
_CHANNELS = ("train", "validation", "test")


def is_maximized(name: str) -> bool:
    """Whether a larger value of metric ``name`` is better.

    Accepts the fixed names of :data:`METRIC_DIRECTIONS`, their parametrised
    forms (``binary_f_1.000``, ``macro_f_0.500``, ``multiclass_top_k_accuracy_3``,
    any ``<loss>_objective``), and tuning names with a channel prefix or a
    ``:final`` suffix such as ``validation:objective_loss:final``.

    Parameters
    ----------
    name
        Metric name.

    Returns
    -------
    bool
        True when the metric is maximised, False when minimised.

    Raises
    ------
    ConfigError
        If the name is not a known metric.

    Examples
    --------
    >>> is_maximized("binary_f_0.500"), is_maximized("validation:mse")
    (True, False)
    """
    parts = name.split(":")
    if len(parts) > 1 and parts[0] in _CHANNELS:
        parts = parts[1:]
    if len(parts) > 1 and parts[-1] == "final":
        parts = parts[:-1]
    base = ":".join(parts)

    if base in METRIC_DIRECTIONS:
        return METRIC_DIRECTIONS[base] == _MAX
    for pattern, direction in _PATTERNS:
        if pattern.fullmatch(base):
            return direction == _MAX
    raise ConfigError(
        f"unknown metric name {name!r}; expected one of {sorted(METRIC_DIRECTIONS)}"
        ", a parametrised name such as 'binary_f_1.000', 'macro_f_1.000' or "
        "'multiclass_top_k_accuracy_3', or '<loss>_objective'."
    )


def _binary(
    y_true: ArrayLike,
    score: ArrayLike,
    predicted_label: ArrayLike | None,
    num_classes: int | None,
    beta: float,
    top_k: int,
    sample_weight: ArrayLike | None,
) -> dict[str, float]:
    """Metrics of a binary classifier; labels default to ``score >= 0.5``."""
    if num_classes not in (None, 2):
        raise ConfigError(
            "num_classes must be 2 (or None) when predictor_type is "
            f"'binary_classifier'; got {num_classes!r}."
        )
    values = _as_scores(score, "score", ndim=1)
    if predicted_label is None:
        predicted_label = (values >= 0.5).astype(np.int64)
    scores = binary_scores(
        y_true, predicted_label, beta=beta, sample_weight=sample_weight
    )
    return {
        "binary_classification_accuracy": scores["accuracy"],
        f"binary_f_{beta:.3f}": scores["f_beta"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "roc_auc_score": _roc_auc_or_nan(y_true, values, sample_weight),
    }


def _roc_auc_or_nan(
    y_true: ArrayLike, score: np.ndarray, sample_weight: ArrayLike | None
) -> float:
    """AUC, or nan (logged) when one class has no rows of positive weight."""
    true = _as_labels(y_true, "y_true", 2)
    weights = _as_weights(sample_weight, true.shape[0])
    if weights is not None:
        true = true[weights > 0]
    if true.min() == true.max():
        logger.warning(
            "roc_auc_score undefined, reporting nan rows=%d only_label=%d",
            true.shape[0],
            true[0],
        )
        return float("nan")
    return roc_auc_score(y_true, score, sample_weight)


def _multiclass(
    y_true: ArrayLike,
    score: ArrayLike,
    predicted_label: ArrayLike | None,
    num_classes: int | None,
    beta: float,
    top_k: int,
    sample_weight: ArrayLike | None,
) -> dict[str, float]:
    """Metrics of a multiclass classifier; labels default to the argmax."""
    proba = _as_scores(score, "score", ndim=2)
    if num_classes is not None and num_classes != proba.shape[1]:
        raise DataFormatError(
            f"score has {proba.shape[1]} columns but num_classes is "
            f"{num_classes!r}; expected one probability column per class."
        )
    num_classes = proba.shape[1]
    if predicted_label is None:
        predicted_label = np.argmax(proba, axis=1)
    macro = macro_scores(
        y_true, predicted_label, num_classes, beta=beta, sample_weight=sample_weight
    )
    return {
        "multiclass_accuracy": accuracy_score(y_true, predicted_label, sample_weight),
        f"multiclass_top_k_accuracy_{top_k}": top_k_accuracy_score(
            y_true, proba, top_k, sample_weight
        ),
        "dcg": dcg_score(y_true, proba, sample_weight),
        "macro_recall": macro["macro_recall"],
        "macro_precision": macro["macro_precision"],
        f"macro_f_{beta:.3f}": macro["macro_f_beta"],
        "multiclass_balanced_accuracy": macro["macro_recall"],
        "multiclass_log_loss": log_loss(y_true, proba, sample_weight),
    }


def _regressor(
    y_true: ArrayLike,
    score: ArrayLike,
    predicted_label: ArrayLike | None,
    num_classes: int | None,
    beta: float,
    top_k: int,
    sample_weight: ArrayLike | None,
) -> dict[str, float]:
    """Metrics of a regressor; ``score`` holds the predictions."""
    if predicted_label is not None:
        raise ConfigError(
            "predicted_label must be None when predictor_type is 'regressor'; "
            "pass the predictions as score."
        )
    mse = mean_squared_error(y_true, score, sample_weight)
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "absolute_loss": mean_absolute_error(y_true, score, sample_weight),
        "r2": r2_score(y_true, score, sample_weight),
    }


def _multilabel(
    y_true: ArrayLike,
    score: ArrayLike,
    predicted_label: ArrayLike | None,
    num_classes: int | None,
    beta: float,
    top_k: int,
    sample_weight: ArrayLike | None,
) -> dict[str, float]:
    """Metrics of a multilabel classifier; labels default to ``score >= 0.5``."""
    scores = _as_scores(score, "score", ndim=2)
    if num_classes is not None and num_classes != scores.shape[1]:
        raise DataFormatError(
            f"score has {scores.shape[1]} columns but num_classes is "
            f"{num_classes!r}; expected one probability column per label."
        )
    if predicted_label is None:
        predicted_label = (scores >= 0.5).astype(np.float64)
    found = multilabel_scores(
        y_true, predicted_label, beta=beta, sample_weight=sample_weight
    )
    return {
        "multilabel_subset_accuracy": found["subset_accuracy"],
        "hamming_loss": found["hamming_loss"],
        "micro_precision": found["micro_precision"],
        "micro_recall": found["micro_recall"],
        f"micro_f_{beta:.3f}": found["micro_f_beta"],
        "macro_precision": found["macro_precision"],
        "macro_recall": found["macro_recall"],
        f"macro_f_{beta:.3f}": found["macro_f_beta"],
    }


_BY_TYPE: dict[PredictorType, Callable[..., dict[str, float]]] = {
    PredictorType.BINARY: _binary,
    PredictorType.MULTICLASS: _multiclass,
    PredictorType.REGRESSOR: _regressor,
    PredictorType.MULTILABEL: _multilabel,
}


def compute_metrics(
    predictor_type: PredictorType | str,
    y_true: ArrayLike,
    score: ArrayLike,
    predicted_label: ArrayLike | None = None,
    *,
    num_classes: int | None = None,
    beta: float = 1.0,
    top_k: int = 3,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """Every final metric of one predictor type, under the logged names.

    - ``binary_classifier``: ``binary_classification_accuracy``,
      ``binary_f_<beta>`` (β with 3 decimals, e.g. ``binary_f_1.000``),
      ``precision``, ``recall`` (of class 1) and ``roc_auc_score`` (from
      ``score``; nan when ``y_true`` holds one class).
    - ``multiclass_classifier``: ``multiclass_accuracy``,
      ``multiclass_top_k_accuracy_<top_k>``, ``dcg``, ``macro_recall``,
      ``macro_precision``, ``macro_f_<beta>``, ``multiclass_balanced_accuracy``
      and ``multiclass_log_loss``.
    - ``regressor``: ``mse``, ``rmse``, ``absolute_loss`` and ``r2``.
    - ``multilabel_classifier``: ``multilabel_subset_accuracy``,
      ``hamming_loss``, ``micro_precision``, ``micro_recall``,
      ``micro_f_<beta>``, ``macro_precision``, ``macro_recall`` and
      ``macro_f_<beta>`` (``y_true`` and ``predicted_label`` of shape
      ``(n, K)``; labels default to ``score >= 0.5``).

    Parameters
    ----------
    predictor_type
        ``binary_classifier``, ``multiclass_classifier`` or ``regressor``.
    y_true
        ``(n,)`` true labels (0/1, ``0 .. K-1``) or target values.
    score
        Binary: ``(n,)`` score of class 1. Multiclass: ``(n, K)`` class
        probabilities. Regressor: ``(n,)`` predictions.
    predicted_label
        Classifiers only: labels after the calibrated threshold (binary) or
        the argmax (multiclass). Defaults to ``score >= 0.5`` (binary) and
        the argmax of ``score``, the first class winning ties (multiclass).
    num_classes
        Multiclass: checked against the columns of ``score`` when given.
    beta
        β of the F-beta metrics.
    top_k
        ``k`` of the top-k accuracy (multiclass).
    sample_weight
        Optional non-negative weight per row.

    Returns
    -------
    dict of str to float
        Metric name to value, in the order listed above.

    Notes
    -----
    The macro metrics average over the classes occurring in ``y_true`` or in
    ``predicted_label`` (scikit-learn's ``average="macro"``).
    ``multiclass_balanced_accuracy`` is reported equal to ``macro_recall``, as
    the real algorithm logs them; it equals scikit-learn's balanced accuracy
    unless a class is predicted but absent from ``y_true`` (scikit-learn then
    leaves that class out; use :func:`balanced_accuracy_score` for that).

    Examples
    --------
    >>> metrics = compute_metrics("binary_classifier", [0, 1, 1], [0.2, 0.4, 0.9])
    >>> list(metrics)[:2], round(metrics["binary_f_1.000"], 3), metrics["recall"]
    (['binary_classification_accuracy', 'binary_f_1.000'], 0.667, 0.5)
    """
    try:
        kind = PredictorType(predictor_type)
    except ValueError as err:
        allowed = [member.value for member in PredictorType]
        raise ConfigError(
            f"predictor_type must be one of {allowed!r}; got {predictor_type!r}."
        ) from err
    beta = _check_beta(beta)

    compute = _BY_TYPE[kind]
    return compute(
        y_true, score, predicted_label, num_classes, beta, top_k, sample_weight
    )
