"""Regression losses, each a function of the residual ``e = f - y`` only."""

from __future__ import annotations

import abc
import dataclasses

import numpy as np

from lodgepole.learn.losses._base import _PointwiseLoss


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
