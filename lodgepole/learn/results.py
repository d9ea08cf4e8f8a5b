"""What training returns: the per-epoch report and the final result."""

from __future__ import annotations

from dataclasses import dataclass, field

from lodgepole.model import LinearModel

__all__ = ["EpochReport", "TrainingResult"]


@dataclass(frozen=True)
class EpochReport:
    """What one epoch did; passed to the progress callback and kept in the history."""

    epoch: int
    epochs: int
    metrics: dict[str, float]
    improved: bool
    seconds: float


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """The outcome of :func:`train`.

    Attributes
    ----------
    model
        The selected model, normalisation folded into its weights.
    metrics
        Final metrics of the selected model per channel, e.g.
        ``result.metrics["test"]["multiclass_accuracy"]``.
    history
        One dict per epoch: ``train:objective_loss``, ``validation:...``.
    best_epoch
        Epoch (0-based) whose parameters the selected candidate kept.
    candidate
        Settings of the selected candidate (learning rate, wd, l1, ...).
    hyperparameters
        The hyperparameters after resolving ``auto``.
    """

    model: LinearModel
    metrics: dict[str, dict[str, float]]
    history: list[dict[str, float]]
    best_epoch: int
    candidate: dict[str, float | int]
    hyperparameters: dict[str, object] = field(default_factory=dict)
