"""Training losses of Linear Learner, vectorised over rows, models and outputs.

The training engine scores a mini-batch for all ``num_models`` candidate models
with one fused matrix product, ``scores = (X @ W_all).reshape(n, M, K)``: ``n``
rows, ``M`` candidate models and ``K`` outputs per model (``num_classes`` for
``softmax_loss``, 1 for every other loss). Each loss turns such a block into a
per-row, per-model cost of shape ``(n, M)`` and, for training, the gradient of
that cost with respect to the scores, of shape ``(n, M, K)``.

Costs are unweighted: the trainer multiplies them (and their gradients) by row
or class weights and adds regularisation. The output dtype follows the scores:
float32 in, float32 out; float64 in, float64 out.

Subgradients
------------
Several losses have kinks (``hinge_loss``, ``absolute_loss``,
``quantile_loss`` and the two ``eps_insensitive_*`` losses). At a kink the
gradient returned is the subgradient of smallest magnitude, which for every
loss here is 0: the row then contributes no update. ``huber_loss`` is
continuously differentiable, so its boundary needs no rule.

Performance
-----------
For ``n=1000``, ``M=32`` and ``K=7`` in float32, ``softmax_loss`` computes
value and gradient in about a millisecond on one core; reductions over up to
24 classes run as a short Python loop over classes, which is several times
faster than numpy's reductions along a short last axis. The pointwise losses
cost a few passes over an ``(n, M)`` array.
"""

from __future__ import annotations

import abc
import dataclasses
import difflib
import logging
import math
from typing import ClassVar, NoReturn

import numpy as np

from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.hyperparameters import LOSSES

__all__ = [
    "LOSSES_BY_PREDICTOR_TYPE",
    "AbsoluteLoss",
    "EpsInsensitiveAbsoluteLoss",
    "EpsInsensitiveSquaredLoss",
    "HingeLoss",
    "HuberLoss",
    "LogisticLoss",
    "Loss",
    "QuantileLoss",
    "SoftmaxLoss",
    "SquaredLoss",
    "make_loss",
]

logger = logging.getLogger(__name__)

#: Allowed ``loss`` values per predictor type (SPEC §2.3); the first is what
#: ``loss="auto"`` becomes. The table lives with the other hyperparameters.
LOSSES_BY_PREDICTOR_TYPE: dict[PredictorType, tuple[str, ...]] = LOSSES

# Up to this many classes, softmax reductions loop over the classes in Python
# (K strided passes over an (n, M) array); beyond it numpy's axis reductions win.
_LOOP_MAX_CLASSES = 24


class Loss(abc.ABC):
    """A training loss: per-row cost and its gradient with respect to the scores.

    Subclasses set three class attributes: ``name`` (the ``loss``
    hyperparameter value), ``objective_name`` (the metric name under which the
    mean cost is logged, SPEC §8.1) and ``link`` (how a score becomes a
    prediction: ``"sigmoid"``, ``"softmax"`` or ``"identity"``).

    Examples
    --------
    >>> loss = make_loss("squared_loss")
    >>> scores = np.array([[[1.0], [3.0]]])  # 1 row, 2 models, 1 output
    >>> loss.value(scores, np.array([2.0])).tolist()
    [[1.0, 1.0]]
    >>> loss.value_and_gradient(scores, np.array([2.0]))[1].ravel().tolist()
    [-2.0, 2.0]
    """

    name: ClassVar[str]
    objective_name: ClassVar[str]
    link: ClassVar[str]
    # Options the loss takes (dataclass fields) and the rule each must satisfy.
    _rules: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __post_init__(self) -> None:
        for option, rule in self._rules:
            value = _check_option(self.name, option, getattr(self, option), rule)
            object.__setattr__(self, option, value)

    def num_outputs(self, num_classes: int) -> int:
        """Number of scores K each model produces per row.

        Parameters
        ----------
        num_classes
            Number of label values (2 for binary, ignored for regression).

        Returns
        -------
        int
            ``num_classes`` for ``softmax_loss``, 1 for every other loss.

        Examples
        --------
        >>> make_loss("logistic").num_outputs(2)
        1
        """
        return 1

    @abc.abstractmethod
    def value(self, scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Unweighted cost of every row under every candidate model.

        Parameters
        ----------
        scores
            Raw model outputs ``w·x + b``, shape ``(n, M, K)``.
        labels
            One label per row, shape ``(n,)``: 0/1 for binary losses, the class
            index for ``softmax_loss``, the (normalised) target for regression.

        Returns
        -------
        numpy.ndarray
            Cost of shape ``(n, M)`` in the dtype of ``scores``.

        Raises
        ------
        DataFormatError
            If the shapes disagree, or a classification label is not one the
            loss accepts.
        """

    @abc.abstractmethod
    def value_and_gradient(
        self, scores: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unweighted cost and its gradient with respect to ``scores``.

        Parameters
        ----------
        scores
            Raw model outputs ``w·x + b``, shape ``(n, M, K)``.
        labels
            One label per row, shape ``(n,)``, as for :meth:`value`.

        Returns
        -------
        tuple of numpy.ndarray
            Cost of shape ``(n, M)`` and gradient of shape ``(n, M, K)``, both in
            the dtype of ``scores``. At a kink the gradient is 0.

        Raises
        ------
        DataFormatError
            As for :meth:`value`.
        """


# ---------------------------------------------------------------------------
# input checks shared by every loss


def _as_scores(scores: np.ndarray, loss_name: str) -> np.ndarray:
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    if scores.ndim != 3:
        raise DataFormatError(
            f"{loss_name} expects scores of shape (rows, num_models, outputs); "
            f"got an array of shape {scores.shape!r}."
        )
    return scores


def _as_labels(labels: np.ndarray, scores: np.ndarray, loss_name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != scores.shape[:1]:
        raise DataFormatError(
            f"{loss_name} expects one label per row: labels of shape "
            f"({scores.shape[0]},) for scores of shape {scores.shape!r}; "
            f"got labels of shape {labels.shape!r}."
        )
    return labels.astype(scores.dtype, copy=False)


def _raise_bad_label(
    labels: np.ndarray, ok: np.ndarray, expected: str, name: str
) -> NoReturn:
    row = int(np.flatnonzero(~ok)[0])
    raise DataFormatError(
        f"{name} labels must be {expected}; row {row} has label {labels[row].item()!r}."
    )


def _check_option(loss_name: str, option: str, value: float, rule: str) -> float:
    """Return ``value`` as a float if it satisfies ``rule``, else raise ConfigError."""
    valid_rules = {
        "> 0": lambda v: v > 0,
        "in (0, 1)": lambda v: 0 < v < 1,
    }
    is_number = isinstance(value, (int, float, np.floating, np.integer))
    if is_number and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and valid_rules[rule](number):
            return number
    raise ConfigError(
        f"{option} must be a number {rule} for loss {loss_name!r}; got {value!r}."
    )


# ---------------------------------------------------------------------------
# losses with one output per model (K = 1)


class _PointwiseLoss(Loss):
    """A loss with one output per model, computed element by element on ``(n, M)``."""

    def value(self, scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
        f, y = self._inputs(scores, labels)
        return self._value(f, y)

    def value_and_gradient(
        self, scores: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        f, y = self._inputs(scores, labels)
        loss, grad = self._value_and_gradient(f, y)
        return loss, grad[:, :, np.newaxis]

    def _inputs(
        self, scores: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores as ``(n, M)`` and checked labels as a ``(n, 1)`` column."""
        scores = _as_scores(scores, self.name)
        if scores.shape[2] != 1:
            raise DataFormatError(
                f"{self.name} expects 1 output per model; got scores of shape "
                f"{scores.shape!r} with {scores.shape[2]} outputs."
            )
        labels = _as_labels(labels, scores, self.name)
        self._check_labels(labels)
        return scores[:, :, 0], labels[:, np.newaxis]

    def _check_labels(self, labels: np.ndarray) -> None:
        """Regression labels are checked for finiteness by the trainer (SPEC §3.8)."""

    @abc.abstractmethod
    def _value(self, f: np.ndarray, y: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _value_and_gradient(
        self, f: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


class _BinaryLoss(_PointwiseLoss):
    """A binary classification loss: labels 0 or 1, one score per model."""

    def _check_labels(self, labels: np.ndarray) -> None:
        ok = (labels == 0) | (labels == 1)
        if not ok.all():
            _raise_bad_label(labels, ok, "0 or 1", self.name)


class _ResidualLoss(_PointwiseLoss):
    """A regression loss that depends on the residual ``e = f - y`` only."""

    link = "identity"

    def _value(self, f: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._residual_value(f - y)

    def _value_and_gradient(
        self, f: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return self._residual_value_and_gradient(f - y)

    @abc.abstractmethod
    def _residual_value(self, e: np.ndarray) -> np.ndarray: ...

    @abc.abstractmethod
    def _residual_value_and_gradient(
        self, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclasses.dataclass(frozen=True)
class LogisticLoss(_BinaryLoss):
    """Binary cross-entropy of ``sigmoid(f)``: ``softplus(f) - y·f``.

    With ``t = (1 - 2y)·f`` the cost is ``softplus(t) = max(t, 0) +
    log1p(exp(-abs(t)))`` and the gradient ``sigmoid(f) - y = (1 - 2y)·sigmoid(t)``;
    both come from one ``exp(-abs(t))`` that cannot overflow, so any finite
    score is safe and small costs keep their precision.

    Examples
    --------
    >>> loss = LogisticLoss()
    >>> round(float(loss.value(np.zeros((1, 1, 1)), np.array([1.0]))[0, 0]), 4)
    0.6931
    """

    name = "logistic"
    objective_name = "binary_classification_cross_entropy_objective"
    link = "sigmoid"

    def _value(self, f: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = f * (1 - 2 * y)
        return _softplus(t, _exp_minus_abs(t))

    def _value_and_gradient(
        self, f: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        sign = 1 - 2 * y
        t = f * sign
        small = _exp_minus_abs(t)
        loss = _softplus(t, small)

        # sigmoid(t) is 1 / (1 + small) for t >= 0 and small / (1 + small) below.
        grad = np.where(t >= 0, 1, small)
        grad /= np.add(small, 1, out=small)
        grad *= sign
        return loss, grad


def _exp_minus_abs(t: np.ndarray) -> np.ndarray:
    small = np.abs(t)
    np.negative(small, out=small)
    return np.exp(small, out=small)


def _softplus(t: np.ndarray, exp_minus_abs: np.ndarray) -> np.ndarray:
    """``log(1 + exp(t))`` given ``exp(-abs(t))``; about 10x faster than logaddexp."""
    loss = np.log1p(exp_minus_abs)
    loss += np.maximum(t, 0)
    return loss


@dataclasses.dataclass(frozen=True)
class HingeLoss(_BinaryLoss):
    """Hinge loss on 0/1 labels with margin ``m`` around the decision point 0.5.

    Cost ``max(0, m/2 - s·(f - 0.5))`` with ``s = 2y - 1``, i.e.
    ``max(0, (m+1)/2 - f)`` for label 1 and ``max(0, (m-1)/2 + f)`` for label 0.
    At the kink the gradient is 0.

    Parameters
    ----------
    margin
        The margin ``m`` (> 0).

    Examples
    --------
    >>> loss = HingeLoss(margin=1.0)
    >>> scores = np.array([[[0.25]], [[0.25]]])  # 2 rows, 1 model
    >>> loss.value(scores, np.array([1.0, 0.0])).ravel().tolist()
    [0.75, 0.25]
    """

    margin: float = 1.0

    name = "hinge_loss"
    objective_name = "hinge_loss_objective"
    link = "identity"
    _rules = (("margin", "> 0"),)

    def _slack(self, f: np.ndarray, sign: np.ndarray) -> np.ndarray:
        """``m/2 - s·(f - 0.5)``: positive where the row is inside the margin."""
        slack = f - 0.5
        slack *= sign
        np.subtract(0.5 * self.margin, slack, out=slack)
        return slack

    def _value(self, f: np.ndarray, y: np.ndarray) -> np.ndarray:
        slack = self._slack(f, 2 * y - 1)
        return np.maximum(slack, 0, out=slack)

    def _value_and_gradient(
        self, f: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        sign = 2 * y - 1
        slack = self._slack(f, sign)
        grad = (slack > 0) * -sign
        return np.maximum(slack, 0, out=slack), grad


@dataclasses.dataclass(frozen=True)
class SquaredLoss(_ResidualLoss):
    """Squared error ``e²`` with ``e = f - y``; estimates the conditional mean.

    Examples
    --------
    >>> SquaredLoss().value(np.array([[[3.0]]]), np.array([1.0])).tolist()
    [[4.0]]
    """

    name = "squared_loss"
    objective_name = "mse_objective"

    def _residual_value(self, e: np.ndarray) -> np.ndarray:
        return np.square(e, out=e)

    def _residual_value_and_gradient(
        self, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.square(e), np.multiply(e, 2, out=e)


@dataclasses.dataclass(frozen=True)
class AbsoluteLoss(_ResidualLoss):
    """Absolute error ``abs(e)``; estimates the conditional median.

    The gradient is ``sign(e)``, 0 at ``e = 0``.

    Examples
    --------
    >>> AbsoluteLoss().value(np.array([[[-3.0]]]), np.array([1.0])).tolist()
    [[4.0]]
    """

    name = "absolute_loss"
    objective_name = "absolute_loss_objective"

    def _residual_value(self, e: np.ndarray) -> np.ndarray:
        return np.abs(e, out=e)

    def _residual_value_and_gradient(
        self, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.abs(e), np.sign(e, out=e)


@dataclasses.dataclass(frozen=True)
class EpsInsensitiveSquaredLoss(_ResidualLoss):
    """``max(0, e² - ε²)``: residuals within ``ε`` cost nothing.

    The gradient is ``2e`` where ``abs(e) > ε`` and 0 elsewhere (also at the
    kinks ``abs(e) = ε``).

    Parameters
    ----------
    loss_insensitivity
        The half-width ``ε`` (> 0) of the zero-cost band.

    Examples
    --------
    >>> loss = EpsInsensitiveSquaredLoss(loss_insensitivity=1.0)
    >>> loss.value(np.array([[[0.5]], [[3.0]]]), np.zeros(2)).ravel().tolist()
    [0.0, 8.0]
    """

    loss_insensitivity: float = 0.01

    name = "eps_insensitive_squared_loss"
    objective_name = "eps_insensitive_squared_loss_objective"
    _rules = (("loss_insensitivity", "> 0"),)

    def _residual_value(self, e: np.ndarray) -> np.ndarray:
        loss = np.square(e, out=e)
        loss -= self.loss_insensitivity**2
        return np.maximum(loss, 0, out=loss)

    def _residual_value_and_gradient(
        self, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        outside = np.abs(e) > self.loss_insensitivity
        loss = np.square(e)
        loss -= self.loss_insensitivity**2
        np.maximum(loss, 0, out=loss)
        grad = np.multiply(e, 2, out=e)
        grad *= outside
        return loss, grad


@dataclasses.dataclass(frozen=True)
class EpsInsensitiveAbsoluteLoss(_ResidualLoss):
    """``max(0, abs(e) - ε)``: residuals within ``ε`` cost nothing.

    The gradient is ``sign(e)`` where ``abs(e) > ε`` and 0 elsewhere (also at
    the kinks ``abs(e) = ε``).

    Parameters
    ----------
    loss_insensitivity
        The half-width ``ε`` (> 0) of the zero-cost band.

    Examples
    --------
    >>> loss = EpsInsensitiveAbsoluteLoss(loss_insensitivity=1.0)
    >>> loss.value(np.array([[[0.5]], [[-3.0]]]), np.zeros(2)).ravel().tolist()
    [0.0, 2.0]
    """

    loss_insensitivity: float = 0.01

    name = "eps_insensitive_absolute_loss"
    objective_name = "eps_insensitive_absolute_loss_objective"
    _rules = (("loss_insensitivity", "> 0"),)

    def _residual_value(self, e: np.ndarray) -> np.ndarray:
        loss = np.abs(e, out=e)
        loss -= self.loss_insensitivity
        return np.maximum(loss, 0, out=loss)

    def _residual_value_and_gradient(
        self, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        loss = np.abs(e)
        loss -= self.loss_insensitivity
        grad = np.sign(e, out=e)
        grad *= loss > 0
        return np.maximum(loss, 0, out=loss), grad


@dataclasses.dataclass(frozen=True)
class QuantileLoss(_ResidualLoss):
    """Pinball loss ``q·max(0, y - f) + (1 - q)·max(0, f - y)``.

    Minimising its mean puts the fitted value above the label with probability
    ``q``: the fit estimates the conditional ``q``-quantile. The gradient is
    ``1 - q`` where ``f > y``, ``-q`` where ``f < y`` and 0 where ``f = y``.

    Parameters
    ----------
    quantile
        The target quantile ``q``, in (0, 1).

    Examples
    --------
    >>> loss = QuantileLoss(quantile=0.9)
    >>> loss.value(np.array([[[0.0]], [[2.0]]]), np.ones(2)).ravel().round(3).tolist()
    [0.9, 0.1]
    """

    quantile: float = 0.5

    name = "quantile_loss"
    objective_name = "quantile_loss_objective"
    _rules = (("quantile", "in (0, 1)"),)

    def _residual_value(self, e: np.ndarray) -> np.ndarray:
        return np.maximum(e * -self.quantile, e * (1 - self.quantile))

    def _residual_value_and_gradient(
        self, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        loss = self._residual_value(e)
        # s = sign(e) is -1, 0 or 1; s·(0.5 + (0.5 - q)·s) maps it to -q, 0, 1 - q.
        grad = np.sign(e, out=e)
        factor = grad * (0.5 - self.quantile)
        factor += 0.5
        grad *= factor
        return loss, grad


@dataclasses.dataclass(frozen=True)
class HuberLoss(_ResidualLoss):
    """``e²/2`` where ``abs(e) < δ``, else ``δ·abs(e) - δ²/2``.

    The loss is continuously differentiable; its gradient is ``clip(e, -δ, δ)``.

    Parameters
    ----------
    huber_delta
        The threshold ``δ`` (> 0) between the squared and the absolute part.

    Examples
    --------
    >>> loss = HuberLoss(huber_delta=1.0)
    >>> loss.value(np.array([[[0.5]], [[3.0]]]), np.zeros(2)).ravel().tolist()
    [0.125, 2.5]
    """

    huber_delta: float = 1.0

    name = "huber_loss"
    objective_name = "huber_loss_objective"
    _rules = (("huber_delta", "> 0"),)

    def _residual_value(self, e: np.ndarray) -> np.ndarray:
        delta = self.huber_delta
        size = np.abs(e)
        quadratic = 0.5 * np.square(e)
        linear = np.multiply(size, delta, out=size)
        linear -= 0.5 * delta * delta
        return np.where(linear < 0.5 * delta * delta, quadratic, linear)

    def _residual_value_and_gradient(
        self, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        loss = self._residual_value(e)
        return loss, np.clip(e, -self.huber_delta, self.huber_delta, out=e)


# ---------------------------------------------------------------------------
# softmax: K outputs per model


@dataclasses.dataclass(frozen=True)
class SoftmaxLoss(Loss):
    """Multiclass cross-entropy ``-log softmax(f)_y`` over ``K`` scores per model.

    Computed by log-sum-exp with the per-model maximum subtracted, so any
    finite score is safe; the gradient is ``softmax(f) - onehot(y)``. Labels are
    class indices ``0 … K-1`` (carried as floats).

    Examples
    --------
    >>> loss = SoftmaxLoss()
    >>> scores = np.log(np.array([[[0.5, 0.25, 0.25]]]))  # 1 row, 1 model
    >>> round(float(loss.value(scores, np.array([1.0]))[0, 0]), 4)  # -log(0.25)
    1.3863
    >>> loss.value_and_gradient(scores, np.array([1.0]))[1].round(2).tolist()
    [[[0.5, -0.75, 0.25]]]
    """

    name = "softmax_loss"
    objective_name = "multiclass_cross_entropy_objective"
    link = "softmax"

    def num_outputs(self, num_classes: int) -> int:
        """Number of scores per row and model: one per class.

        Parameters
        ----------
        num_classes
            Number of label values (at least 2).

        Returns
        -------
        int
            ``num_classes``.

        Raises
        ------
        ConfigError
            If ``num_classes`` is not an integer >= 2.

        Examples
        --------
        >>> SoftmaxLoss().num_outputs(7)
        7
        """
        if isinstance(num_classes, bool) or not isinstance(
            num_classes, (int, np.integer)
        ):
            raise ConfigError(
                f"num_classes must be an integer for softmax_loss; got {num_classes!r}."
            )
        if num_classes < 2:
            raise ConfigError(
                f"num_classes must be >= 2 for softmax_loss; got {num_classes!r}."
            )
        return int(num_classes)

    def value(self, scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
        loss, _, _ = self._exp_shifted(scores, labels)
        return loss

    def value_and_gradient(
        self, scores: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        loss, probs, true_position = self._exp_shifted(scores, labels, normalise=True)
        probs.reshape(-1)[true_position] -= 1
        return loss, probs

    def _exp_shifted(
        self, scores: np.ndarray, labels: np.ndarray, normalise: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Loss, ``exp(f - max f)`` or softmax if ``normalise``, true-class indices."""
        scores = _as_scores(scores, self.name)
        n, num_models, num_classes = scores.shape
        labels = self._class_indices(labels, scores)
        per_row = num_models * num_classes
        true_position = (np.arange(n) * per_row + labels)[:, np.newaxis] + np.arange(
            0, per_row, num_classes
        )

        # C order is required: the flat true-class indices address this buffer.
        shifted = np.empty(scores.shape, dtype=scores.dtype)
        np.subtract(scores, _max_over_classes(scores)[:, :, np.newaxis], out=shifted)
        true_shifted = shifted.reshape(-1)[true_position]
        exp = np.exp(shifted, out=shifted)
        total = _sum_over_classes(exp)

        loss = np.log(total)
        loss -= true_shifted
        if normalise:
            exp /= total[:, :, np.newaxis]
        return loss, exp, true_position

    def _class_indices(self, labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
        labels = _as_labels(labels, scores, self.name)
        num_classes = scores.shape[2]
        ok = (labels >= 0) & (labels < num_classes) & (labels == np.floor(labels))
        if not ok.all():
            expected = f"integers in [0, {num_classes - 1}] (one per score column)"
            _raise_bad_label(labels, ok, expected, self.name)
        return labels.astype(np.intp)


def _max_over_classes(scores: np.ndarray) -> np.ndarray:
    if scores.shape[2] > _LOOP_MAX_CLASSES:
        return scores.max(axis=2)
    result = scores[:, :, 0].copy()
    for k in range(1, scores.shape[2]):
        np.maximum(result, scores[:, :, k], out=result)
    return result


def _sum_over_classes(values: np.ndarray) -> np.ndarray:
    if values.shape[2] > _LOOP_MAX_CLASSES:
        return values.sum(axis=2)
    result = values[:, :, 0].copy()
    for k in range(1, values.shape[2]):
        result += values[:, :, k]
    return result


# ---------------------------------------------------------------------------
# construction by name

_LOSS_CLASSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        LogisticLoss,
        HingeLoss,
        SoftmaxLoss,
        SquaredLoss,
        AbsoluteLoss,
        EpsInsensitiveSquaredLoss,
        EpsInsensitiveAbsoluteLoss,
        QuantileLoss,
        HuberLoss,
    )
}


def make_loss(
    name: str,
    *,
    margin: float = 1.0,
    huber_delta: float = 1.0,
    quantile: float = 0.5,
    loss_insensitivity: float = 0.01,
) -> Loss:
    """Build the loss named by the ``loss`` hyperparameter.

    Each loss takes only the options it uses (``margin`` for ``hinge_loss``,
    ``huber_delta`` for ``huber_loss``, ``quantile`` for ``quantile_loss``,
    ``loss_insensitivity`` for the ``eps_insensitive_*`` losses); the others are
    ignored.

    Parameters
    ----------
    name
        A loss name of SPEC §2.3 (not ``"auto"``: resolve it first with
        ``LOSSES_BY_PREDICTOR_TYPE[predictor_type][0]``).
    margin
        Hinge margin ``m`` (> 0).
    huber_delta
        Huber threshold ``δ`` (> 0).
    quantile
        Target quantile ``q`` in (0, 1).
    loss_insensitivity
        Half-width ``ε`` (> 0) of the zero-cost band of the ε-insensitive losses.

    Returns
    -------
    Loss
        The loss object.

    Raises
    ------
    ConfigError
        If ``name`` is unknown or the option the loss uses is out of range.

    Examples
    --------
    >>> make_loss("huber_loss", huber_delta=2.0)
    HuberLoss(huber_delta=2.0)
    >>> make_loss("logistic").objective_name
    'binary_classification_cross_entropy_objective'
    """
    cls = _LOSS_CLASSES.get(name)
    if cls is None:
        raise ConfigError(
            f"loss must be one of {sorted(_LOSS_CLASSES)!r}; got {name!r}."
            + _unknown_loss_hint(name)
        )

    options = {
        "margin": margin,
        "huber_delta": huber_delta,
        "quantile": quantile,
        "loss_insensitivity": loss_insensitivity,
    }
    fields = [field.name for field in dataclasses.fields(cls)]
    loss = cls(**{field: options[field] for field in fields})
    logger.debug("loss built loss=%r", loss)
    return loss


def _unknown_loss_hint(name: str) -> str:
    if name == "auto":
        return (
            " Resolve 'auto' first: it means "
            "LOSSES_BY_PREDICTOR_TYPE[predictor_type][0]."
        )
    close = difflib.get_close_matches(str(name), _LOSS_CLASSES, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""
