"""Optimisers that update the stacked parameters of every candidate model at once.

Each optimiser works in place on one parameter array whose axes include the
candidate axis, with a learning rate that broadcasts against it (one rate per
candidate model). ``step`` returns the per-coordinate step size it used, so
the caller can apply the L1 penalty as a proximal (soft-threshold) step of
the same size: for SGD that is the learning rate itself, for Adam and RMSProp
it is the learning rate divided by the running gradient scale.

Notes
-----
Weight decay (``wd``) is not handled here: the caller adds ``wd * w`` to the
gradient first, which is the gradient of ``wd / 2 * ||w||^2``.
"""

from __future__ import annotations

import abc

import numpy as np

from lodgepole.exceptions import ConfigError

__all__ = ["SGD", "Adam", "Optimizer", "RMSProp", "make_optimizer"]

_EPSILON = 1e-8


class Optimizer(abc.ABC):
    """One optimiser, holding the state of each parameter array by slot name."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[np.ndarray, ...]] = {}
        self._steps: dict[str, int] = {}

    @abc.abstractmethod
    def _new_state(self, param: np.ndarray) -> tuple[np.ndarray, ...]: ...

    @abc.abstractmethod
    def _update(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        lr: np.ndarray,
        state: tuple[np.ndarray, ...],
        t: int,
    ) -> np.ndarray:
        """Update ``param`` in place and return the step size per coordinate."""

    def step(
        self, slot: str, param: np.ndarray, grad: np.ndarray, lr: np.ndarray
    ) -> np.ndarray:
        """Apply one update to ``param`` (in place) from ``grad``.

        Parameters
        ----------
        slot
            Name of the parameter (``"weights"``, ``"bias"``); state is kept per slot.
        param
            The parameter array, updated in place.
        grad
            Its gradient, same shape. It may be overwritten.
        lr
            Learning rates broadcastable to ``param``.

        Returns
        -------
        numpy.ndarray
            The step size used per coordinate (broadcastable to ``param``).
        """
        if slot not in self._state:
            self._state[slot] = self._new_state(param)
            self._steps[slot] = 0
        self._steps[slot] += 1
        return self._update(param, grad, lr, self._state[slot], self._steps[slot])

    def keep_columns(self, columns: np.ndarray) -> None:
        """Drop the state of every column (last axis) not listed in ``columns``."""
        self._state = {
            slot: tuple(np.ascontiguousarray(a[..., columns]) for a in arrays)
            for slot, arrays in self._state.items()
        }

    def get_state(self) -> dict[str, np.ndarray]:
        """Return the optimiser state as named arrays (for checkpoints)."""
        out: dict[str, np.ndarray] = {}
        for slot, arrays in self._state.items():
            for i, array in enumerate(arrays):
                out[f"{slot}.{i}"] = array
            out[f"{slot}.t"] = np.asarray(self._steps[slot])
        return out


class SGD(Optimizer):
    """Stochastic gradient descent with heavy-ball momentum.

    Examples
    --------
    >>> w = np.array([1.0, 2.0], dtype=np.float32)
    >>> _ = SGD(momentum=0.0).step("w", w, np.array([1.0, -1.0], np.float32), 0.5)
    >>> w.tolist()
    [0.5, 2.5]
    """

    def __init__(self, momentum: float = 0.0) -> None:
        super().__init__()
        self.momentum = float(momentum)

    def _new_state(self, param: np.ndarray) -> tuple[np.ndarray, ...]:
        return (np.zeros_like(param),) if self.momentum > 0 else ()

    def _update(self, param, grad, lr, state, t):  # type: ignore[no-untyped-def]
        if self.momentum > 0:
            (velocity,) = state
            velocity *= self.momentum
            velocity += grad
            grad = velocity
        param -= lr * grad
        return np.asarray(lr, dtype=param.dtype)


class Adam(Optimizer):
    """Adam with bias-corrected first and second moments.

    Examples
    --------
    >>> w = np.zeros(2, dtype=np.float32)
    >>> _ = Adam().step("w", w, np.array([3.0, -0.5], np.float32), 0.1)
    >>> [round(float(v), 4) for v in w]  # the first Adam step moves each by lr
    [-0.1, 0.1]
    """

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999) -> None:
        super().__init__()
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)

    def _new_state(self, param: np.ndarray) -> tuple[np.ndarray, ...]:
        return np.zeros_like(param), np.zeros_like(param)

    def _update(self, param, grad, lr, state, t):  # type: ignore[no-untyped-def]
        m, v = state
        m *= self.beta_1
        m += (1.0 - self.beta_1) * grad
        np.square(grad, out=grad)
        v *= self.beta_2
        v += (1.0 - self.beta_2) * grad
        correction_1 = 1.0 - self.beta_1**t
        correction_2 = 1.0 - self.beta_2**t
        # step = lr / (sqrt(v_hat) + eps), computed into the spent gradient buffer
        step = np.sqrt(v, out=grad)
        step *= 1.0 / np.sqrt(correction_2)
        step += _EPSILON
        np.divide(lr / correction_1, step, out=step)
        param -= step * m
        return step


class RMSProp(Optimizer):
    """RMSProp: divide the gradient by a running root mean square.

    The running average decays by ``rho`` (0.9) per update.

    Examples
    --------
    >>> w = np.zeros(1, dtype=np.float32)
    >>> _ = RMSProp().step("w", w, np.array([2.0], np.float32), 0.01)
    >>> round(float(w[0]), 4)  # 0.01 * 2 / sqrt(0.1 * 4)
    -0.0316
    """

    def __init__(self, rho: float = 0.9) -> None:
        super().__init__()
        self.rho = float(rho)

    def _new_state(self, param: np.ndarray) -> tuple[np.ndarray, ...]:
        return (np.zeros_like(param),)

    def _update(self, param, grad, lr, state, t):  # type: ignore[no-untyped-def]
        (v,) = state
        v *= self.rho
        v += (1.0 - self.rho) * np.square(grad)
        step = np.sqrt(v)
        step += _EPSILON
        np.divide(lr, step, out=step)
        param -= step * grad
        return step


def make_optimizer(
    name: str, *, beta_1: float = 0.9, beta_2: float = 0.999, momentum: float = 0.0
) -> Optimizer:
    """Build the optimiser named by the ``optimizer`` hyperparameter.

    Examples
    --------
    >>> type(make_optimizer("adam")).__name__
    'Adam'
    """
    if name == "adam":
        return Adam(beta_1, beta_2)
    if name == "sgd":
        return SGD(momentum)
    if name == "rmsprop":
        return RMSProp()
    raise ConfigError(
        f"optimizer must be one of 'adam', 'sgd', 'rmsprop'; got {name!r}."
    )
