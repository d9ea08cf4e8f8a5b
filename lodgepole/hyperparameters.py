"""Every hyperparameter of the linear learner, declared once in a table.

Design
------
``SPECS`` maps each name to a :class:`HyperparameterSpec`: its kind (``int``,
``float``, ``bool``, ``choice`` or ``float_or_choice``), default, valid range,
the predictor types that use it, a one-line doc and, for values that may be
``"auto"``, how ``auto`` resolves. Everything else reads the table:

* :meth:`HyperparameterSpec.parse` turns one value (a Python value, or a string
  exactly as a SageMaker-style container receives it) into its typed form;
* :class:`Hyperparameters` holds one validated value per name. Building it
  (``from_dict``, ``replace`` or the constructor) parses every field and then
  applies the few rules that span several names (required ``num_classes``,
  loss per predictor type, tuning forcing ``num_models`` to 1);
* :meth:`Hyperparameters.resolved` replaces the *static* ``auto`` values
  (those with a fixed answer) and leaves ``learning_rate``, ``wd``, ``l1``,
  ``num_models``, ``positive_example_weight_mult`` and ``feature_dim`` to the
  training engine, which learns them from data;
* the CLI builds its options from ``SPECS`` (``doc``, ``expected``,
  ``default``).

All error messages are written by the ``_*_message`` helpers of the
"messages" section, so their shape stays the same everywhere: the name, what
was expected, what was received (``repr``) and, where it helps, a hint.

Parameters that do not apply to the chosen predictor type are accepted,
type-checked and ignored, as SageMaker does. Names starting with ``_`` are
internal container settings: accepted, kept in ``Hyperparameters.internal``
and ignored, except ``_tuning_objective_metric``, which forces ``num_models``
to 1. ``seed`` and ``shuffle`` are lodgepole extras, not SageMaker names.

Examples
--------
>>> hp = Hyperparameters.from_dict(
...     {"predictor_type": "multiclass_classifier", "num_classes": "7"}
... )
>>> hp.num_classes, hp.loss, hp.resolved().loss
(7, 'auto', 'softmax_loss')
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import functools
import logging
import math
import numbers
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError

__all__ = [
    "AUTO",
    "LOSSES",
    "SPECS",
    "TUNING_KEY",
    "Auto",
    "HyperparameterSpec",
    "Hyperparameters",
    "default_values",
]

logger = logging.getLogger(__name__)

AUTO = "auto"
"""The value kept for a hyperparameter the user left at ``auto``."""

Auto = Literal["auto"]

TUNING_KEY = "_tuning_objective_metric"
"""Internal key set by automatic model tuning; it forces ``num_models`` to 1."""

_B = frozenset({PredictorType.BINARY})
_M = frozenset({PredictorType.MULTICLASS})
_R = frozenset({PredictorType.REGRESSOR})
_BM = _B | _M
_ALL = frozenset(PredictorType)

LOSSES: dict[PredictorType, tuple[str, ...]] = {
    PredictorType.BINARY: ("logistic", "hinge_loss"),
    PredictorType.MULTICLASS: ("softmax_loss",),
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

# Names from other libraries, suggested before difflib's nearest match.
_SYNONYMS = {
    "n_classes": "num_classes",
    "n_labels": "num_classes",
    "num_labels": "num_classes",
    "num_epochs": "epochs",
    "n_epochs": "epochs",
    "max_iter": "epochs",
    "batch_size": "mini_batch_size",
    "lr": "learning_rate",
    "eta": "learning_rate",
    "l2": "wd",
    "alpha": "wd",
    "weight_decay": "wd",
    "n_features": "feature_dim",
    "num_features": "feature_dim",
    "n_models": "num_models",
    "fit_intercept": "use_bias",
    "random_state": "seed",
    "random_seed": "seed",
    "class_weight": "balance_multiclass_weights",
    "patience": "early_stopping_patience",
    "tol": "early_stopping_tolerance",
    "objective": "loss",
}

_Resolver = Callable[["Hyperparameters", bool], Any]
_NUMERIC_KINDS = ("int", "float", "float_or_choice")


class _Invalid:
    """Marker returned by the value parsers for a value of the wrong type."""


_INVALID = _Invalid()


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


# --- value parsers: return the typed value or _INVALID -------------------------


def _parse_bool(spec: HyperparameterSpec, value: object) -> bool | _Invalid:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return _INVALID


def _parse_float(spec: HyperparameterSpec, value: object) -> float | _Invalid:
    if isinstance(value, (bool, np.bool_)):
        return _INVALID
    if isinstance(value, numbers.Real):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return _INVALID
    else:
        return _INVALID
    return number if math.isfinite(number) else _INVALID


def _parse_int(spec: HyperparameterSpec, value: object) -> int | _Invalid:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    number = _parse_float(spec, value)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return _INVALID


def _parse_choice(spec: HyperparameterSpec, value: object) -> str | _Invalid:
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str):
        return _INVALID
    text = dict(spec.aliases).get(value.strip(), value.strip())
    return text if text in spec.choices else _INVALID


def _parse_float_or_choice(
    spec: HyperparameterSpec, value: object
) -> str | float | _Invalid:
    choice = _parse_choice(spec, value)
    return choice if isinstance(choice, str) else _parse_float(spec, value)


_PARSERS: dict[str, Callable[[HyperparameterSpec, object], Any]] = {
    "bool": _parse_bool,
    "int": _parse_int,
    "float": _parse_float,
    "choice": _parse_choice,
    "float_or_choice": _parse_float_or_choice,
}


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
    _int("num_classes", None, "Number of classes K (required for multiclass).", _M,
         interval="[1, 1000000]"),
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
            _B, choices=_CRITERIA, aliases=_LEGACY_CRITERIA),
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


def default_values() -> dict[str, object]:
    """Return every name with its default, JSON-able (``None`` when required).

    This is the "defaults" dictionary a container logs before merging the
    user's values.

    Examples
    --------
    >>> defaults = default_values()
    >>> defaults["epochs"], defaults["wd"], defaults["predictor_type"]
    (15, 'auto', None)
    """
    return {name: spec.default for name, spec in SPECS.items()}


# --- messages -------------------------------------------------------------------


def _num(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _join_or(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def _did_you_mean(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _invalid_value_message(spec: HyperparameterSpec, value: object) -> str:
    hint = ""
    if spec.choices and isinstance(value, str):
        hint = _did_you_mean(value.strip(), spec.choices)
    return f"{spec.name} must be {spec.expected}; got {value!r}.{hint}"


def _unknown_name_message(name: str) -> str:
    suggestion = _SYNONYMS.get(name) or _SYNONYMS.get(name.lower())
    if suggestion is not None:
        hint = f" Did you mean {suggestion!r}?"
    else:
        hint = _did_you_mean(name, list(SPECS))
    if not hint:
        hint = (
            " Expected a name from lodgepole.hyperparameters.SPECS, or a name"
            " starting with '_' for an internal setting."
        )
    return f"Unknown hyperparameter {name!r}.{hint}"


def _loss_message(predictor_type: PredictorType, loss: str) -> str:
    allowed = ", ".join(repr(v) for v in LOSSES[predictor_type])
    return (
        f"loss must be 'auto' or one of {allowed} when predictor_type is "
        f"{predictor_type.value!r}; got {loss!r}."
    )


_REQUIRED_PREDICTOR_TYPE = (
    "predictor_type is required; expected one of 'binary_classifier', "
    "'multiclass_classifier' or 'regressor'; got no value."
)
_REQUIRED_NUM_CLASSES = (
    "num_classes is required when predictor_type is 'multiclass_classifier'; "
    "expected an integer in [3, 1000000]; got no value."
)


def _few_classes_message(num_classes: int) -> str:
    return (
        "num_classes must be >= 3 when predictor_type is 'multiclass_classifier'; "
        f"got {num_classes!r}. Use 'binary_classifier' for two classes."
    )


def _check_names(names: Iterable[str]) -> None:
    unknown = [n for n in names if n not in SPECS and not n.startswith("_")]
    if unknown:
        raise ConfigError(" ".join(_unknown_name_message(n) for n in unknown))


# --- the validated set -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, repr=False)
class Hyperparameters:
    """One validated value per hyperparameter; values left at auto stay ``AUTO``.

    Build it with :meth:`from_dict`. Equality and hashing compare the values
    only, not ``internal``, ``provided`` or ``auto_names``.

    Attributes
    ----------
    internal
        Accepted ``_``-prefixed keys with their values as strings; ignored
        except ``_tuning_objective_metric``.
    provided
        Names the user set explicitly.
    auto_names
        Names whose value was ``auto`` when the set was parsed; kept by
        :meth:`resolved`, so the engine knows which knobs it may vary.

    Examples
    --------
    >>> hp = Hyperparameters.from_dict({"predictor_type": "binary_classifier",
    ...                                 "epochs": "20", "use_bias": "False"})
    >>> hp
    Hyperparameters(predictor_type='binary_classifier', epochs=20, use_bias=False)
    >>> hp.num_classes, sorted(hp.provided)
    (2, ['epochs', 'predictor_type', 'use_bias'])
    """

    predictor_type: PredictorType
    num_classes: int
    feature_dim: int | Auto
    accuracy_top_k: int
    balance_multiclass_weights: bool
    beta_1: float | Auto
    beta_2: float | Auto
    bias_lr_mult: float | Auto
    bias_wd_mult: float | Auto
    binary_classifier_model_selection_criteria: str
    early_stopping_patience: int
    early_stopping_tolerance: float
    epochs: int
    f_beta: float
    huber_delta: float
    init_bias: float
    init_method: str
    init_scale: float
    init_sigma: float
    l1: float | Auto
    learning_rate: float | Auto
    loss: str
    loss_insensitivity: float
    lr_scheduler_factor: float | Auto
    lr_scheduler_minimum_lr: float | Auto
    lr_scheduler_step: int | Auto
    margin: float
    mini_batch_size: int
    momentum: float | Auto
    normalize_data: bool | Auto
    normalize_label: bool | Auto
    num_calibration_samples: int | Auto
    num_models: int | Auto
    num_point_for_scaler: int
    optimizer: str
    positive_example_weight_mult: float | str
    quantile: float
    target_precision: float
    target_recall: float
    unbias_data: bool | Auto
    unbias_label: bool | Auto
    use_bias: bool
    use_lr_scheduler: bool
    wd: float | Auto
    seed: int
    shuffle: bool
    internal: Mapping[str, str] = field(default_factory=dict, compare=False)
    provided: frozenset[str] = field(default=frozenset(), compare=False)
    auto_names: frozenset[str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name, spec in SPECS.items():
            value = getattr(self, name)
            if value is not None or not spec.required:
                object.__setattr__(self, name, spec.parse(value))
        internal = {str(k): str(v) for k, v in self.internal.items()}
        object.__setattr__(self, "internal", types.MappingProxyType(internal))
        object.__setattr__(self, "provided", frozenset(self.provided))
        self._apply_cross_rules()
        if self.auto_names is None:
            autos = frozenset(name for name in SPECS if self.is_auto(name))
            object.__setattr__(self, "auto_names", autos)

    def _apply_cross_rules(self) -> None:
        predictor_type = self.predictor_type
        if predictor_type is None:
            raise ConfigError(_REQUIRED_PREDICTOR_TYPE)

        if predictor_type is PredictorType.MULTICLASS:
            if self.num_classes is None:
                raise ConfigError(_REQUIRED_NUM_CLASSES)
            if self.num_classes < 3:
                raise ConfigError(_few_classes_message(self.num_classes))
        else:
            fixed = 2 if predictor_type is PredictorType.BINARY else 1
            object.__setattr__(self, "num_classes", fixed)

        if self.loss != AUTO and self.loss not in LOSSES[predictor_type]:
            raise ConfigError(_loss_message(predictor_type, self.loss))

        if TUNING_KEY in self.internal and self.num_models != 1:
            if self.num_models != AUTO:
                logger.warning(
                    "num_models overridden under automatic model tuning "
                    "num_models=%s forced=1",
                    self.num_models,
                )
            object.__setattr__(self, "num_models", 1)

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> Hyperparameters:
        """Parse and validate a mapping of hyperparameters.

        Parameters
        ----------
        values
            Names to values. Values may be Python values (``7``, ``True``,
            ``0.01``, ``"auto"``) or strings as a container receives them
            (``"7"``, ``"True"``, ``"1e-4"``). A value of ``None`` counts as not
            given, as in the SageMaker SDK. Keys starting with ``_`` are kept in
            ``internal``.

        Returns
        -------
        Hyperparameters
            Values left out take their defaults.

        Raises
        ------
        ConfigError
            On an unknown name, a value of the wrong type or range, a missing
            required value, or a ``loss`` the predictor type does not allow.

        Examples
        --------
        >>> Hyperparameters.from_dict({"predictor_type": "regressor", "wd": "0.01"}).wd
        0.01
        >>> typo = {"predictor_type": "regressor", "n_classes": 3}
        >>> try:
        ...     Hyperparameters.from_dict(typo)
        ... except ConfigError as err:
        ...     print(err)
        Unknown hyperparameter 'n_classes'. Did you mean 'num_classes'?
        """
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"hyperparameters must be a mapping of names to values; "
                f"got {type(values).__name__!r}."
            )
        bad_keys = [k for k in values if not isinstance(k, str)]
        if bad_keys:
            raise ConfigError(
                f"hyperparameter names must be strings; got {bad_keys[0]!r}."
            )
        _check_names(values)

        given = {k: v for k, v in values.items() if k in SPECS and v is not None}
        internal = {k: v for k, v in values.items() if k.startswith("_")}
        fields = {name: spec.default for name, spec in SPECS.items()} | given
        return cls(**fields, internal=internal, provided=frozenset(given))

    def is_auto(self, name: str) -> bool:
        """Whether ``name`` currently holds ``AUTO``.

        Examples
        --------
        >>> hp = Hyperparameters.from_dict({"predictor_type": "regressor"})
        >>> hp.is_auto("optimizer"), hp.resolved().is_auto("optimizer")
        (True, False)
        >>> hp.resolved().is_auto("learning_rate")
        True
        """
        _check_names([name])
        value = getattr(self, name)
        return isinstance(value, str) and value == AUTO

    def was_auto(self, name: str) -> bool:
        """Whether ``name`` was ``auto`` before :meth:`resolved` filled it in.

        Examples
        --------
        >>> hp = Hyperparameters.from_dict({"predictor_type": "regressor"}).resolved()
        >>> hp.optimizer, hp.was_auto("optimizer"), hp.was_auto("epochs")
        ('adam', True, False)
        """
        _check_names([name])
        return name in self.auto_names

    def resolved(self, *, sparse: bool = False) -> Hyperparameters:
        """Return a copy with the static ``auto`` values made concrete.

        ``learning_rate``, ``wd``, ``l1``, ``num_models``,
        ``positive_example_weight_mult`` and ``feature_dim`` stay ``AUTO``:
        the training engine resolves them from data. ``normalize_label`` and
        ``unbias_label`` become false for classifiers whatever was set, since
        class labels are never transformed.

        Parameters
        ----------
        sparse
            Whether the training data is sparse; ``unbias_data`` ``auto`` then
            resolves to false, because centring would densify it.

        Returns
        -------
        Hyperparameters
            ``provided`` and ``auto_names`` are carried over unchanged.

        Examples
        --------
        >>> hp = Hyperparameters.from_dict({"predictor_type": "regressor"})
        >>> r = hp.resolved(sparse=True)
        >>> r.loss, r.beta_1, r.unbias_data, r.unbias_label, r.wd
        ('squared_loss', 0.9, False, True, 'auto')
        """
        changes = {
            name: spec.resolve_auto(self, sparse)
            for name, spec in SPECS.items()
            if spec.resolve_auto is not None and self.is_auto(name)
        }
        if self.predictor_type.is_classifier:
            changes.update(normalize_label=False, unbias_label=False)
        logger.debug("auto values resolved sparse=%s changes=%s", sparse, changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self, *, include_internal: bool = False) -> dict[str, object]:
        """Return every name with its value, JSON-able (enums as strings).

        Parameters
        ----------
        include_internal
            Also add the ``_``-prefixed keys of ``internal``.

        Examples
        --------
        >>> hp = Hyperparameters.from_dict({"predictor_type": "binary_classifier"})
        >>> d = hp.to_dict()
        >>> d["predictor_type"], d["mini_batch_size"], len(d) == len(SPECS)
        ('binary_classifier', 1000, True)
        >>> Hyperparameters.from_dict(d) == hp
        True
        """
        out: dict[str, object] = {}
        for name in SPECS:
            value = getattr(self, name)
            out[name] = value.value if isinstance(value, enum.Enum) else value
        if include_internal:
            out.update(self.internal)
        return out

    def replace(self, **changes: object) -> Hyperparameters:
        """Return a re-validated copy with some values changed.

        A change to ``None`` restores that name's default; ``_``-prefixed
        names are added to ``internal``.

        Raises
        ------
        ConfigError
            As :meth:`from_dict`.

        Examples
        --------
        >>> hp = Hyperparameters.from_dict({"predictor_type": "regressor"})
        >>> hp.replace(epochs="30").epochs
        30
        >>> hp.replace(epochs=0)
        Traceback (most recent call last):
        ...
        lodgepole.exceptions.ConfigError: epochs must be an integer > 0; got 0.
        """
        _check_names(changes)
        named = {k: v for k, v in changes.items() if k in SPECS}
        values = {k: SPECS[k].default if v is None else v for k, v in named.items()}
        internal = dict(self.internal) | {
            k: v for k, v in changes.items() if k.startswith("_")
        }
        provided = {k for k in self.provided if k not in named}
        provided |= {k for k, v in named.items() if v is not None}
        changed = dataclasses.replace(
            self, **values, internal=internal, provided=provided, auto_names=None
        )
        autos = {n for n in self.auto_names if n not in named}
        autos |= {n for n in named if changed.is_auto(n)}
        object.__setattr__(changed, "auto_names", frozenset(autos))
        return changed

    def __reduce__(self) -> tuple[Any, ...]:
        # The internal mapping is a read-only proxy, which pickle cannot copy;
        # rebuild from plain values instead (this also re-validates them).
        state = (self.to_dict(), dict(self.internal), self.provided, self.auto_names)
        return (_restore, state)

    def __repr__(self) -> str:
        shown = [f"predictor_type={self.predictor_type.value!r}"]
        for name, spec in SPECS.items():
            value = getattr(self, name)
            if name in ("predictor_type", "num_classes"):
                continue
            if value != spec.default:
                shown.append(f"{name}={value!r}")
        if self.predictor_type is PredictorType.MULTICLASS:
            shown.insert(1, f"num_classes={self.num_classes!r}")
        return f"Hyperparameters({', '.join(shown)})"


def _restore(
    values: dict[str, object],
    internal: dict[str, str],
    provided: frozenset[str],
    auto_names: frozenset[str],
) -> Hyperparameters:
    return Hyperparameters(
        **values, internal=internal, provided=provided, auto_names=auto_names
    )
