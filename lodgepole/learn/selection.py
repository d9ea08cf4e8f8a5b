"""Binary threshold calibration and the criteria that pick the final model (SPEC §3.4).

Every function works on the scores of all candidate models at once: one
column per candidate. Thresholds are found by sorting each column once and
reading every possible cut from cumulative counts, so calibration costs one
sort per candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BINARY_CRITERIA",
    "Calibration",
    "calibrate_thresholds",
]

BINARY_CRITERIA = (
    "accuracy",
    "f_beta",
    "precision_at_target_recall",
    "recall_at_target_precision",
    "loss_function",
)


@dataclass(frozen=True, eq=False)
class Calibration:
    """Best threshold and criterion value per candidate (higher value is better)."""

    thresholds: np.ndarray
    values: np.ndarray


def calibrate_thresholds(
    scores: np.ndarray,
    labels: np.ndarray,
    criterion: str,
    *,
    beta: float = 1.0,
    target_recall: float = 0.8,
    target_precision: float = 0.8,
    sample_weight: np.ndarray | None = None,
) -> Calibration:
    """Choose, per candidate, the threshold that is best for ``criterion``.

    Rows with ``score >= threshold`` are predicted positive. Each threshold
    lies halfway between two neighbouring distinct scores, so it separates
    the calibration rows the same way but leaves room on both sides.

    Parameters
    ----------
    scores
        ``(n, num_models)`` scores (probabilities or margins).
    labels
        ``(n,)`` true labels, 0 or 1.
    criterion
        One of ``accuracy``, ``f_beta``, ``precision_at_target_recall``,
        ``recall_at_target_precision`` (``loss_function`` has no threshold to
        calibrate and is handled by the caller).
    sample_weight
        Optional ``(n,)`` non-negative weight of each row: counts, precision
        and recall are then weighted sums, as the records' loss was.

    Returns
    -------
    Calibration
        For ``precision_at_target_recall`` the value is the precision at the
        best threshold whose recall reaches the target; if no threshold does,
        the threshold of highest recall is kept and the value is the recall
        shortfall as a negative number, so any candidate that reaches the
        target ranks first. ``recall_at_target_precision`` mirrors this.

    Examples
    --------
    >>> s = np.array([[0.1], [0.4], [0.35], [0.8]])
    >>> c = calibrate_thresholds(s, np.array([0, 0, 1, 1]), "accuracy")
    >>> float(c.values[0]), round(float(c.thresholds[0]), 3)
    (0.75, 0.6)
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = scores[:, None]
    labels = np.asarray(labels).astype(bool)
    n, _ = scores.shape
    weights = (
        np.ones(n) if sample_weight is None else np.asarray(sample_weight, np.float64)
    )
    total = float(weights.sum())
    positives = float(weights[labels].sum())
    negatives = total - positives

    order = np.argsort(-scores, axis=0, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=0)
    sorted_weights = weights[order]
    # Cut j predicts the top j rows positive, j = 0 .. n.
    start = np.zeros((1, scores.shape[1]))
    tp = np.vstack([start, np.cumsum(sorted_weights * labels[order], axis=0)])
    predicted = np.vstack([start, np.cumsum(sorted_weights, axis=0)])
    fp = predicted - tp
    # Only cuts between two distinct scores are realisable.
    valid = np.ones_like(tp, dtype=bool)
    valid[1:n] = sorted_scores[:-1] > sorted_scores[1:]

    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = tp / positives if positives else np.zeros_like(tp)
        if criterion == "accuracy":
            value = (tp + negatives - fp) / total if total > 0 else tp * 0.0
        elif criterion == "f_beta":
            b2 = beta * beta
            denom = b2 * precision + recall
            value = np.where(denom > 0, (1 + b2) * precision * recall / denom, 0.0)
        elif criterion == "precision_at_target_recall":
            value = _at_target(precision, recall, target_recall)
        elif criterion == "recall_at_target_precision":
            value = _at_target(recall, precision, target_precision)
        else:
            raise ValueError(f"criterion {criterion!r} has no threshold to calibrate")

    value = np.where(valid, value, -np.inf)
    best = np.argmax(value, axis=0)
    columns = np.arange(scores.shape[1])
    upper = np.where(best > 0, sorted_scores[np.maximum(best - 1, 0), columns], np.inf)
    lower = np.where(best < n, sorted_scores[np.minimum(best, n - 1), columns], -np.inf)
    thresholds = np.where(
        np.isinf(upper),
        np.nextafter(lower, np.inf),
        np.where(np.isinf(lower), upper, (upper + lower) / 2),
    )
    return Calibration(thresholds, value[best, columns])


def _at_target(goal: np.ndarray, constraint: np.ndarray, target: float) -> np.ndarray:
    """Goal where the constraint meets its target, else a negative shortfall."""
    return np.where(constraint >= target, goal, constraint - target - 1.0)
