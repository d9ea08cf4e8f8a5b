"""``LinearLearnerRegressor``: a linear regressor as a scikit-learn estimator."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from lodgepole.sklearn._base import LinearLearnerBase

__all__ = ["LinearLearnerRegressor"]


class LinearLearnerRegressor(RegressorMixin, LinearLearnerBase):
    """A linear regressor trained by lodgepole, as a scikit-learn estimator.

    Parameters
    ----------
    loss, epochs, mini_batch_size, learning_rate, optimizer, wd, l1, ...
        SageMaker Linear Learner hyperparameters of ``predictor_type
        'regressor'`` under their own names and with their defaults
        (``loss="auto"`` is squared loss; also ``absolute_loss``,
        ``huber_loss``, ``quantile_loss``, ``eps_insensitive_*``);
        ``mini_batch_size=None`` as for the classifier.
    random_state
        Seed of shuffling, initialisation and sampling: an int, a
        ``numpy.random.RandomState`` or ``None``.

    Attributes
    ----------
    coef_, intercept_
        Shape (n_features,) and (1,), on raw features and in label units.
    model_
        The trained :class:`~lodgepole.LinearModel`.
    n_features_in_, feature_names_in_, n_iter_, best_epoch_, history_, metrics_
        As for :class:`~lodgepole.sklearn.LinearLearnerClassifier`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    >>> reg = LinearLearnerRegressor(epochs=10, random_state=0).fit(X, y)
    >>> np.round(reg.coef_, 1).tolist(), bool(reg.score(X, y) > 0.99)
    ([1.0, -2.0, 0.5], True)
    """

    def __init__(
        self,
        *,
        loss: str = "auto",
        epochs: int = 15,
        mini_batch_size: int | None = None,
        learning_rate: float | str = "auto",
        optimizer: str = "auto",
        wd: float | str = "auto",
        l1: float | str = "auto",
        num_models: int | str = "auto",
        use_bias: bool = True,
        normalize_data: bool = True,
        unbias_data: bool | str = "auto",
        normalize_label: bool | str = "auto",
        unbias_label: bool | str = "auto",
        beta_1: float | str = "auto",
        beta_2: float | str = "auto",
        momentum: float | str = "auto",
        bias_lr_mult: float | str = "auto",
        bias_wd_mult: float | str = "auto",
        use_lr_scheduler: bool = True,
        lr_scheduler_step: int | str = "auto",
        lr_scheduler_factor: float | str = "auto",
        lr_scheduler_minimum_lr: float | str = "auto",
        init_method: str = "uniform",
        init_scale: float = 0.07,
        init_sigma: float = 0.01,
        init_bias: float = 0.0,
        early_stopping_patience: int = 3,
        early_stopping_tolerance: float = 0.001,
        num_point_for_scaler: int = 10000,
        huber_delta: float = 1.0,
        quantile: float = 0.5,
        loss_insensitivity: float = 0.01,
        shuffle: bool = False,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.loss = loss
        self.epochs = epochs
        self.mini_batch_size = mini_batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.wd = wd
        self.l1 = l1
        self.num_models = num_models
        self.use_bias = use_bias
        self.normalize_data = normalize_data
        self.unbias_data = unbias_data
        self.normalize_label = normalize_label
        self.unbias_label = unbias_label
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.momentum = momentum
        self.bias_lr_mult = bias_lr_mult
        self.bias_wd_mult = bias_wd_mult
        self.use_lr_scheduler = use_lr_scheduler
        self.lr_scheduler_step = lr_scheduler_step
        self.lr_scheduler_factor = lr_scheduler_factor
        self.lr_scheduler_minimum_lr = lr_scheduler_minimum_lr
        self.init_method = init_method
        self.init_scale = init_scale
        self.init_sigma = init_sigma
        self.init_bias = init_bias
        self.early_stopping_patience = early_stopping_patience
        self.early_stopping_tolerance = early_stopping_tolerance
        self.num_point_for_scaler = num_point_for_scaler
        self.huber_delta = huber_delta
        self.quantile = quantile
        self.loss_insensitivity = loss_insensitivity
        self.shuffle = shuffle
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearLearnerRegressor:
        """Train on ``X`` and ``y`` (and per-sample weights); return self."""
        X, y = self._validate(X, y, reset=True, y_numeric=True)
        hyperparameters = self._hyperparameters(len(y), predictor_type="regressor")
        self._fit_channel(hyperparameters, self._channel(X, y, sample_weight))
        return self

    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None
    ) -> LinearLearnerRegressor:
        """One pass of SGD over ``X`` and ``y``; continues after :meth:`fit`."""
        first = not hasattr(self, "model_")
        X, y = self._validate(X, y, reset=first, y_numeric=True)
        hyperparameters = self._hyperparameters(len(y), predictor_type="regressor")
        self._partial_fit_channel(hyperparameters, self._channel(X, y, sample_weight))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predicted value of each sample, in label units."""
        return self._raw_scores(X)[:, 0]
