"""``LinearLearnerClassifier``: binary or multiclass, chosen from ``y``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight

from lodgepole._types import PredictorType
from lodgepole.sklearn._base import LinearLearnerBase

__all__ = ["LinearLearnerClassifier"]


def _has_probabilities(estimator: LinearLearnerClassifier) -> bool:
    """Hinge loss scores are margins, not probabilities."""
    return estimator.loss != "hinge_loss"


class LinearLearnerClassifier(ClassifierMixin, LinearLearnerBase):
    """A linear classifier trained by lodgepole, as a scikit-learn estimator.

    Two classes in ``y`` make a ``binary_classifier`` (logistic or hinge
    loss), more make a ``multiclass_classifier`` (softmax). Labels may be
    any values: they are sorted into :attr:`classes_`.

    Parameters
    ----------
    loss, epochs, mini_batch_size, learning_rate, optimizer, wd, l1, ...
        SageMaker Linear Learner hyperparameters under their own names and
        with their defaults (see the README's table); ``num_models="auto"``
        trains 32 candidates and keeps the best. ``mini_batch_size=None``
        (the one default of our own) is SageMaker's 1000, or a tenth of the
        training samples when that is smaller, so that small data sets get
        ten updates per epoch.
    class_weight
        ``None``; ``"balanced"``: ``n_samples / (n_classes * count)`` per
        class, as scikit-learn computes it (the inverse class frequencies of
        ``balance_multiclass_weights`` and ``positive_example_weight_mult=
        "balanced"``); or a mapping from class to weight. Either is
        multiplied into ``sample_weight``, so binary threshold calibration
        and model selection weigh the classes as the loss does.
    random_state
        Seed of shuffling, initialisation and sampling: an int, a
        ``numpy.random.RandomState`` or ``None`` (drawn from numpy's global
        generator).

    Attributes
    ----------
    classes_
        The sorted label values.
    coef_, intercept_
        Shape (1, n_features) and (1,) for two classes, (n_classes,
        n_features) and (n_classes,) for more; on raw features (the scaler
        is folded in).
    model_
        The trained :class:`~lodgepole.LinearModel`, ready to save or deploy.
    n_features_in_, feature_names_in_
        As in every scikit-learn estimator.
    n_iter_, best_epoch_, history_, metrics_
        Epochs run, the epoch the model comes from, per-epoch metrics and
        final train metrics (of the last ``fit``).

    Notes
    -----
    :meth:`partial_fit` trains one candidate model with one pass of
    mini-batch SGD per call, without model selection; after :meth:`fit`
    it continues from the chosen model.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=600, n_classes=3, n_informative=4,
    ...                            random_state=0)
    >>> clf = LinearLearnerClassifier(epochs=5, random_state=0).fit(X, y)
    >>> clf.classes_.tolist(), clf.coef_.shape
    ([0, 1, 2], (3, 20))
    >>> bool(clf.score(X, y) > 0.7)
    True
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
        margin: float = 1.0,
        binary_classifier_model_selection_criteria: str = "accuracy",
        target_recall: float = 0.8,
        target_precision: float = 0.8,
        f_beta: float = 1.0,
        positive_example_weight_mult: float | str = 1.0,
        num_calibration_samples: int | str = "auto",
        accuracy_top_k: int = 3,
        shuffle: bool = False,
        class_weight: str | Mapping[Any, float] | None = None,
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
        self.margin = margin
        self.binary_classifier_model_selection_criteria = (
            binary_classifier_model_selection_criteria
        )
        self.target_recall = target_recall
        self.target_precision = target_precision
        self.f_beta = f_beta
        self.positive_example_weight_mult = positive_example_weight_mult
        self.num_calibration_samples = num_calibration_samples
        self.accuracy_top_k = accuracy_top_k
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.random_state = random_state

    # ---------------------------------------------------------------- training
    def _is_classifier(self) -> bool:
        return True

    def _classifier_hyperparameters(
        self, num_classes: int, num_records: int
    ) -> dict[str, object]:
        if num_classes == 2:
            return self._hyperparameters(
                num_records, predictor_type="binary_classifier"
            )
        return self._hyperparameters(
            num_records, predictor_type="multiclass_classifier", num_classes=num_classes
        )

    def _encode(self, y: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
        """Label indices into ``classes`` (``classes_`` is set from them)."""
        check_classification_targets(y)
        if classes is None:
            self.classes_, encoded = np.unique(y, return_inverse=True)
        else:
            self.classes_ = np.unique(classes)
            encoded = np.searchsorted(self.classes_, y)
            unknown = (encoded >= len(self.classes_)) | (
                self.classes_[np.minimum(encoded, len(self.classes_) - 1)] != y
            )
            if unknown.any():
                raise ValueError(
                    f"y holds {y[np.flatnonzero(unknown)[0]]!r}, which is not "
                    f"among the classes {self.classes_.tolist()!r} of the first "
                    "partial_fit call."
                )
        if len(self.classes_) < 2:
            raise ValueError(
                "LinearLearnerClassifier needs samples of at least 2 classes; "
                f"got 1 class: {self.classes_.tolist()!r}."
            )
        return encoded

    def _weights(
        self, labels: np.ndarray, sample_weight: Any, X: Any, *, partial: bool = False
    ) -> Any:
        """``sample_weight`` times each sample's ``class_weight``, if any.

        Class weights become record weights, so threshold calibration and
        model selection count them as the loss does.
        """
        weights = self.class_weight
        if weights is None:
            return sample_weight
        if isinstance(weights, str) and weights == "balanced":
            if partial:
                raise ValueError(
                    "class_weight='balanced' needs every label at once; in "
                    "partial_fit give a mapping, e.g. the weights "
                    "sklearn.utils.class_weight.compute_class_weight returns."
                )
            counts = np.bincount(labels, minlength=len(self.classes_))
            per_class = len(labels) / (len(self.classes_) * np.maximum(counts, 1))
        elif isinstance(weights, Mapping):
            known = set(self.classes_.tolist())
            unknown = [key for key in weights if key not in known]
            if unknown:
                raise ValueError(
                    f"class_weight names {unknown[0]!r}, which is not among the "
                    f"classes {self.classes_.tolist()!r}."
                )
            per_class = np.array(
                [float(weights.get(c, 1.0)) for c in self.classes_.tolist()]
            )
        else:
            raise ValueError(
                "class_weight must be None, 'balanced' or a mapping from class "
                f"to weight; got {weights!r}."
            )
        base = _check_sample_weight(sample_weight, X, dtype=np.float64)
        return base * per_class[labels]

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LinearLearnerClassifier:
        """Train on ``X`` and ``y`` (and per-sample weights); return self."""
        X, y = self._validate(X, y, reset=True, y_numeric=False)
        labels = self._encode(y, None)
        hyperparameters = self._classifier_hyperparameters(len(self.classes_), len(y))
        weights = self._weights(labels, sample_weight, X)
        self._fit_channel(hyperparameters, self._channel(X, labels, weights))
        return self

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> LinearLearnerClassifier:
        """One pass of SGD over ``X`` and ``y``; ``classes`` on the first call."""
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError(
                "classes must be given on the first call to partial_fit: every "
                "label the model will see, e.g. classes=np.unique(y_all)."
            )
        X, y = self._validate(X, y, reset=first, y_numeric=False)
        labels = self._encode(y, classes if first else self.classes_)
        hyperparameters = self._classifier_hyperparameters(len(self.classes_), len(y))
        weights = self._weights(labels, sample_weight, X, partial=True)
        self._partial_fit_channel(hyperparameters, self._channel(X, labels, weights))
        return self

    # ---------------------------------------------------------------- scoring
    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores: shape (n,) for two classes, (n, n_classes) for more.

        For two classes the score is shifted by the calibrated threshold, so
        it is positive exactly where :meth:`predict` says ``classes_[1]``.
        """
        raw = self._raw_scores(X)
        if self.model_.predictor_type is not PredictorType.BINARY:
            return raw
        threshold = float(self.model_.threshold)
        if self.model_.link == "sigmoid":
            threshold = np.log(threshold / (1.0 - threshold))
        return raw[:, 0] - threshold

    def predict(self, X: Any) -> np.ndarray:
        """The predicted class of each sample, from :attr:`classes_`."""
        decision = self.decision_function(X)
        if decision.ndim == 1:
            index = (decision > 0).astype(np.int64)
        else:
            index = np.argmax(decision, axis=1)
        return self.classes_[index]  # type: ignore[no-any-return]

    @available_if(_has_probabilities)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns as :attr:`classes_`."""
        raw = self._raw_scores(X)
        if raw.shape[1] == 1:
            positive = expit(raw[:, 0])
            return np.column_stack([1.0 - positive, positive])
        return softmax(raw, axis=1)  # type: ignore[no-any-return]

    @available_if(_has_probabilities)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """The logarithm of :meth:`predict_proba`."""
        raw = self._raw_scores(X)
        if raw.shape[1] == 1:
            return np.column_stack([log_expit(-raw[:, 0]), log_expit(raw[:, 0])])
        return log_softmax(raw, axis=1)  # type: ignore[no-any-return]
