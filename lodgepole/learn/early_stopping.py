"""Early stopping on a per-epoch criterion (SPEC §3.5)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

__all__ = ["EarlyStopping"]

logger = logging.getLogger(__name__)


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without a relative improvement of ``tolerance``.

    An epoch improves on the best value so far when
    ``(best - value) / abs(best) >= tolerance`` (the sign flipped for a
    criterion that is maximised). Patience larger than the number of epochs
    disables stopping.

    Examples
    --------
    >>> stop = EarlyStopping(patience=2, tolerance=0.01, maximize=False)
    >>> [stop.update(v) for v in [1.0, 0.5, 0.499, 0.498]]
    [True, True, False, False]
    >>> stop.should_stop, stop.best_epoch
    (True, 1)
    """

    patience: int
    tolerance: float
    maximize: bool
    best: float | None = None
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    _epoch: int = field(default=-1, repr=False)

    def update(self, value: float) -> bool:
        """Record the next epoch's value; return whether it improved."""
        self._epoch += 1
        improved = self._improves(value)
        if improved:
            self.best = value
            self.best_epoch = self._epoch
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.epochs_without_improvement >= self.patience

    def _improves(self, value: float) -> bool:
        if value != value:  # NaN never improves
            return False
        if self.best is None:
            return True
        gain = value - self.best if self.maximize else self.best - value
        scale = abs(self.best)
        if scale == 0:
            return gain > 0
        return gain / scale >= self.tolerance
