"""The table of every hyperparameter: :class:`HyperparameterSpec` and ``SPECS``.

``SPECS`` maps each name to a :class:`HyperparameterSpec` holding its kind,
default, valid range, predictor types, one-line doc and how ``auto`` resolves.
This module also holds the constants the table is written with (``AUTO``,
``LOSSES``). :mod:`lodgepole.hyperparameters` re-exports all of them and builds
the validated :class:`~lodgepole.hyperparameters.Hyperparameters` on top; the
value parsers and error wording live one layer down, in
:mod:`lodgepole._hyperparameter_parsing`.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from lodgepole._hyperparameter_parsing import (
    _PARSERS,
    _Invalid,
    _invalid_value_message,
    _join_or,
    _num,
)
from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError

if TYPE_CHECKING:
    # For type hints only: the auto resolvers receive the set built on this table.
    from lodgepole.hyperparameters import Hyperparameters

AUTO = "auto"
"""The value kept for a hyperparameter the user left at ``auto``."""

Auto = Literal["auto"]

_B = frozenset({PredictorType.BINARY})
_M = frozenset({PredictorType.MULTICLASS})
_R = frozenset({PredictorType.REGRESSOR})
_L = frozenset({PredictorType.MULTILABEL})
_BM = _B | _M
_ALL = frozenset(PredictorType)

LOSSES: dict[PredictorType, tuple[str, ...]] = {
    PredictorType.BINARY: ("logistic", "hinge_loss"),
    PredictorType.MULTICLASS: ("softmax_loss",),
    PredictorType.MULTILABEL: ("multilabel_logistic",),
    PredictorType.REGRESSOR: (
        "squared_loss",
        "absolute_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
        "quantile_loss",
        "huber_loss",
    ),
}
"""Allowed ``loss`` values per predictor type; the first is what ``auto`` becomes."""

_Resolver = Callable[["Hyperparameters", bool], Any]
_NUMERIC_KINDS = ("int", "float", "float_or_choice")


@dataclass(frozen=True)
class HyperparameterSpec:
    """How one hyperparameter is named, typed, checked and defaulted.

    Attributes
    ----------
    name
        The SageMaker name, e.g. ``"mini_batch_size"``.
    kind
        ``"int"``, ``"float"``, ``"bool"``, ``"choice"`` or ``"float_or_choice"``
        (a float or one of ``choices``).
    default
        Typed default, ``AUTO``, or ``None`` when the value is required.
    doc
        One-line meaning.
    predictor_types
        The predictor types that use it; others accept and ignore it.
    allow_auto
        Whether ``"auto"`` is a valid value.
    choices
        Valid strings for ``choice`` and ``float_or_choice`` kinds.
    low, high, low_inclusive, high_inclusive
        Numeric range; ``None`` means unbounded on that side.
    aliases
        Legacy spellings accepted and normalised, as ``(old, new)`` pairs.
    resolve_auto
        ``f(hyperparameters, sparse)`` giving the static value of ``auto``;
        ``None`` when the training engine resolves it from data.
    enum_type
        Enum class the parsed choice is converted to.
    extra
        True for lodgepole extras that SageMaker does not have.

    Examples
    --------
    >>> spec = SPECS["wd"]
    >>> spec.expected
    "'auto' or a float >= 0"
    >>> spec.parse("1e-4")
    0.0001
    """

    name: str
    kind: str
    default: object
    doc: str
    predictor_types: frozenset[PredictorType]
    allow_auto: bool
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    aliases: tuple[tuple[str, str], ...] = ()
    resolve_auto: _Resolver | None = None
    enum_type: type[enum.Enum] | None = None
    extra: bool = False

    @property
    def required(self) -> bool:
        """Whether the value has no default.

        Examples
        --------
        >>> SPECS["predictor_type"].required, SPECS["epochs"].required
        (True, False)
        """
        return self.default is None

    @property
    def expected(self) -> str:
        """The valid values in words, as error messages and help text show them.

        Examples
        --------
        >>> SPECS["beta_1"].expected
        "'auto' or a float in [0, 1)"
        >>> SPECS["positive_example_weight_mult"].expected
        "'balanced', 'auto' or a float > 0"
        """
        items = [repr(c) for c in self.choices] if self.kind != "choice" else []
        if self.allow_auto:
            items.append(repr(AUTO))
        if self.kind == "bool":
            items += ["'true'", "'false'"]
        elif self.kind == "choice":
            items.append("one of " + ", ".join(repr(c) for c in self.choices))
        else:
            article = "an integer" if self.kind == "int" else "a float"
            items.append(article + self._range_text())
        return _join_or(items)

    def applies_to(self, predictor_type: PredictorType | str) -> bool:
        """Whether ``predictor_type`` uses this hyperparameter.

        Examples
        --------
        >>> SPECS["margin"].applies_to("binary_classifier")
        True
        >>> SPECS["margin"].applies_to("regressor")
        False
        """
        return PredictorType(predictor_type) in self.predictor_types

    def parse(self, value: object) -> Any:
        """Return ``value`` in its typed form, or raise ``ConfigError``.

        Strings are read as a container receives them: ``"7"``, ``"1e-4"``,
        ``"True"``; ``"auto"`` and booleans are case-insensitive.

        Parameters
        ----------
        value
            A Python value or its string form.

        Returns
        -------
        object
            ``int``, ``float``, ``bool``, ``str`` (a choice or ``AUTO``) or the
            spec's enum member.

        Raises
        ------
        ConfigError
            If the value has the wrong type or lies outside the valid range.

        Examples
        --------
        >>> SPECS["use_bias"].parse("FALSE"), SPECS["epochs"].parse(7.0)
        (False, 7)
        >>> SPECS["epochs"].parse("7.5")
        Traceback (most recent call last):
        ...
        lodgepole.exceptions.ConfigError: epochs must be an integer > 0; got '7.5'.
        """
        if self.allow_auto and isinstance(value, str) and value.strip().lower() == AUTO:
            return AUTO
        parsed = _PARSERS[self.kind](self, value)
        if isinstance(parsed, _Invalid) or not self._in_range(parsed):
            raise ConfigError(_invalid_value_message(self, value))
        if self.enum_type is not None:
            return self.enum_type(parsed)
        return parsed

    def _in_range(self, value: object) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return True
        low, high = self.low, self.high
        if low is not None and (
            value < low or (value == low and not self.low_inclusive)
        ):
            return False
        return high is None or value < high or (value == high and self.high_inclusive)

    def _range_text(self) -> str:
        low, high = self.low, self.high
        if low is not None and high is not None:
            left = "[" if self.low_inclusive else "("
            right = "]" if self.high_inclusive else ")"
            return f" in {left}{_num(low)}, {_num(high)}{right}"
        if low is not None:
            return f" {'>=' if self.low_inclusive else '>'} {_num(low)}"
        if high is not None:
            return f" {'<=' if self.high_inclusive else '<'} {_num(high)}"
        return ""


# --- the table -------------------------------------------------------------------

_KEEP = object()  # allow "auto" and leave its resolution to the training engine
_NO_AUTO = object()


def _const(value: object) -> _Resolver:
    return lambda hp, sparse: value


def _spec(
    kind: str,
    name: str,
    default: object,
    doc: str,
    used_by: frozenset[PredictorType] = _ALL,
    *,
    auto: object = _NO_AUTO,
    interval: str | None = None,
    **options: Any,
) -> HyperparameterSpec:
    """Build one table row; ``interval`` is written like ``"[0, 1)"``.

    Numbers default to the interval ``(0, inf)``; a float with ``choices`` is a
    ``float_or_choice``.
    """
    if kind == "float" and options.get("choices"):
        kind = "float_or_choice"
    if interval is None and kind in _NUMERIC_KINDS:
        interval = "(0, inf)"
    if auto is _NO_AUTO or auto is _KEEP:
        resolver = None
    else:
        resolver = auto if callable(auto) else _const(auto)
    bounds = _interval(interval) if interval else {}
    return HyperparameterSpec(
        name=name,
        kind=kind,
        default=default,
        doc=doc,
        predictor_types=used_by,
        allow_auto=auto is not _NO_AUTO,
        resolve_auto=resolver,
        **bounds,
        **options,
    )


def _interval(text: str) -> dict[str, Any]:
    left, right = (part.strip() for part in text[1:-1].split(","))
    return {
        "low": None if left == "-inf" else float(left),
        "high": None if right == "inf" else float(right),
        "low_inclusive": text[0] == "[",
        "high_inclusive": text[-1] == "]",
    }


_int = functools.partial(_spec, "int")
_float = functools.partial(_spec, "float")
_bool = functools.partial(_spec, "bool")
_choice = functools.partial(_spec, "choice")


def _auto_loss(hp: Hyperparameters, sparse: bool) -> str:
    return LOSSES[hp.predictor_type][0]


def _auto_normalize_label(hp: Hyperparameters, sparse: bool) -> bool:
    return hp.predictor_type is PredictorType.REGRESSOR


def _auto_unbias_data(hp: Hyperparameters, sparse: bool) -> bool:
    # Centring would densify sparse input, so sparse channels are only scaled.
    return hp.use_bias and not sparse


def _auto_unbias_label(hp: Hyperparameters, sparse: bool) -> bool:
    return hp.predictor_type is PredictorType.REGRESSOR and hp.use_bias


_ALL_LOSSES = tuple(loss for losses in LOSSES.values() for loss in losses)
_CRITERIA = (
    "accuracy",
    "f_beta",
    "precision_at_target_recall",
    "recall_at_target_precision",
    "loss_function",
)
_LEGACY_CRITERIA = (("f1", "f_beta"), ("cross_entropy_loss", "loss_function"))

# The rows follow SPEC §2.2 (predictor_type, num_classes, feature_dim, then
# A-Z), then the lodgepole extras. Kept hand-aligned, one or two lines a row.
# fmt: off
_TABLE = (
    _choice("predictor_type", None, "Kind of target.",
            choices=tuple(p.value for p in PredictorType), enum_type=PredictorType),
    _int("num_classes", None,
         "Number of classes K (multiclass) or labels (multilabel); required.",
         _M | _L, interval="[1, 1000000]"),
    _int("feature_dim", AUTO, "Number of features D; 'auto' reads it from the data.",
         auto=_KEEP),
    _int("accuracy_top_k", 3, "k of the top-k accuracy metric.", _M),
    _bool("balance_multiclass_weights", False,
          "Weight each class by its inverse frequency.", _M),
    _float("beta_1", AUTO, "Adam first-moment decay.", interval="[0, 1)", auto=0.9),
    _float("beta_2", AUTO, "Adam second-moment decay.", interval="[0, 1)", auto=0.999),
    _float("bias_lr_mult", AUTO, "Bias learning rate = learning_rate x this.",
           auto=10.0),
    _float("bias_wd_mult", AUTO, "Bias L2 strength = wd x this.", interval="[0, inf)",
           auto=0.0),
    _choice("binary_classifier_model_selection_criteria", "accuracy",
            "Criterion for threshold calibration, model selection, early stopping.",
            _B | _L, choices=_CRITERIA, aliases=_LEGACY_CRITERIA),
    _int("early_stopping_patience", 3, "Epochs without improvement before stopping."),
    _float("early_stopping_tolerance", 0.001,
           "Minimum relative improvement that counts."),
    _int("epochs", 15, "Maximum passes over the training data."),
    _float("f_beta", 1.0, "Beta of every F-score and of f_beta selection.", _BM),
    _float("huber_delta", 1.0, "Huber loss: squared below delta, absolute above.", _R),
    _float("init_bias", 0.0, "Initial bias.", interval="(-inf, inf)"),
    _choice("init_method", "uniform", "Initial weight distribution.",
            choices=("uniform", "normal")),
    _float("init_scale", 0.07, "Initial weights drawn from U(-s, +s)."),
    _float("init_sigma", 0.01, "Initial weights drawn from N(0, sigma^2)."),
    _float("l1", AUTO, "L1 strength; 0 disables.", interval="[0, inf)", auto=_KEEP),
    _float("learning_rate", AUTO, "Step size.", auto=_KEEP),
    _choice("loss", AUTO, "Training loss (allowed values depend on predictor_type).",
            choices=_ALL_LOSSES, auto=_auto_loss),
    _float("loss_insensitivity", 0.01, "Epsilon of the eps-insensitive losses.", _R),
    _float("lr_scheduler_factor", AUTO, "Learning-rate multiplier per scheduler step.",
           interval="(0, 1)", auto=0.99),
    _float("lr_scheduler_minimum_lr", AUTO, "Floor of the decayed learning rate.",
           auto=1e-5),
    _int("lr_scheduler_step", AUTO, "Updates between learning-rate decays.", auto=100),
    _float("margin", 1.0, "Hinge loss margin.", _B),
    _int("mini_batch_size", 1000, "Rows per update."),
    _float("momentum", AUTO, "SGD momentum.", interval="[0, 1)", auto=0.0),
    _bool("normalize_data", True, "Scale each feature to unit standard deviation.",
          auto=True),
    _bool("normalize_label", AUTO, "Scale the label to unit standard deviation.", _R,
          auto=_auto_normalize_label),
    _int("num_calibration_samples", AUTO, "Validation rows used to pick the threshold.",
         _B, auto=10_000_000),
    _int("num_models", AUTO, "Candidate models trained side by side.", auto=_KEEP),
    _int("num_point_for_scaler", 10_000, "Sample size for normalisation statistics."),
    _choice("optimizer", AUTO, "Optimiser.", choices=("sgd", "adam", "rmsprop"),
            auto="adam"),
    _float("positive_example_weight_mult", 1.0, "Loss weight of label-1 rows.", _B,
           auto=_KEEP, choices=("balanced",)),
    _float("quantile", 0.5, "Target quantile of quantile_loss.", _R,
           interval="(0, 1)"),
    _float("target_precision", 0.8, "Precision floor of recall_at_target_precision.",
           _B, interval="(0, 1)"),
    _float("target_recall", 0.8, "Recall floor of precision_at_target_recall.", _B,
           interval="(0, 1)"),
    _bool("unbias_data", AUTO, "Centre features to mean 0.", auto=_auto_unbias_data),
    _bool("unbias_label", AUTO, "Centre the label to mean 0.", _R,
          auto=_auto_unbias_label),
    _bool("use_bias", True, "Learn an intercept."),
    _bool("use_lr_scheduler", True, "Enable step decay of the learning rate."),
    _float("wd", AUTO, "L2 strength (weight decay); 0 disables.", interval="[0, inf)",
           auto=_KEEP),
    _int("seed", 0, "Lodgepole extra: one seed all randomness derives from.",
         interval="[0, inf)", extra=True),
    _bool("shuffle", False, "Lodgepole extra: reshuffle training batches each epoch.",
          extra=True),
)
# fmt: on

SPECS: dict[str, HyperparameterSpec] = {spec.name: spec for spec in _TABLE}
"""Every hyperparameter by name, in the order of the specification's table."""
