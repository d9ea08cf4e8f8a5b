"""What the trainer computes on each chunk of a channel, as picklable callables.

The trainer scores a channel through ``channel.map_chunks(function)``: an
in-memory or streaming channel calls ``function`` on its chunks in this
process; a Dask worker channel calls it on the workers that hold the shards,
which send back only these per-chunk results (loss sums, or scores and
labels), never features. The trainer then adds the results up or
concatenates them in channel order. Each callable therefore carries
everything it needs by value and nothing of the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lodgepole.data.memory import Batch
from lodgepole.learn._state import RecordWeighting
from lodgepole.learn.losses import Loss
from lodgepole.model import LinearModel

__all__ = [
    "CandidateLosses",
    "ModelLosses",
    "ModelPredictions",
    "normalised_labels",
    "sum_candidate_losses",
]

#: ``(label_mean, label_scale)`` regression labels are normalised by, or None.
Normalisation = tuple[float, float] | None


def normalised_labels(labels: np.ndarray, normalisation: Normalisation) -> np.ndarray:
    """Labels in the units the loss is computed in (regression labels scaled).

    Examples
    --------
    >>> normalised_labels(np.array([1.0, 3.0], np.float32), (2.0, 0.5)).tolist()
    [-2.0, 2.0]
    """
    if normalisation is None:
        return labels
    mean, scale = normalisation
    shifted = (labels - np.float32(mean)) / np.float32(scale)
    return shifted.astype(np.float32)


@dataclass(frozen=True, eq=False)
class CandidateLosses:
    """Weighted loss sums of every candidate on a chunk (and its raw scores).

    ``weights`` and ``bias`` are the candidates' effective parameters, which
    act on raw features (see ``CandidateStack.effective_parameters``).
    """

    weights: np.ndarray
    bias: np.ndarray
    num_models: int
    num_outputs: int
    loss: Loss
    weighting: RecordWeighting
    normalisation: Normalisation
    keep_scores: bool = False

    def __call__(
        self, batch: Batch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        scores = np.asarray(batch.features @ self.weights)
        scores += self.bias
        scores = scores.reshape(batch.num_records, self.num_models, self.num_outputs)
        labels = normalised_labels(batch.labels, self.normalisation)
        losses = self.loss.value(scores, labels)
        row_weights = self.weighting.raw(batch.labels, batch.weights)
        total = (losses * row_weights).sum(axis=0)
        weight_sum = np.broadcast_to(row_weights, losses.shape).sum(axis=0)
        return total, weight_sum, scores if self.keep_scores else None


def sum_candidate_losses(
    results: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    num_models: int,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each candidate's weighted mean loss, and the scores in channel order."""
    total = np.zeros(num_models)
    weight_sum = np.zeros(num_models)
    for chunk_total, chunk_weights, _ in results:
        total += chunk_total
        weight_sum += chunk_weights
    kept = [scores for _, _, scores in results if scores is not None]
    objective = total / np.maximum(weight_sum, 1e-30)
    return objective, (np.concatenate(kept) if kept else None)


@dataclass(frozen=True, eq=False)
class ModelLosses:
    """Weighted loss sum and weight sum of one finished model on a chunk.

    Scores are computed in the normalised label units of training, so the
    value equals the training objective; ``candidate`` picks the chosen
    candidate's column of per-candidate record weights.
    """

    model: LinearModel
    loss: Loss
    weighting: RecordWeighting
    normalisation: Normalisation
    candidate: int

    def __call__(self, batch: Batch) -> tuple[float, float]:
        raw = self.model.decision_function(batch.features)
        raw = raw.reshape(batch.num_records, 1, -1)
        if self.normalisation is not None:
            mean, scale = self.normalisation
            raw = (raw - np.float32(mean)) / np.float32(scale)
        labels = normalised_labels(batch.labels, self.normalisation)
        losses = self.loss.value(raw, labels)[:, 0]
        weights = self.weighting.raw(batch.labels, batch.weights)
        column = self.candidate if weights.shape[1] > 1 else 0
        weights = weights[:, column]
        return float(np.dot(losses, weights)), float(weights.sum())


@dataclass(frozen=True, eq=False)
class ModelPredictions:
    """Labels, scores and predicted labels of one model on a chunk."""

    model: LinearModel

    def __call__(
        self, batch: Batch
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        prediction = self.model.predict(batch.features)
        return (
            batch.labels,
            prediction.score,
            prediction.predicted_label,
            batch.weights,
        )
