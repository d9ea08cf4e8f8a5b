"""Class weights (SPEC §3.6): balanced multiclass weights, binary positive weight."""

from __future__ import annotations

import numpy as np

__all__ = [
    "ABSENT_CLASS_WEIGHT",
    "balanced_class_weights",
    "balanced_positive_weight",
]

#: Weight of a class that never occurs in the sample (the value the blog reports).
ABSENT_CLASS_WEIGHT = 1_000_000.0


def balanced_class_weights(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Weight each class by the inverse of its frequency in ``labels``.

    The weights are not normalised: a class holding a third of the sample
    gets 3. A class absent from the sample gets ``ABSENT_CLASS_WEIGHT``.

    Parameters
    ----------
    labels
        Integer labels in ``[0, num_classes)``, one per record of the sample.
    num_classes
        Number of classes the model predicts.

    Returns
    -------
    numpy.ndarray
        One float32 weight per class.

    Examples
    --------
    >>> balanced_class_weights(np.array([0, 0, 0, 1]), num_classes=3).tolist()
    [1.3333333730697632, 4.0, 1000000.0]
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    total = counts.sum()
    with np.errstate(divide="ignore"):
        weights = np.where(
            counts > 0, total / np.maximum(counts, 1), ABSENT_CLASS_WEIGHT
        )
    return weights.astype(np.float32)


def balanced_positive_weight(labels: np.ndarray) -> float:
    """Weight of label-1 rows that makes both classes carry the same total weight.

    Returns negatives / positives; 1.0 if either class is absent.

    Examples
    --------
    >>> balanced_positive_weight(np.array([0] * 98 + [1] * 2))
    49.0
    """
    labels = np.asarray(labels)
    positives = int(np.count_nonzero(labels == 1))
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return 1.0
    return negatives / positives
