"""Reading one hyperparameter value, and the wording of what went wrong.

The value parsers behind :meth:`HyperparameterSpec.parse
<lodgepole.hyperparameters.HyperparameterSpec.parse>` turn a Python value or
its container string into the typed form, returning ``_INVALID`` for a value of
the wrong type. The helpers below them word the value errors (``_num``,
``_join_or``, ``_invalid_value_message``) and the suggestions for a misspelt
value or name (``_did_you_mean`` and the ``_SYNONYMS`` from other libraries).

This is the lowest layer of the hyperparameters: it knows nothing of the table
(:mod:`lodgepole._hyperparameter_specs`) and imports it for type hints only.
"""

from __future__ import annotations

import difflib
import enum
import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lodgepole._hyperparameter_specs import HyperparameterSpec

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


class _Invalid:
    """Marker returned by the value parsers for a value of the wrong type."""


_INVALID = _Invalid()


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


# --- wording of value errors and suggestions ------------------------------------


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
