"""Checks shared by the prediction encoders of the text response formats.

:mod:`lodgepole.formats.json` and :mod:`lodgepole.formats.csv` print every
number of a response at float32 precision as the shortest round-trip double;
both take their scores and labels from :func:`_prediction_arrays`.

Examples
--------
>>> import numpy as np
>>> scores, labels = _prediction_arrays(np.array([0.1]), np.array([1]))
>>> scores.tolist(), labels.tolist()
([0.10000000149011612], [1.0])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.exceptions import DataFormatError


def _prediction_arrays(
    score: ArrayLike, predicted_label: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores and labels as float32 values widened to float64, shapes checked.

    ``score`` must be ``(n,)`` or ``(n, K)``; ``predicted_label``, when given,
    ``(n,)``, or ``(n, K)`` like ``score`` for a multilabel model (one 0/1
    value per label). Raises DataFormatError otherwise.
    """
    scores = np.asarray(score, dtype=np.float32).astype(np.float64)
    if scores.ndim not in (1, 2):
        raise DataFormatError(
            f"score has shape {scores.shape!r}; expected (n,) or (n, K)."
        )
    if predicted_label is None:
        return scores, None
    labels = np.asarray(predicted_label, dtype=np.float32).astype(np.float64)
    multilabel = scores.ndim == 2 and labels.shape == scores.shape
    if labels.shape != (scores.shape[0],) and not multilabel:
        raise DataFormatError(
            f"predicted_label has shape {labels.shape!r}; expected "
            f"({scores.shape[0]},), one label per score row, or the shape of "
            "score (multilabel)."
        )
    return scores, labels
