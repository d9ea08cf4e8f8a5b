"""Per-candidate training state: best epochs so far and record weights.

:class:`BestStates` keeps, for every candidate model, its best criterion
value, the epoch and binary threshold it came with, and its parameters then.
:class:`RecordWeighting` turns class weights, binary positive weights and
per-record weights into the loss weight of each record for each candidate.
Both shrink with the candidate stack when successive halving drops models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lodgepole.learn.candidates import CandidateStack

__all__ = ["BestStates", "RecordWeighting", "improved"]


@dataclass(eq=False)
class BestStates:
    """Each candidate's best criterion value so far and its parameters then."""

    value: np.ndarray
    epoch: np.ndarray
    thresholds: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    ids: np.ndarray
    num_outputs: int

    @classmethod
    def start(cls, stack: CandidateStack) -> BestStates:
        count = stack.num_models
        return cls(
            value=np.full(count, np.nan),
            epoch=np.zeros(count, dtype=np.int64),
            thresholds=np.full(count, 0.5),
            weights=stack.weights.copy(),
            bias=stack.bias.copy(),
            ids=np.arange(count),
            num_outputs=stack.num_outputs,
        )

    def update(
        self,
        epoch: int,
        values: np.ndarray,
        thresholds: np.ndarray | None,
        weights: np.ndarray,
        bias: np.ndarray,
        maximize: bool,
    ) -> None:
        better = improved(values, self.value, maximize)
        self.value[better] = values[better]
        self.epoch[better] = epoch
        if thresholds is not None:
            self.thresholds[better] = thresholds[better]
        columns = np.repeat(better, self.num_outputs)
        self.weights[:, columns] = weights[:, columns]
        self.bias[columns] = bias[columns]

    def leader(self, maximize: bool) -> int:
        return int(np.nanargmax(self.value) if maximize else np.nanargmin(self.value))

    def keep(self, models: np.ndarray, columns: np.ndarray) -> None:
        self.value = self.value[models]
        self.epoch = self.epoch[models]
        self.thresholds = self.thresholds[models]
        self.ids = self.ids[models]
        self.weights = np.ascontiguousarray(self.weights[:, columns])
        self.bias = np.ascontiguousarray(self.bias[columns])


class RecordWeighting:
    """Loss weight of each record for each candidate (class and positive weights)."""

    def __init__(
        self,
        class_weights: np.ndarray | None,
        positive_weights: np.ndarray | None,
    ) -> None:
        self.class_weights = class_weights
        self.positive_weights = positive_weights
        self.expected = np.ones(1, np.float32)

    def raw(self, labels: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        base = np.ones(labels.shape[0], np.float32) if weights is None else weights
        if self.class_weights is not None:
            base = base * self.class_weights[labels.astype(np.int64)]
        if self.positive_weights is None:
            return base[:, None]
        factor = np.where(labels[:, None] == 1, self.positive_weights[None, :], 1.0)
        return (base[:, None] * factor).astype(np.float32)

    def calibrate(self, labels: np.ndarray, weights: np.ndarray | None) -> None:
        """Remember the mean weight on a sample so batch weights average about 1."""
        mean = self.raw(labels, weights).mean(axis=0)
        self.expected = np.where(mean > 0, mean, 1.0).astype(np.float32)

    def keep(self, models: np.ndarray) -> None:
        """Keep the per-candidate weights of the candidates at ``models``."""
        if self.positive_weights is not None:
            self.positive_weights = self.positive_weights[models]
        if self.expected.shape[0] > 1:
            self.expected = self.expected[models]

    @property
    def uniform(self) -> bool:
        """Whether every record weighs 1 (no class, positive or record weights)."""
        return self.class_weights is None and self.positive_weights is None

    def __call__(
        self, labels: np.ndarray, weights: np.ndarray | None
    ) -> np.ndarray | None:
        """Normalised weights for a batch, or None when all records weigh 1."""
        if weights is None and self.uniform:
            return None
        return self.raw(labels, weights) / self.expected


def improved(values: np.ndarray, best: np.ndarray, maximize: bool) -> np.ndarray:
    fresh = np.isnan(best) & ~np.isnan(values)
    if maximize:
        return fresh | (values > best)
    return fresh | (values < best)
