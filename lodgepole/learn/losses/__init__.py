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

import dataclasses
import difflib
import logging

from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError
from lodgepole.hyperparameters import LOSSES
from lodgepole.learn.losses._base import Loss
from lodgepole.learn.losses._binary import (
    HingeLoss,
    LogisticLoss,
    MultilabelLogisticLoss,
)
from lodgepole.learn.losses._regression import (
    AbsoluteLoss,
    EpsInsensitiveAbsoluteLoss,
    EpsInsensitiveSquaredLoss,
    HuberLoss,
    QuantileLoss,
    SquaredLoss,
)
from lodgepole.learn.losses._softmax import SoftmaxLoss

__all__ = [
    "LOSSES_BY_PREDICTOR_TYPE",
    "AbsoluteLoss",
    "EpsInsensitiveAbsoluteLoss",
    "EpsInsensitiveSquaredLoss",
    "HingeLoss",
    "HuberLoss",
    "LogisticLoss",
    "Loss",
    "MultilabelLogisticLoss",
    "QuantileLoss",
    "SoftmaxLoss",
    "SquaredLoss",
    "make_loss",
]

logger = logging.getLogger(__name__)

#: Allowed ``loss`` values per predictor type (SPEC §2.3); the first is what
#: ``loss="auto"`` becomes. The table lives with the other hyperparameters.
LOSSES_BY_PREDICTOR_TYPE: dict[PredictorType, tuple[str, ...]] = LOSSES

# ---------------------------------------------------------------------------
# construction by name

_LOSS_CLASSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        LogisticLoss,
        HingeLoss,
        MultilabelLogisticLoss,
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
