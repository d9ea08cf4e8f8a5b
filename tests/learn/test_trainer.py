"""End-to-end behaviour of the training engine on generated data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score

from lodgepole.data.memory import as_channel
from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.hyperparameters import Hyperparameters
from lodgepole.learn.candidates import candidate_grid
from lodgepole.learn.trainer import _Trainer, train


def _multiclass_data(n: int = 6000, d: int = 8, k: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 200.0, size=d)
    X = rng.normal(size=(n, d)) * scale + rng.uniform(-50, 50, size=d)
    W = rng.normal(size=(d, k)) * 1.5
    logits = ((X - X.mean(0)) / X.std(0)) @ W
    y = np.argmax(logits + rng.gumbel(size=(n, k)), axis=1)
    return X.astype(np.float32), y.astype(np.float32)


def _binary_data(n: int = 6000, d: int = 6, seed: int = 1, positive_share: float = 0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=d)
    margin = X @ w
    cut = np.quantile(margin, 1 - positive_share)
    y = ((margin + rng.normal(scale=0.7, size=n)) > cut).astype(np.float32)
    return X, y


def _regression_data(n: int = 5000, d: int = 6, seed: int = 2):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(1, 30, size=d)).astype(np.float32)
    y = (X @ rng.normal(size=d) + 300.0 + rng.normal(scale=5.0, size=n)).astype(
        np.float32
    )
    return X, y


def _split(X, y, a: float = 0.8, b: float = 0.9):
    n = len(y)
    i, j = int(n * a), int(n * b)
    return (X[:i], y[:i]), (X[i:j], y[i:j]), (X[j:], y[j:])


def test_train_multiclass_matches_sklearn_logistic_regression():
    X, y = _multiclass_data()
    tr, va, te = _split(X, y)
    result = train(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 10,
            "num_models": 8,
            "mini_batch_size": 200,
        },
        tr,
        va,
        te,
    )
    reference = LogisticRegression(max_iter=2000).fit(*tr)
    expected = accuracy_score(te[1], reference.predict(te[0]))
    got = result.metrics["test"]["multiclass_accuracy"]
    assert got >= expected - 0.01
    assert np.isclose(
        got, accuracy_score(te[1], result.model.predict(te[0]).predicted_label)
    )


def test_train_regressor_r2_close_to_ridge():
    X, y = _regression_data()
    tr, va, te = _split(X, y)
    result = train(
        {
            "predictor_type": "regressor",
            "epochs": 10,
            "num_models": 4,
            "mini_batch_size": 100,
        },
        tr,
        va,
        te,
    )
    ridge = Ridge(alpha=1e-3).fit(*tr)
    expected = r2_score(te[1], ridge.predict(te[0]))
    assert result.metrics["test"]["r2"] >= expected - 0.01
    # Predictions come back in label units, not normalised ones.
    assert (
        abs(float(result.model.predict(te[0]).score.mean()) - float(te[1].mean())) < 5
    )


@pytest.mark.parametrize(
    "criterion",
    [
        "accuracy",
        "f_beta",
        "precision_at_target_recall",
        "recall_at_target_precision",
        "loss_function",
    ],
)
def test_train_binary_selection_criteria(criterion):
    X, y = _binary_data()
    tr, va, te = _split(X, y)
    result = train(
        {
            "predictor_type": "binary_classifier",
            "epochs": 4,
            "num_models": 4,
            "mini_batch_size": 200,
            "binary_classifier_model_selection_criteria": criterion,
            "target_recall": 0.9,
            "target_precision": 0.9,
        },
        tr,
        va,
        te,
    )
    metrics = result.metrics["validation"]
    assert metrics["binary_classification_accuracy"] > 0.8
    threshold = result.model.threshold
    if criterion == "loss_function":
        assert threshold == 0.5
    if criterion == "precision_at_target_recall":
        assert metrics["recall"] >= 0.9
    if criterion == "recall_at_target_precision":
        assert metrics["precision"] >= 0.9


def test_train_binary_balanced_positive_weight_raises_recall():
    X, y = _binary_data(positive_share=0.1)
    tr, va, te = _split(X, y)
    common = {
        "predictor_type": "binary_classifier",
        "epochs": 4,
        "num_models": 2,
        "mini_batch_size": 200,
        "binary_classifier_model_selection_criteria": "loss_function",
    }
    plain = train(common, tr, va, te)
    balanced = train({**common, "positive_example_weight_mult": "balanced"}, tr, va, te)
    assert balanced.metrics["test"]["recall"] > plain.metrics["test"]["recall"] + 0.05


@pytest.mark.parametrize(
    "loss",
    [
        "absolute_loss",
        "huber_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
        "quantile_loss",
        "squared_loss",
    ],
)
def test_train_every_regression_loss_fits(loss):
    X, y = _regression_data(n=3000)
    tr, va, te = _split(X, y)
    result = train(
        {
            "predictor_type": "regressor",
            "loss": loss,
            "epochs": 8,
            "num_models": 4,
            "mini_batch_size": 100,
        },
        tr,
        va,
        te,
    )
    assert result.metrics["test"]["r2"] > 0.95


def test_train_quantile_loss_puts_labels_below_prediction_with_probability_q():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20000, 2)).astype(np.float32)
    y = (X[:, 0] + rng.exponential(2.0, size=20000)).astype(np.float32)
    result = train(
        {
            "predictor_type": "regressor",
            "loss": "quantile_loss",
            "quantile": 0.9,
            "epochs": 8,
            "num_models": 4,
            "mini_batch_size": 200,
        },
        (X, y),
    )
    share_below = float(np.mean(y <= result.model.predict(X).score))
    assert 0.87 < share_below < 0.93


def test_train_hinge_loss_binary():
    X, y = _binary_data()
    tr, va, te = _split(X, y)
    result = train(
        {
            "predictor_type": "binary_classifier",
            "loss": "hinge_loss",
            "epochs": 4,
            "num_models": 4,
            "mini_batch_size": 200,
        },
        tr,
        va,
        te,
    )
    assert result.model.link == "identity"
    assert result.metrics["test"]["binary_classification_accuracy"] > 0.8


def test_train_fused_candidates_equal_each_trained_alone():
    X, y = _multiclass_data(n=3000)
    hp = Hyperparameters.from_dict(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 2,
            "mini_batch_size": 250,
        }
    )
    configs = candidate_grid(
        num_models=3,
        learning_rate=None,
        wd=None,
        l1=None,
        optimizer="adam",
        lr_scheduler_step=5,
        lr_scheduler_factor=0.9,
        lr_scheduler_minimum_lr=1e-5,
    )

    def fitted(cfgs):
        trainer = _Trainer(hp, {"train": as_channel("train", (X, y))}, None)
        trainer.build(cfgs)
        for epoch in range(2):
            trainer.run_epoch(epoch)
        return trainer.stack

    together = fitted(configs)
    for index, config in enumerate(configs):
        alone = fitted([config])
        w, b = together.candidate_parameters(index)
        w1, b1 = alone.candidate_parameters(0)
        np.testing.assert_allclose(w, w1, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b, b1, rtol=1e-4, atol=1e-5)


def test_train_early_stopping_stops_and_keeps_best_epoch():
    X, y = _multiclass_data(n=4000)
    tr, va, _ = _split(X, y)
    result = train(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 50,
            "num_models": 2,
            "mini_batch_size": 100,
            "early_stopping_patience": 2,
            "early_stopping_tolerance": 0.05,
        },
        tr,
        va,
    )
    assert len(result.history) < 50
    values = [h["early_stopping_criteria"] for h in result.history]
    assert result.history[-1]["epoch"] >= 2
    assert min(values) == pytest.approx(min(values[: result.best_epoch + 1]))


def test_train_early_stopping_disabled_when_patience_exceeds_epochs():
    X, y = _multiclass_data(n=2000)
    tr, va, _ = _split(X, y)
    result = train(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 4,
            "num_models": 1,
            "early_stopping_patience": 5,
            "early_stopping_tolerance": 0.9,
            "mini_batch_size": 100,
        },
        tr,
        va,
    )
    assert len(result.history) == 4


def test_train_sparse_input_gives_the_dense_model():
    X, y = _multiclass_data(n=3000)
    hp = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 4,
        "epochs": 2,
        "num_models": 2,
        "mini_batch_size": 100,
        "unbias_data": True,
    }
    dense = train(hp, (X, y))
    sparse = train(hp, (sp.csr_matrix(X), y))
    np.testing.assert_allclose(
        dense.model.predict(X).score,
        sparse.model.predict(X).score,
        rtol=1e-3,
        atol=1e-4,
    )


def test_train_balanced_weights_raise_rare_class_recall():
    rng = np.random.default_rng(3)
    n = 12000
    y = rng.choice(3, size=n, p=[0.8, 0.17, 0.03])
    X = (rng.normal(size=(n, 4)) + np.eye(3, 4)[y] * 1.2).astype(np.float32)
    y = y.astype(np.float32)
    common = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 3,
        "epochs": 4,
        "num_models": 2,
        "mini_batch_size": 200,
    }
    plain = train(common, (X, y))
    balanced = train({**common, "balance_multiclass_weights": True}, (X, y))
    rare = y == 2
    recall_plain = np.mean(plain.model.predict(X[rare]).predicted_label == 2)
    recall_balanced = np.mean(balanced.model.predict(X[rare]).predicted_label == 2)
    assert recall_balanced > recall_plain + 0.2
    assert (
        balanced.metrics["train"]["multiclass_accuracy"]
        < plain.metrics["train"]["multiclass_accuracy"]
    )


def test_train_without_validation_selects_on_training_loss():
    X, y = _binary_data(n=2000)
    result = train(
        {
            "predictor_type": "binary_classifier",
            "epochs": 2,
            "num_models": 3,
            "mini_batch_size": 100,
        },
        (X, y),
    )
    assert "validation:objective_loss" not in result.history[0]
    assert 0.0 < result.model.threshold < 1.0


def test_train_history_logs_channel_metrics(caplog):
    X, y = _multiclass_data(n=2000)
    tr, va, _ = _split(X, y)
    with caplog.at_level("INFO", logger="lodgepole"):
        result = train(
            {
                "predictor_type": "multiclass_classifier",
                "num_classes": 4,
                "epochs": 2,
                "num_models": 2,
                "mini_batch_size": 100,
            },
            tr,
            va,
        )
    assert "validation:multiclass_accuracy" in result.history[0]
    assert "train:objective_loss" in result.history[0]
    assert any("validation:multiclass_accuracy=" in r.message for r in caplog.records)


# ------------------------------------------------------------------ bad input
def test_train_rejects_label_out_of_range_naming_row():
    X, y = _multiclass_data(n=100)
    y[17] = 4
    with pytest.raises(
        DataFormatError,
        match=r"'train', row 17: label must be an integer in \[0, 3\].*got 4.0",
    ):
        train({"predictor_type": "multiclass_classifier", "num_classes": 4}, (X, y))


def test_train_rejects_non_integer_label():
    X, y = _multiclass_data(n=100)
    y[3] = 1.5
    with pytest.raises(DataFormatError, match="row 3: label must be an integer"):
        train({"predictor_type": "multiclass_classifier", "num_classes": 4}, (X, y))


def test_train_rejects_non_binary_label():
    X, y = _binary_data(n=100)
    y[5] = 2
    with pytest.raises(DataFormatError, match="row 5: label must be 0 or 1"):
        train({"predictor_type": "binary_classifier"}, (X, y))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_train_rejects_non_finite_feature_naming_row_and_column(bad):
    X, y = _binary_data(n=100)
    X[42, 3] = bad
    with pytest.raises(
        DataFormatError, match=r"'train', row 42, column 3: features must be finite"
    ):
        train({"predictor_type": "binary_classifier"}, (X, y))


def test_train_rejects_non_finite_sparse_feature():
    X, y = _binary_data(n=50)
    X[7, 2] = np.nan
    with pytest.raises(DataFormatError, match="row 7, column 2"):
        train({"predictor_type": "binary_classifier"}, (sp.csr_matrix(X), y))


def test_train_rejects_channel_with_different_feature_count():
    X, y = _binary_data(n=100)
    with pytest.raises(
        DataFormatError, match="'validation' has 5 features; the train channel has 6"
    ):
        train({"predictor_type": "binary_classifier"}, (X, y), (X[:, :5], y))


def test_train_rejects_multiclass_without_num_classes():
    X, y = _multiclass_data(n=100)
    with pytest.raises(ConfigError, match="num_classes"):
        train({"predictor_type": "multiclass_classifier"}, (X, y))


def test_train_rejects_empty_channel():
    X, y = _binary_data(n=100)
    with pytest.raises(DataFormatError, match="'validation' is empty"):
        train({"predictor_type": "binary_classifier"}, (X, y), (X[:0], y[:0]))


def test_train_rejects_label_count_mismatch():
    X, y = _binary_data(n=100)
    with pytest.raises(DataFormatError, match="one label per record"):
        train({"predictor_type": "binary_classifier"}, (X, y[:-1]))


def test_train_rejects_unknown_hyperparameter_with_suggestion():
    X, y = _multiclass_data(n=100)
    with pytest.raises(ConfigError, match="num_classes"):
        train({"predictor_type": "multiclass_classifier", "n_classes": 4}, (X, y))


def test_train_model_round_trips_through_save_and_load(tmp_path):
    from lodgepole.model import LinearModel

    X, y = _multiclass_data(n=2000)
    result = train(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 2,
            "num_models": 2,
            "mini_batch_size": 100,
        },
        (X, y),
        label_names=["a", "b", "c", "d"],
    )
    for path in (tmp_path / "model", tmp_path / "model.tar.gz"):
        loaded = LinearModel.load(result.model.save(path))
        assert np.array_equal(loaded.predict(X).score, result.model.predict(X).score)
        assert loaded.label_names == ("a", "b", "c", "d")
        assert loaded.metrics["train"]["multiclass_accuracy"] == pytest.approx(
            result.metrics["train"]["multiclass_accuracy"]
        )


def test_train_per_example_weights_steer_the_model():
    X, y = _multiclass_data(n=4000)
    weights = np.where(y == 2, 0.0, 1.0)
    result = train(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 3,
            "num_models": 2,
            "mini_batch_size": 100,
        },
        (X, y, weights),
    )
    predicted = result.model.predict(X).predicted_label
    assert np.mean(predicted == 2) < 0.02
    assert np.mean(y == 2) > 0.1


def test_train_rejects_label_names_of_wrong_length():
    X, y = _multiclass_data(n=200)
    with pytest.raises(ConfigError, match="label_names has 2 names; the model has 4"):
        train(
            {"predictor_type": "multiclass_classifier", "num_classes": 4},
            (X, y),
            label_names=["a", "b"],
        )


def test_train_rejects_declared_feature_dim_that_differs():
    X, y = _binary_data(n=100)
    with pytest.raises(
        DataFormatError, match="feature_dim is 7 but the train channel has 6"
    ):
        train({"predictor_type": "binary_classifier", "feature_dim": 7}, (X, y))


def test_train_is_deterministic_for_a_seed():
    X, y = _multiclass_data(n=2000)
    hp = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 4,
        "epochs": 2,
        "num_models": 3,
        "mini_batch_size": 100,
        "shuffle": True,
        "seed": 4,
    }
    a = train(hp, (X, y)).model
    b = train(hp, (X, y)).model
    assert np.array_equal(a.weights, b.weights)


def test_train_final_objective_is_the_channel_mean_loss():
    X, y = _multiclass_data(n=3000)
    tr, va, _ = _split(X, y)
    result = train(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 2,
            "num_models": 2,
            "mini_batch_size": 100,
        },
        tr,
        va,
    )
    metrics = result.metrics["validation"]
    assert metrics["objective_loss"] == pytest.approx(
        metrics["multiclass_log_loss"], rel=1e-4
    )


def test_train_regressor_objective_is_on_the_normalised_scale():
    X, y = _regression_data(n=3000)
    result = train(
        {
            "predictor_type": "regressor",
            "epochs": 3,
            "num_models": 2,
            "mini_batch_size": 100,
        },
        (X, y),
    )
    metrics = result.metrics["train"]
    expected = metrics["mse"] / float(np.var(y[:3000]))
    assert metrics["objective_loss"] == pytest.approx(expected, rel=0.05)


def test_train_auto_candidates_are_halved_down_to_one(caplog):
    X, y = _multiclass_data(n=60_000, d=8)
    tr, va, _ = _split(X, y)
    with caplog.at_level("INFO", logger="lodgepole.learn.trainer"):
        result = train(
            {
                "predictor_type": "multiclass_classifier",
                "num_classes": 4,
                "epochs": 4,
                "mini_batch_size": 200,
            },
            tr,
            va,
        )
    kept = [r.message for r in caplog.records if "candidates pruned" in r.message]
    assert "kept=16 of=32" in kept[0]
    assert any("kept=4 of=8" in m for m in kept)
    assert "kept=1 of=2" in kept[-1]
    assert 0 <= result.candidate["index"] < 32
    assert result.model.metadata["candidate"] == result.candidate["index"]


def test_train_without_pruning_selects_the_same_kind_of_model():
    X, y = _multiclass_data(n=20_000, d=8)
    tr, va, te = _split(X, y)
    hp = Hyperparameters.from_dict(
        {
            "predictor_type": "multiclass_classifier",
            "num_classes": 4,
            "epochs": 3,
            "mini_batch_size": 200,
        }
    )
    channels = {
        k: as_channel(k, v)
        for k, v in {"train": tr, "validation": va, "test": te}.items()
    }
    accuracies = []
    for prune in (True, False):
        trainer = _Trainer(hp, channels, None)
        trainer.prune = prune
        trainer.build()
        accuracies.append(trainer.fit().metrics["test"]["multiclass_accuracy"])
    assert abs(accuracies[0] - accuracies[1]) < 0.01


def test_train_explicit_small_num_models_is_not_pruned(caplog):
    X, y = _multiclass_data(n=20_000, d=8)
    with caplog.at_level("INFO", logger="lodgepole.learn.trainer"):
        train(
            {
                "predictor_type": "multiclass_classifier",
                "num_classes": 4,
                "epochs": 3,
                "num_models": 4,
                "mini_batch_size": 200,
            },
            (X, y),
        )
    assert not [r for r in caplog.records if "candidates pruned" in r.message]


def test_train_warns_when_the_epoch_cap_cuts_training_short():
    from lodgepole.exceptions import ConvergenceWarning

    X, y = _multiclass_data(n=3000)
    tr, va, _ = _split(X, y)
    hp = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 4,
        "epochs": 2,
        "num_models": 1,
        "mini_batch_size": 100,
        "early_stopping_patience": 1,
        "early_stopping_tolerance": 1e-6,
    }
    with pytest.warns(
        ConvergenceWarning, match=r"epoch cap \(epochs=2\).*raise epochs"
    ):
        train(hp, tr, va)


def test_train_does_not_warn_after_early_stopping(recwarn):
    X, y = _multiclass_data(n=3000)
    tr, va, _ = _split(X, y)
    hp = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 4,
        "epochs": 30,
        "num_models": 1,
        "mini_batch_size": 100,
        "early_stopping_patience": 1,
        "early_stopping_tolerance": 0.5,
    }
    result = train(hp, tr, va)
    assert len(result.history) < 30
    assert not [w for w in recwarn if "epoch cap" in str(w.message)]
