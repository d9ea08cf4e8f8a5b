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

All error messages are written by ``_*_message`` helpers (value errors in
:mod:`lodgepole._hyperparameter_parsing`, name and cross-name errors in the
"messages" section below), so their shape stays the same everywhere: the name,
what was expected, what was received (``repr``) and, where it helps, a hint.

Parameters that do not apply to the chosen predictor type are accepted,
type-checked and ignored, as SageMaker does. Names starting with ``_`` are
internal container settings: accepted, kept in ``Hyperparameters.internal``
and ignored, except ``_tuning_objective_metric``, which forces ``num_models``
to 1. ``seed`` and ``shuffle`` are lodgepole extras, not SageMaker names.

The table (:class:`HyperparameterSpec`, ``SPECS``, ``AUTO``, ``LOSSES``) lives
in :mod:`lodgepole._hyperparameter_specs` and the value parsers in
:mod:`lodgepole._hyperparameter_parsing`; this module re-exports them.

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
import enum
import logging
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lodgepole._hyperparameter_parsing import _SYNONYMS, _did_you_mean
from lodgepole._hyperparameter_specs import (
    AUTO,
    LOSSES,
    SPECS,
    Auto,
    HyperparameterSpec,
)
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

TUNING_KEY = "_tuning_objective_metric"
"""Internal key set by automatic model tuning; it forces ``num_models`` to 1."""


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
    "'multiclass_classifier', 'regressor' or 'multilabel_classifier'; got no "
    "value."
)
_REQUIRED_NUM_LABELS = (
    "num_classes (the number of labels) is required when predictor_type is "
    "'multilabel_classifier'; expected an integer in [2, 1000000]; got no value."
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
        elif predictor_type is PredictorType.MULTILABEL:
            if self.num_classes is None:
                raise ConfigError(_REQUIRED_NUM_LABELS)
            if self.num_classes < 2:
                raise ConfigError(
                    "num_classes (the number of labels) must be >= 2 when "
                    "predictor_type is 'multilabel_classifier'; got "
                    f"{self.num_classes!r}. Use 'binary_classifier' for one label."
                )
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
