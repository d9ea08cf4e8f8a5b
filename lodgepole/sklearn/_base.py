"""What the scikit-learn estimators share: hyperparameters, seeds, the model.

The estimators are thin: :meth:`fit` validates the input with scikit-learn's
own helpers, encodes the labels, and calls the training engine
(:func:`lodgepole.learn.incremental.train_resumable`); :meth:`partial_fit`
drives an :class:`~lodgepole.learn.incremental.IncrementalTrainer`. Every
constructor parameter that is not scikit-learn's own (``class_weight``,
``random_state``) is a lodgepole hyperparameter under its own name, checked
by :class:`~lodgepole.hyperparameters.Hyperparameters` when ``fit`` runs.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from lodgepole.data.memory import InMemoryChannel
from lodgepole.learn.incremental import IncrementalTrainer, train_resumable
from lodgepole.model import LinearModel

__all__ = ["LinearLearnerBase", "mini_batch_size_for"]

#: Constructor parameters that are scikit-learn's, not lodgepole hyperparameters.
SKLEARN_PARAMETERS = frozenset({"class_weight", "random_state"})

#: ``mini_batch_size=None`` is SageMaker's 1000, or less so that a small
#: training set still gets this many updates per epoch.
MIN_UPDATES_PER_EPOCH = 10


def mini_batch_size_for(value: int | None, num_records: int) -> int:
    """The mini-batch size a ``mini_batch_size`` parameter means for the data.

    Examples
    --------
    >>> mini_batch_size_for(None, 500_000), mini_batch_size_for(None, 300)
    (1000, 30)
    >>> mini_batch_size_for(64, 300)
    64
    """
    if value is not None:
        return value
    return max(1, min(1000, num_records // MIN_UPDATES_PER_EPOCH))


class LinearLearnerBase(BaseEstimator):
    """Shared machinery of :class:`LinearLearnerClassifier` and the regressor."""

    # ---------------------------------------------------------------- settings
    def _seed(self) -> int:
        """The training seed: ``random_state`` itself when it is an int."""
        state = self.random_state  # type: ignore[attr-defined]
        if isinstance(state, (int, np.integer)) and not isinstance(state, bool):
            return int(state)
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))

    def _hyperparameters(self, num_records: int, **fixed: object) -> dict[str, object]:
        """The lodgepole hyperparameters of this estimator, plus ``fixed``."""
        names = inspect.signature(type(self).__init__).parameters
        values = {
            name: getattr(self, name)
            for name in names
            if name != "self" and name not in SKLEARN_PARAMETERS
        }
        values["mini_batch_size"] = mini_batch_size_for(
            values["mini_batch_size"],
            num_records,  # type: ignore[arg-type]
        )
        return {**values, **fixed, "seed": self._seed()}

    # ---------------------------------------------------------------- training
    def _validate(
        self, X: Any, y: Any, *, reset: bool, y_numeric: bool
    ) -> tuple[Any, np.ndarray]:
        return validate_data(  # type: ignore[no-any-return]
            self,
            X,
            y,
            reset=reset,
            accept_sparse="csr",
            dtype=[np.float32, np.float64],
            y_numeric=y_numeric,
        )

    @staticmethod
    def _channel(X: Any, labels: np.ndarray, sample_weight: Any) -> InMemoryChannel:
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float32)
        return InMemoryChannel("train", X, labels.astype(np.float32), weights)

    def _fit_channel(
        self, hyperparameters: dict[str, object], channel: InMemoryChannel
    ) -> None:
        result, incremental = train_resumable(hyperparameters, channel)
        self._set_model(result.model)
        self._incremental_ = incremental
        self.n_iter_ = len(result.history)
        self.history_ = result.history
        self.metrics_ = result.metrics
        self.best_epoch_ = result.best_epoch

    def _partial_fit_channel(
        self, hyperparameters: dict[str, object], channel: InMemoryChannel
    ) -> None:
        incremental = getattr(self, "_incremental_", None)
        if incremental is None:
            incremental = IncrementalTrainer.start(hyperparameters, channel)
            self._incremental_ = incremental
            self.n_iter_ = 0
        incremental.update(channel)
        self.n_iter_ += 1
        self._set_model(incremental.model())

    def _set_model(self, model: LinearModel) -> None:
        self.model_ = model
        weights, bias = model.weights, model.bias
        if weights.shape[1] == 1 and not self._is_classifier():
            self.coef_ = weights[:, 0].copy()
        else:
            self.coef_ = weights.T.copy()
        self.intercept_ = bias.copy()

    def _is_classifier(self) -> bool:
        return False

    # ---------------------------------------------------------------- scoring
    def _raw_scores(self, X: Any) -> np.ndarray:
        """``X @ coef + intercept`` in float64, shape (n, K).

        float64 (as scikit-learn's linear models compute) keeps every
        sample's score independent of the batch it comes in to 1e-15;
        :meth:`LinearModel.predict` computes the same in float32.
        """
        check_is_fitted(self, "model_")
        X = validate_data(
            self, X, reset=False, accept_sparse="csr", dtype=[np.float64, np.float32]
        )
        weights = self.model_.weights.astype(np.float64)
        raw = np.asarray(X @ weights, dtype=np.float64)
        raw += self.model_.bias.astype(np.float64)
        return raw

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
