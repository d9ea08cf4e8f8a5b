"""scikit-learn estimators over the lodgepole training engine.

``pip install "lodgepole[sklearn]"``. The estimators follow scikit-learn's
conventions (parameters stored unchanged, learned attributes ending in ``_``,
``partial_fit``, ``classes_`` of any label values) and pass its estimator
checks, so they work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``.

Examples
--------
>>> from sklearn.datasets import make_classification
>>> from sklearn.model_selection import cross_val_score
>>> X, y = make_classification(n_samples=300, random_state=0)
>>> scores = cross_val_score(LinearLearnerClassifier(epochs=5), X, y, cv=3)
>>> bool(scores.mean() > 0.8)
True
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'lodgepole.sklearn needs scikit-learn: pip install "lodgepole[sklearn]"'
    ) from err

from lodgepole.sklearn._classifier import LinearLearnerClassifier
from lodgepole.sklearn._regressor import LinearLearnerRegressor

__all__ = ["LinearLearnerClassifier", "LinearLearnerRegressor"]
