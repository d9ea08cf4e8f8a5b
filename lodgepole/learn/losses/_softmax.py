"""``softmax_loss``: multiclass cross-entropy over K outputs per model."""

from __future__ import annotations

import dataclasses

import numpy as np

from lodgepole.exceptions import ConfigError
from lodgepole.learn.losses._base import Loss, _as_labels, _as_scores, _raise_bad_label

# Up to this many classes, softmax reductions loop over the classes in Python
# (K strided passes over an (n, M) array); beyond it numpy's axis reductions win.
_LOOP_MAX_CLASSES = 24


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
