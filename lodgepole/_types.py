"""Small shared types: the predictor type enum."""

from __future__ import annotations

import enum

__all__ = ["PredictorType"]


class PredictorType(str, enum.Enum):
    """What the model predicts.

    Examples
    --------
    >>> PredictorType("multiclass_classifier").is_classifier
    True
    """

    BINARY = "binary_classifier"
    MULTICLASS = "multiclass_classifier"
    REGRESSOR = "regressor"
    #: Several independent 0/1 labels per record (a lodgepole extension).
    MULTILABEL = "multilabel_classifier"

    @property
    def is_classifier(self) -> bool:
        return self is not PredictorType.REGRESSOR

    def __str__(self) -> str:
        return self.value
