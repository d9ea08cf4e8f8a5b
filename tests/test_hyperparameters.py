from __future__ import annotations

import dataclasses
import json
import logging
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError
from lodgepole.hyperparameters import (
    AUTO,
    LOSSES,
    SPECS,
    Hyperparameters,
    default_values,
)

BINARY = {"predictor_type": "binary_classifier"}
MULTI = {"predictor_type": "multiclass_classifier", "num_classes": 7}
REGRESSOR = {"predictor_type": "regressor"}

# The names of SPEC §2.2, in table order, followed by the lodgepole extras.
SPEC_NAMES = [
    "predictor_type", "num_classes", "feature_dim", "accuracy_top_k",
    "balance_multiclass_weights", "beta_1", "beta_2", "bias_lr_mult", "bias_wd_mult",
    "binary_classifier_model_selection_criteria", "early_stopping_patience",
    "early_stopping_tolerance", "epochs", "f_beta", "huber_delta", "init_bias",
    "init_method", "init_scale", "init_sigma", "l1", "learning_rate", "loss",
    "loss_insensitivity", "lr_scheduler_factor", "lr_scheduler_minimum_lr",
    "lr_scheduler_step", "margin", "mini_batch_size", "momentum", "normalize_data",
    "normalize_label", "num_calibration_samples", "num_models", "num_point_for_scaler",
    "optimizer", "positive_example_weight_mult", "quantile", "target_precision",
    "target_recall", "unbias_data", "unbias_label", "use_bias", "use_lr_scheduler",
    "wd", "seed", "shuffle",
]  # fmt: skip


def make(**values: object) -> Hyperparameters:
    return Hyperparameters.from_dict({**REGRESSOR, **values})


# --- the table ------------------------------------------------------------------------


def test_specs_names_follow_the_spec_table_in_order() -> None:
    assert list(SPECS) == SPEC_NAMES
    fields = [f.name for f in dataclasses.fields(Hyperparameters)]
    assert fields == [*SPEC_NAMES, "internal", "provided", "auto_names"]


def test_specs_mark_only_seed_and_shuffle_as_extras() -> None:
    assert {name for name, spec in SPECS.items() if spec.extra} == {"seed", "shuffle"}


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("feature_dim", AUTO),
        ("accuracy_top_k", 3),
        ("balance_multiclass_weights", False),
        ("binary_classifier_model_selection_criteria", "accuracy"),
        ("early_stopping_patience", 3),
        ("early_stopping_tolerance", 0.001),
        ("epochs", 15),
        ("f_beta", 1.0),
        ("init_bias", 0.0),
        ("init_method", "uniform"),
        ("init_scale", 0.07),
        ("init_sigma", 0.01),
        ("loss_insensitivity", 0.01),
        ("mini_batch_size", 1000),
        ("normalize_data", True),
        ("num_point_for_scaler", 10_000),
        ("optimizer", AUTO),
        ("positive_example_weight_mult", 1.0),
        ("quantile", 0.5),
        ("target_precision", 0.8),
        ("target_recall", 0.8),
        ("use_bias", True),
        ("wd", AUTO),
        ("seed", 0),
        ("shuffle", False),
    ],
)
def test_defaults_match_the_spec_table(name: str, default: object) -> None:
    value = getattr(Hyperparameters.from_dict(BINARY), name)
    assert value == default
    assert type(value) is type(default)
    assert default_values()[name] == default


def test_default_values_marks_required_names_with_none() -> None:
    defaults = default_values()
    assert defaults["predictor_type"] is None
    assert defaults["num_classes"] is None
    assert json.loads(json.dumps(defaults)) == defaults


@pytest.mark.parametrize(
    ("name", "predictor_type", "applies"),
    [
        ("num_classes", "multiclass_classifier", True),
        ("num_classes", "binary_classifier", False),
        ("margin", "binary_classifier", True),
        ("quantile", "regressor", True),
        ("quantile", "multiclass_classifier", False),
        ("f_beta", "multiclass_classifier", True),
        ("epochs", "regressor", True),
    ],
)
def test_spec_applies_to_the_documented_predictor_types(
    name: str, predictor_type: str, applies: bool
) -> None:
    assert SPECS[name].applies_to(predictor_type) is applies


# --- parsing --------------------------------------------------------------------------


def test_from_dict_parses_container_strings() -> None:
    # What the SDK writes to hyperparameters.json: every value through str().
    hp = Hyperparameters.from_dict(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": "7",
            "feature_dim": "54",
            "mini_batch_size": "200",
            "epochs": "30",
            "learning_rate": "1e-4",
            "wd": "auto",
            "l1": "0",
            "balance_multiclass_weights": "True",
            "beta_1": "0.85",
            "lr_scheduler_step": "1e2",
            "positive_example_weight_mult": "balanced",
        }
    )
    assert hp.predictor_type is PredictorType.MULTICLASS
    assert (hp.num_classes, hp.feature_dim, hp.mini_batch_size) == (7, 54, 200)
    assert hp.epochs == 30 and type(hp.epochs) is int
    assert hp.learning_rate == pytest.approx(1e-4) and hp.wd == AUTO
    assert hp.l1 == 0.0 and type(hp.l1) is float
    assert hp.balance_multiclass_weights is True
    assert hp.beta_1 == 0.85
    assert hp.lr_scheduler_step == 100 and type(hp.lr_scheduler_step) is int
    assert hp.positive_example_weight_mult == "balanced"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("True", True), ("true", True), ("TRUE", True), (" false ", False),
     ("False", False), ("fAlSe", False), (True, True), (np.bool_(False), False)],
)  # fmt: skip
def test_bool_parsing_is_case_insensitive(text: object, expected: bool) -> None:
    assert make(use_bias=text).use_bias is expected
    assert make(normalize_label=text).normalize_label is expected


@pytest.mark.parametrize("text", ["auto", "AUTO", "Auto"])
def test_auto_is_case_insensitive(text: str) -> None:
    assert make(wd=text, unbias_data=text).wd == AUTO


@pytest.mark.parametrize("value", [7, "7", 7.0, "7.0", " 7 ", np.int64(7), "7e0"])
def test_int_accepts_whole_numbers_in_any_spelling(value: object) -> None:
    epochs = make(epochs=value).epochs
    assert epochs == 7 and type(epochs) is int


@pytest.mark.parametrize("value", [7.5, "7.5", "seven", True, "True", [7], "inf"])
def test_int_rejects_fractions_and_other_types(value: object) -> None:
    with pytest.raises(ConfigError, match=r"epochs must be an integer > 0; got "):
        make(epochs=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1e-4", 1e-4), ("0.5", 0.5), (2, 2.0), (np.float32(0.25), 0.25), ("3", 3.0)],
)
def test_float_accepts_numbers_and_exponent_strings(
    value: object, expected: float
) -> None:
    wd = make(wd=value).wd
    assert wd == expected and type(wd) is float


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", float("nan"), math.inf])
def test_float_rejects_non_finite_values(value: object) -> None:
    with pytest.raises(ConfigError, match=r"init_bias must be a float; got"):
        make(init_bias=value)


def test_none_values_count_as_not_given() -> None:
    hp = make(epochs=None, wd=None)
    assert hp.epochs == 15 and hp.wd == AUTO
    assert hp.provided == {"predictor_type"}


def test_predictor_type_accepts_the_enum() -> None:
    hp = Hyperparameters.from_dict({"predictor_type": PredictorType.BINARY})
    assert hp.predictor_type is PredictorType.BINARY


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"wd": -1.0}, r"^wd must be 'auto' or a float >= 0; got -1\.0\.$"),
        ({"learning_rate": 0}, r"learning_rate must be 'auto' or a float > 0; got 0\."),
        ({"use_bias": "yes"}, r"use_bias must be 'true' or 'false'; got 'yes'\."),
        ({"use_bias": 1}, r"use_bias must be 'true' or 'false'; got 1\."),
        ({"normalize_data": "no"}, r"normalize_data must be 'auto', 'true' or 'false'"),
        ({"init_method": "gaussian"}, r"init_method must be one of 'uniform', 'no"),
        ({"optimizer": "Adam"}, r"got 'Adam'\. Did you mean 'adam'\?"),
        ({"positive_example_weight_mult": "balance"},
         r"'balanced', 'auto' or a float > 0; got 'balance'\. Did you mean 'balanced'"),
        ({"positive_example_weight_mult": -2}, r"or a float > 0; got -2\."),
        ({"feature_dim": 0}, r"feature_dim must be 'auto' or an integer > 0; got 0\."),
        ({"mini_batch_size": "0"}, r"mini_batch_size must be an integer > 0; got '0'"),
        ({"seed": -1}, r"seed must be an integer >= 0; got -1\."),
        ({"num_classes": 2_000_000}, r"num_classes must be an integer in \[1, 1000000"),
        ({"predictor_type": "regresor"}, r"Did you mean 'regressor'\?"),
        ({"loss": "squared"}, r"loss must be 'auto' or one of .*Did you mean"),
        ({"early_stopping_tolerance": 0}, r"early_stopping_tolerance must be a float"),
    ],
)  # fmt: skip
def test_invalid_values_raise_config_error_naming_the_parameter(
    values: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        make(**values)


@pytest.mark.parametrize(
    ("name", "value", "valid"),
    [
        ("beta_1", 0.0, True),
        ("beta_1", 1.0, False),
        ("beta_2", 0.999999, True),
        ("momentum", 0, True),
        ("momentum", 1, False),
        ("lr_scheduler_factor", 0.0, False),
        ("lr_scheduler_factor", 1.0, False),
        ("lr_scheduler_factor", 0.5, True),
        ("quantile", 0.0, False),
        ("quantile", 1.0, False),
        ("target_precision", 1.0, False),
        ("target_recall", 0.0, False),
        ("bias_wd_mult", 0.0, True),
        ("bias_lr_mult", 0.0, False),
        ("l1", 0.0, True),
        ("init_bias", -5.0, True),
        ("num_classes", 1_000_000, True),
        ("num_classes", 0, False),
    ],
)
def test_interval_boundaries_follow_the_spec(
    name: str, value: float, valid: bool
) -> None:
    if valid:
        assert getattr(make(**{name: value}), name) == value or name == "num_classes"
    else:
        with pytest.raises(ConfigError, match=rf"^{name} must be .* got"):
            make(**{name: value})


def test_missing_predictor_type_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"predictor_type is required; expected one"):
        Hyperparameters.from_dict({"epochs": 3})


def test_multiclass_requires_num_classes() -> None:
    with pytest.raises(ConfigError, match=r"num_classes is required when predictor"):
        Hyperparameters.from_dict({"predictor_type": "multiclass_classifier"})


@pytest.mark.parametrize("num_classes", [1, 2, "2"])
def test_multiclass_rejects_fewer_than_three_classes(num_classes: object) -> None:
    message = (
        "num_classes must be >= 3 when predictor_type is 'multiclass_classifier'; "
        f"got {int(num_classes)}. Use 'binary_classifier' for two classes."
    )
    with pytest.raises(ConfigError) as info:
        Hyperparameters.from_dict({**MULTI, "num_classes": num_classes})
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("predictor_type", "given", "expected"),
    [("binary_classifier", None, 2), ("binary_classifier", 9, 2),
     ("regressor", None, 1), ("regressor", "1", 1), ("multiclass_classifier", 3, 3)],
)  # fmt: skip
def test_num_classes_is_fixed_by_predictor_type(
    predictor_type: str, given: object, expected: int
) -> None:
    values = {"predictor_type": predictor_type, "num_classes": given}
    assert Hyperparameters.from_dict(values).num_classes == expected


@pytest.mark.parametrize(
    ("values", "bad_loss"),
    [
        ({**REGRESSOR, "loss": "hinge_loss"}, "hinge_loss"),
        ({**BINARY, "loss": "squared_loss"}, "squared_loss"),
        ({**MULTI, "loss": "logistic"}, "logistic"),
    ],
)
def test_loss_must_suit_the_predictor_type(
    values: dict[str, object], bad_loss: str
) -> None:
    predictor_type = PredictorType(values["predictor_type"])
    allowed = ", ".join(repr(loss) for loss in LOSSES[predictor_type])
    with pytest.raises(ConfigError) as info:
        Hyperparameters.from_dict(values)
    assert f"one of {allowed} when predictor_type is" in str(info.value)
    assert f"got {bad_loss!r}" in str(info.value)


@pytest.mark.parametrize(
    "loss", [loss for losses in LOSSES.values() for loss in losses]
)
def test_every_documented_loss_is_accepted_for_its_type(loss: str) -> None:
    for predictor_type, losses in LOSSES.items():
        if loss in losses:
            values = {"predictor_type": predictor_type.value, "num_classes": 3}
            assert Hyperparameters.from_dict({**values, "loss": loss}).loss == loss


@pytest.mark.parametrize(
    ("legacy", "normalised"),
    [("f1", "f_beta"), ("cross_entropy_loss", "loss_function"), ("f_beta", "f_beta")],
)
def test_legacy_selection_criteria_are_normalised(legacy: str, normalised: str) -> None:
    values = {**BINARY, "binary_classifier_model_selection_criteria": legacy}
    hp = Hyperparameters.from_dict(values)
    assert hp.binary_classifier_model_selection_criteria == normalised


def test_parameters_for_other_types_are_accepted_but_type_checked() -> None:
    hp = make(margin="2.5", target_recall="0.9", balance_multiclass_weights="true")
    assert (hp.margin, hp.target_recall, hp.balance_multiclass_weights) == (
        2.5,
        0.9,
        True,
    )
    with pytest.raises(ConfigError, match=r"margin must be a float > 0; got '-1'"):
        make(margin="-1")


def test_non_mapping_and_non_string_keys_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"must be a mapping .* got 'list'"):
        Hyperparameters.from_dict([("predictor_type", "regressor")])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"names must be strings; got 3"):
        Hyperparameters.from_dict({**REGRESSOR, 3: "x"})  # type: ignore[dict-item]


# --- unknown names --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("n_classes", "num_classes"),
        ("num_epochs", "epochs"),
        ("batch_size", "mini_batch_size"),
        ("learning_rat", "learning_rate"),
        ("Epochs", "epochs"),
        ("weight_decay", "wd"),
        ("feature_dims", "feature_dim"),
    ],
)
def test_unknown_names_suggest_the_closest_name(typo: str, suggestion: str) -> None:
    message = f"Unknown hyperparameter '{typo}'. Did you mean '{suggestion}'?"
    with pytest.raises(ConfigError) as info:
        make(**{typo: 3})
    assert str(info.value) == message


def test_unknown_name_without_a_close_match_says_where_names_are() -> None:
    with pytest.raises(ConfigError, match=r"Unknown hyperparameter 'zzqqx'\. Expected"):
        make(zzqqx=1)


def test_all_unknown_names_are_reported_together() -> None:
    with pytest.raises(ConfigError, match=r"'n_classes'.*'num_epochs'"):
        make(n_classes=3, num_epochs=4)


# --- internal keys and tuning ---------------------------------------------------------


def test_underscore_keys_are_kept_as_strings_and_ignored() -> None:
    hp = make(_kvstore="dist_sync", _num_gpus=0, _log_level=20)
    assert dict(hp.internal) == {
        "_kvstore": "dist_sync",
        "_num_gpus": "0",
        "_log_level": "20",
    }
    assert hp == make()
    with pytest.raises(TypeError):
        hp.internal["_kvstore"] = "local"  # type: ignore[index]


def test_tuning_objective_forces_num_models_to_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert make(_tuning_objective_metric="validation:mse").num_models == 1
    with caplog.at_level(logging.WARNING, logger="lodgepole.hyperparameters"):
        hp = make(num_models="8", _tuning_objective_metric="validation:mse")
    assert hp.num_models == 1
    assert "num_models=8 forced=1" in caplog.text
    assert make(num_models=8).num_models == 8


# --- auto resolution ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "loss", "normalize_label", "unbias_label"),
    [
        (BINARY, "logistic", False, False),
        (MULTI, "softmax_loss", False, False),
        (REGRESSOR, "squared_loss", True, True),
    ],
)
def test_resolved_fills_type_dependent_autos(
    values: dict[str, object], loss: str, normalize_label: bool, unbias_label: bool
) -> None:
    hp = Hyperparameters.from_dict(values).resolved()
    assert hp.loss == loss
    assert hp.normalize_label is normalize_label
    assert hp.unbias_label is unbias_label
    assert hp.unbias_data is True


def test_resolved_fills_static_constants_from_the_spec() -> None:
    hp = Hyperparameters.from_dict(BINARY).resolved()
    expected = {
        "beta_1": 0.9,
        "beta_2": 0.999,
        "bias_lr_mult": 10.0,
        "bias_wd_mult": 0.0,
        "lr_scheduler_factor": 0.99,
        "lr_scheduler_minimum_lr": 1e-5,
        "lr_scheduler_step": 100,
        "momentum": 0.0,
        "optimizer": "adam",
        "num_calibration_samples": 10_000_000,
        "normalize_data": True,
    }
    assert {name: getattr(hp, name) for name in expected} == expected
    assert type(hp.lr_scheduler_step) is int


def test_resolved_keeps_engine_autos_and_remembers_them() -> None:
    hp = Hyperparameters.from_dict(BINARY)
    resolved = hp.resolved()
    engine = ["learning_rate", "wd", "l1", "num_models", "feature_dim"]
    assert all(resolved.is_auto(name) for name in engine)
    assert resolved.positive_example_weight_mult == 1.0  # default is not auto
    auto_weight = hp.replace(positive_example_weight_mult="auto").resolved()
    assert auto_weight.is_auto("positive_example_weight_mult")
    assert not resolved.is_auto("optimizer") and resolved.was_auto("optimizer")
    assert not resolved.was_auto("epochs")
    assert resolved.provided == hp.provided == {"predictor_type"}
    assert resolved.auto_names == hp.auto_names


def test_resolved_sparse_turns_off_centring_of_features_only() -> None:
    hp = Hyperparameters.from_dict(REGRESSOR)
    assert hp.resolved(sparse=True).unbias_data is False
    assert hp.resolved(sparse=True).unbias_label is True
    assert hp.resolved(sparse=False).unbias_data is True


def test_resolved_without_bias_does_not_centre() -> None:
    hp = make(use_bias="false").resolved()
    assert hp.unbias_data is False and hp.unbias_label is False


def test_resolved_keeps_user_values() -> None:
    hp = make(optimizer="sgd", momentum=0.5, unbias_data="true", loss="huber_loss")
    resolved = hp.resolved(sparse=True)
    assert (resolved.optimizer, resolved.momentum) == ("sgd", 0.5)
    assert resolved.unbias_data is True and resolved.loss == "huber_loss"


def test_resolved_ignores_label_scaling_for_classifiers() -> None:
    values = {**BINARY, "normalize_label": "true", "unbias_label": "true"}
    hp = Hyperparameters.from_dict(values).resolved()
    assert hp.normalize_label is False and hp.unbias_label is False


def test_resolved_is_idempotent() -> None:
    hp = Hyperparameters.from_dict(MULTI).resolved()
    assert hp.resolved() == hp


def test_is_auto_rejects_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"Did you mean 'wd'"):
        make().is_auto("weight_decay")


# --- to_dict, round trips, replace ----------------------------------------------------


@pytest.mark.parametrize("values", [BINARY, MULTI, REGRESSOR])
def test_to_dict_round_trips_through_json_and_from_dict(
    values: dict[str, object],
) -> None:
    for hp in (Hyperparameters.from_dict(values), make().resolved(sparse=True)):
        data = hp.to_dict()
        assert list(data) == SPEC_NAMES
        assert Hyperparameters.from_dict(json.loads(json.dumps(data))) == hp


def test_to_dict_round_trips_as_container_strings() -> None:
    hp = Hyperparameters.from_dict({**MULTI, "wd": 0.003, "shuffle": True})
    as_strings = {name: str(value) for name, value in hp.to_dict().items()}
    assert Hyperparameters.from_dict(as_strings) == hp


def test_to_dict_can_include_internal_keys() -> None:
    hp = make(num_models=5, _tuning_objective_metric="validation:mse")
    data = hp.to_dict(include_internal=True)
    assert data["_tuning_objective_metric"] == "validation:mse"
    assert "_tuning_objective_metric" not in hp.to_dict()
    again = Hyperparameters.from_dict(data)
    assert again.internal == hp.internal and again.num_models == 1


def test_equality_and_hash_ignore_provenance() -> None:
    explicit = make(epochs=15)
    implicit = make()
    assert explicit == implicit and hash(explicit) == hash(implicit)
    assert explicit.provided != implicit.provided
    assert make(epochs=16) != implicit


def test_pickle_keeps_values_and_provenance() -> None:
    hp = make(wd="0.1", _kvstore="local").resolved()
    again = pickle.loads(pickle.dumps(hp))
    assert again == hp
    assert (again.provided, again.auto_names) == (hp.provided, hp.auto_names)
    assert again.internal == hp.internal


def test_hyperparameters_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make().epochs = 3  # type: ignore[misc]


def test_replace_revalidates_and_tracks_provenance() -> None:
    hp = make(wd=0.1)
    changed = hp.replace(epochs="20", learning_rate="auto")
    assert changed.epochs == 20
    assert changed.provided == {"predictor_type", "wd", "epochs", "learning_rate"}
    restored = changed.replace(wd=None)
    assert restored.wd == AUTO and restored.was_auto("wd")
    assert "wd" not in restored.provided
    with pytest.raises(ConfigError, match=r"beta_1 must be 'auto' or a float in"):
        hp.replace(beta_1=1.5)
    with pytest.raises(ConfigError, match=r"Did you mean 'num_classes'"):
        hp.replace(n_classes=4)


def test_replace_after_resolution_keeps_the_record_of_autos() -> None:
    resolved = make().resolved()
    changed = resolved.replace(optimizer="sgd")
    assert not changed.was_auto("optimizer")
    assert changed.was_auto("beta_1") and changed.beta_1 == 0.9


def test_replace_can_change_predictor_type() -> None:
    hp = Hyperparameters.from_dict(MULTI).replace(predictor_type="binary_classifier")
    assert hp.num_classes == 2
    with pytest.raises(ConfigError, match=r"num_classes must be >= 3"):
        hp.replace(predictor_type="multiclass_classifier")


def test_repr_shows_only_values_that_differ_from_defaults() -> None:
    hp = Hyperparameters.from_dict({**MULTI, "epochs": "5"})
    expected = (
        "Hyperparameters(predictor_type='multiclass_classifier', num_classes=7, "
        "epochs=5)"
    )
    assert repr(hp) == expected


# --- properties -----------------------------------------------------------------------

unit_interval = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)


@settings(max_examples=200, deadline=None)
@given(value=unit_interval)
def test_any_valid_float_round_trips_through_its_string(value: float) -> None:
    assert make(beta_1=repr(value)).beta_1 == value
    assert make(beta_1=str(value)).beta_1 == value


@settings(max_examples=200, deadline=None)
@given(value=st.integers(min_value=1, max_value=10**12))
def test_any_valid_int_round_trips_through_its_string(value: int) -> None:
    assert make(mini_batch_size=str(value)).mini_batch_size == value


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(SPEC_NAMES[2:]),
    value=st.one_of(
        st.text(max_size=8),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
        st.booleans(),
        st.none(),
    ),
)
def test_any_value_is_accepted_or_rejected_with_config_error(
    name: str, value: object
) -> None:
    try:
        hp = make(**{name: value})
    except ConfigError as err:
        assert str(err).startswith(f"{name} must be ")
        assert repr(value) in str(err)
    else:
        parsed = getattr(hp, name)
        assert Hyperparameters.from_dict(hp.to_dict()) == hp
        assert parsed is not None
