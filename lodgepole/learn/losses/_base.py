"""The ``Loss`` base class and the input checks every loss shares.

Holds the abstract :class:`Loss`, the checks of scores, labels and loss options,
and ``_PointwiseLoss``, the base of every loss with one output per model.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar, NoReturn

import numpy as np

from lodgepole.exceptions import ConfigError, DataFormatError


class Loss(abc.ABC):
    """A training loss: per-row cost and its gradient with respect to the scores.

    Subclasses set three class attributes: ``name`` (the ``loss``
    hyperparameter value), ``objective_name`` (the metric name under which the
    mean cost is logged, SPEC §8.1) and ``link`` (how a score becomes a
    prediction: ``"sigmoid"``, ``"softmax"`` or ``"identity"``).

    Examples
    --------
    >>> from lodgepole.learn.losses import make_loss
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
        >>> from lodgepole.learn.losses import make_loss
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
