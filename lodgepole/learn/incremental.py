"""Training one model batch by batch: what scikit-learn calls ``partial_fit``.

An :class:`IncrementalTrainer` holds a single candidate model and its
optimiser state between calls. :meth:`~IncrementalTrainer.start` fits the
scaler and class weights on the first batch, as :func:`~lodgepole.train` fits
them on a sample of the train channel; :meth:`~IncrementalTrainer.from_fit`
continues from a finished full training run instead (its chosen candidate at
its best epoch, with that run's scaler and weights). Each
:meth:`~IncrementalTrainer.update` is one pass of mini-batch SGD over the
records it is given.

Notes
-----
There is no model selection, early stopping or threshold calibration
between updates: the model after an update is the current iterate, with the
binary threshold of the run it continues (0.5 when started from a batch).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from lodgepole.data.memory import InMemoryChannel
from lodgepole.exceptions import DataFormatError
from lodgepole.hyperparameters import Hyperparameters
from lodgepole.learn._state import BestStates
from lodgepole.learn.results import TrainingResult
from lodgepole.learn.trainer import _coerce_hyperparameters, _Trainer
from lodgepole.model import LinearModel

__all__ = ["IncrementalTrainer", "train_resumable"]

logger = logging.getLogger(__name__)


class IncrementalTrainer:
    """One candidate model, trained a batch at a time.

    Build it with :meth:`start` or :meth:`from_fit`, not directly.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.float32)
    >>> hp = {"predictor_type": "binary_classifier", "mini_batch_size": 50}
    >>> trainer = IncrementalTrainer.start(hp, InMemoryChannel("train", X, y))
    >>> for rows in np.array_split(np.arange(600), 3):
    ...     trainer.update(InMemoryChannel("train", X[rows], y[rows]))
    >>> model = trainer.model()
    >>> bool((model.predict(X).predicted_label == y).mean() > 0.9), trainer.updates
    (True, 3)
    """

    def __init__(self, trainer: _Trainer, threshold: float) -> None:
        self._trainer = trainer
        self._threshold = threshold
        #: Calls of :meth:`update` so far (each one pass over its records).
        self.updates = 0
        self._forget_data()

    @classmethod
    def start(
        cls,
        hyperparameters: Mapping[str, object] | Hyperparameters,
        first: InMemoryChannel,
    ) -> IncrementalTrainer:
        """A fresh model whose scaler and class weights come from ``first``.

        ``num_models`` is set to 1 and successive halving is off: there is
        no validation between updates to select a candidate with.
        """
        hp = _coerce_hyperparameters(hyperparameters).replace(num_models=1)
        trainer = _Trainer(hp, {"train": first}, None, prune=False)
        trainer.build()
        return cls(trainer, 0.5)

    @classmethod
    def from_fit(cls, trainer: _Trainer) -> IncrementalTrainer:
        """Continue from a finished run: its chosen candidate at its best state."""
        assert trainer.best is not None, "from_fit needs a trainer that has fit"
        chosen = np.array([trainer._chosen])
        columns = trainer.stack.keep(chosen)
        trainer.best.keep(chosen, columns)
        trainer.weighting.keep(chosen)
        trainer.stack.weights = trainer.best.weights.copy()
        trainer.stack.bias = trainer.best.bias.copy()
        trainer.prune = False
        trainer._chosen = 0
        return cls(trainer, float(trainer.best.thresholds[0]))

    def _forget_data(self) -> None:
        """Drop every reference to records, so the state pickles small."""
        trainer = self._trainer
        trainer.channels = {}
        trainer.validation = None
        trainer.__dict__.pop("_prune_channel", None)
        trainer.__dict__.pop("_mini_batch_size", None)

    @property
    def feature_dim(self) -> int:
        return int(self._trainer.stack.feature_dim)

    def update(self, channel: InMemoryChannel) -> None:
        """One pass of mini-batch SGD over ``channel``'s records.

        Raises
        ------
        DataFormatError
            If the records have another feature count than the model, or
            labels the predictor type does not accept.
        """
        trainer = self._trainer
        if channel.feature_dim != self.feature_dim:
            raise DataFormatError(
                f"channel {channel.name!r} has {channel.feature_dim} features; the "
                f"model has {self.feature_dim}."
            )
        channel.check_labels(trainer.predictor_type, trainer.num_classes)
        trainer.train_channel = channel
        try:
            trainer.local_epoch(self.updates)  # shuffles with seed + updates
        finally:
            self._forget_data()
            trainer.train_channel = None  # type: ignore[assignment]
        self.updates += 1

    def model(self) -> LinearModel:
        """The current model (the latest iterate), scaler folded in."""
        trainer = self._trainer
        placeholder = np.zeros((1, self.feature_dim), np.float32)
        trainer.train_channel = InMemoryChannel("train", placeholder, [0.0])
        try:
            model = trainer._model(0, BestStates.start(trainer.stack), self._threshold)
        finally:
            trainer.train_channel = None  # type: ignore[assignment]
        return model


def train_resumable(
    hyperparameters: Mapping[str, object] | Hyperparameters,
    train: InMemoryChannel,
) -> tuple[TrainingResult, IncrementalTrainer]:
    """:func:`lodgepole.train` on one in-memory channel, and its continuation.

    The second value continues the chosen candidate batch by batch.
    """
    hp = _coerce_hyperparameters(hyperparameters)
    trainer = _Trainer(hp, {"train": train}, None)
    trainer.build()
    result = trainer.fit()
    return result, IncrementalTrainer.from_fit(trainer)
