"""The step-decay learning-rate schedule (SPEC §3.7)."""

from __future__ import annotations

import numpy as np

__all__ = ["scheduled_learning_rate"]


def scheduled_learning_rate(
    base: np.ndarray,
    updates: int,
    *,
    step: np.ndarray | int,
    factor: np.ndarray | float,
    minimum: np.ndarray | float,
    enabled: bool = True,
) -> np.ndarray:
    """Learning rate of each candidate model after ``updates`` optimiser steps.

    ``lr(t) = max(minimum, base * factor ** floor(t / step))``. The floor never
    raises a rate above its starting value.

    Examples
    --------
    >>> scheduled_learning_rate(np.array([0.1]), 250, step=100, factor=0.5,
    ...                         minimum=0.001).tolist()
    [0.025]
    """
    base = np.asarray(base, dtype=np.float64)
    if not enabled:
        return base
    decays = np.floor_divide(updates, np.asarray(step))
    rate = base * np.power(np.asarray(factor, dtype=np.float64), decays)
    return np.maximum(rate, np.minimum(np.asarray(minimum, dtype=np.float64), base))
