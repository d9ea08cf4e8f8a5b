"""Feature and label normalisation statistics, computed from a sample (SPEC §3.3).

The scaler is never applied to the data: the training engine folds it into
the weights of each candidate model (``x' = (x - mean) / scale``), so dense
and sparse inputs are read as they are and no normalised copy is made.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["Scaler", "sample_rows"]

logger = logging.getLogger(__name__)


def sample_rows(num_rows: int, size: int, seed: int) -> np.ndarray:
    """Pick ``min(size, num_rows)`` distinct row indices, sorted, reproducibly.

    Examples
    --------
    >>> sample_rows(10, 3, seed=0).tolist() == sample_rows(10, 3, seed=0).tolist()
    True
    >>> sample_rows(5, 100, seed=0).tolist()
    [0, 1, 2, 3, 4]
    """
    if size >= num_rows:
        return np.arange(num_rows)
    rng = np.random.default_rng([seed, 0x5CA1E])
    return np.sort(rng.choice(num_rows, size=size, replace=False))


def _column_moments(X: np.ndarray | sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    if sp.issparse(X):
        mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        square = np.asarray(X.multiply(X).mean(axis=0), dtype=np.float64).ravel()
        return mean, np.sqrt(np.maximum(square - mean**2, 0.0))
    X64 = np.asarray(X, dtype=np.float64)
    return X64.mean(axis=0), X64.std(axis=0)


@dataclass(frozen=True, eq=False)
class Scaler:
    """Per-feature shift and scale, and (regressor) label shift and scale.

    Attributes
    ----------
    feature_mean
        Subtracted from each feature (zeros when features are not centred).
    feature_scale
        Each centred feature is divided by this (ones when not normalised).
    label_mean, label_scale
        The same for the label; 0 and 1 when the label is left alone.

    Examples
    --------
    >>> X = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)
    >>> s = Scaler.fit(X, normalize=True, center=True)
    >>> s.feature_mean.tolist(), s.feature_scale.tolist()
    ([2.0, 5.0], [1.0, 1.0])
    """

    feature_mean: np.ndarray
    feature_scale: np.ndarray
    label_mean: float = 0.0
    label_scale: float = 1.0

    @classmethod
    def fit(
        cls,
        X: np.ndarray | sp.csr_matrix,
        y: np.ndarray | None = None,
        *,
        normalize: bool,
        center: bool,
        normalize_label: bool = False,
        center_label: bool = False,
    ) -> Scaler:
        """Compute the statistics from sample rows ``X`` (and labels ``y``).

        A feature (or label) whose standard deviation is 0 keeps scale 1.
        """
        mean, std = _column_moments(X)
        feature_mean = mean if center else np.zeros_like(mean)
        ones = np.ones_like(std)
        feature_scale = np.where(std > 0, std, 1.0) if normalize else ones

        label_mean, label_scale = 0.0, 1.0
        if y is not None and len(y):
            y64 = np.asarray(y, dtype=np.float64)
            if center_label:
                label_mean = float(y64.mean())
            if normalize_label:
                spread = float(y64.std())
                label_scale = spread if spread > 0 else 1.0
        logger.info(
            "scaler fitted sample_rows=%d center=%s normalize=%s label_mean=%.6g "
            "label_scale=%.6g",
            X.shape[0],
            center,
            normalize,
            label_mean,
            label_scale,
        )
        return cls(
            feature_mean.astype(np.float32),
            feature_scale.astype(np.float32),
            label_mean,
            label_scale,
        )

    @classmethod
    def identity(cls, feature_dim: int) -> Scaler:
        """A scaler that changes nothing."""
        return cls(np.zeros(feature_dim, np.float32), np.ones(feature_dim, np.float32))
