"""scikit-learn's own estimator checks, and the estimators in its tools."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from lodgepole import LinearModel
from lodgepole.hyperparameters import SPECS
from lodgepole.sklearn import (
    LinearLearnerClassifier,
    LinearLearnerRegressor,
)

#: Checks expected to fail, with the reason; the README lists the same.
SAMPLE_WEIGHT_REASON = (
    "mini-batch SGD and the scaler's sample see repeated rows differently "
    "from weighted rows, so the models are close but not equal"
)
THRESHOLD_REASON = (
    "predict uses the threshold calibrated for "
    "binary_classifier_model_selection_criteria='accuracy' (SageMaker's "
    "default), not argmax(predict_proba); the same check passes with "
    "'loss_function'"
)


def _expected_failures(estimator: object) -> dict[str, str]:
    failures = {
        "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON,
        "check_sample_weight_equivalence_on_sparse_data": SAMPLE_WEIGHT_REASON,
    }
    if (
        isinstance(estimator, LinearLearnerClassifier)
        and estimator.binary_classifier_model_selection_criteria != "loss_function"
    ):
        failures["check_classifiers_train"] = THRESHOLD_REASON
    return failures


@parametrize_with_checks(
    [
        LinearLearnerClassifier(),
        LinearLearnerClassifier(
            binary_classifier_model_selection_criteria="loss_function"
        ),
        LinearLearnerRegressor(),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [LinearLearnerClassifier, LinearLearnerRegressor])
def test_constructor_defaults_are_the_hyperparameter_defaults(estimator):
    params = estimator().get_params()
    for name, value in params.items():
        if name in {"class_weight", "random_state", "mini_batch_size"}:
            continue
        assert value == SPECS[name].default, name
    assert params["mini_batch_size"] is None


def _binary(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(
        n_samples=n, n_features=8, n_informative=5, random_state=seed
    )


def test_classifier_matches_logistic_regression_accuracy_and_labels():
    X, y = make_classification(
        n_samples=3000, n_features=10, n_informative=6, n_classes=4, random_state=1
    )
    labels = np.array(["ash", "birch", "cedar", "douglas"])[y]
    clf = LinearLearnerClassifier(random_state=0).fit(X[:2000], labels[:2000])
    reference = LogisticRegression(max_iter=2000).fit(X[:2000], labels[:2000])
    assert clf.classes_.tolist() == ["ash", "birch", "cedar", "douglas"]
    assert clf.coef_.shape == (4, 10) and clf.intercept_.shape == (4,)
    mine, theirs = (
        clf.score(X[2000:], labels[2000:]),
        reference.score(X[2000:], labels[2000:]),
    )
    assert mine >= theirs - 0.02
    proba = clf.predict_proba(X[2000:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        clf.classes_[proba.argmax(axis=1)], clf.predict(X[2000:])
    )
    # The model artifact predicts what the estimator does.
    assert isinstance(clf.model_, LinearModel)
    index = clf.model_.predict(X[2000:]).predicted_label.astype(int)
    assert np.mean(clf.classes_[index] == clf.predict(X[2000:])) > 0.999


def test_binary_decision_function_agrees_with_predict_and_calibrated_threshold():
    X, y = _binary()
    clf = LinearLearnerClassifier(random_state=0).fit(X, y * 5 + 1)  # labels 1 and 6
    assert clf.classes_.tolist() == [1, 6]
    assert clf.coef_.shape == (1, 8)
    decision = clf.decision_function(X)
    np.testing.assert_array_equal(np.where(decision > 0, 6, 1), clf.predict(X))
    # decision = logit(p) - logit(threshold)
    p = clf.predict_proba(X)[:, 1]
    t = clf.model_.threshold
    np.testing.assert_allclose(
        decision, np.log(p / (1 - p)) - np.log(t / (1 - t)), atol=1e-6
    )


def test_hinge_loss_has_no_probabilities():
    clf = LinearLearnerClassifier(loss="hinge_loss", num_models=2).fit(*_binary(300))
    assert not hasattr(clf, "predict_proba")
    assert clf.score(*_binary(300)) > 0.8


def test_regressor_matches_ridge():
    X, y = make_regression(n_samples=2000, n_features=6, noise=5.0, random_state=2)
    reg = LinearLearnerRegressor(random_state=0).fit(X[:1500], y[:1500])
    ridge = Ridge(alpha=1e-3).fit(X[:1500], y[:1500])
    assert reg.coef_.shape == (6,) and reg.intercept_.shape == (1,)
    assert reg.score(X[1500:], y[1500:]) == pytest.approx(
        ridge.score(X[1500:], y[1500:]), abs=0.01
    )


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(
        n_samples=4000, n_features=6, weights=[0.95, 0.05], random_state=3, flip_y=0
    )
    plain = LinearLearnerClassifier(random_state=0).fit(X, y)
    balanced = LinearLearnerClassifier(class_weight="balanced", random_state=0).fit(
        X, y
    )
    recall = lambda clf: float(np.mean(clf.predict(X[y == 1]) == 1))  # noqa: E731
    assert recall(balanced) > recall(plain) + 0.05
    # The same weights as scikit-learn's: n / (classes * count), in the loss.
    lr = LogisticRegression(class_weight="balanced").fit(X, y)
    assert recall(balanced) >= float(np.mean(lr.predict(X[y == 1]) == 1)) - 0.05
    with pytest.raises(ValueError, match="needs every label at once"):
        LinearLearnerClassifier(class_weight="balanced").partial_fit(
            X, y, classes=[0, 1]
        )


def test_random_state_is_honoured():
    X, y = _binary(500)
    a = LinearLearnerClassifier(random_state=3, shuffle=True).fit(X, y)
    b = LinearLearnerClassifier(random_state=3, shuffle=True).fit(X, y)
    c = LinearLearnerClassifier(random_state=4, shuffle=True).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.array_equal(a.coef_, c.coef_)


def test_partial_fit_learns_from_batches_and_continues_after_fit():
    X, y = _binary(6000, seed=5)
    stream = LinearLearnerClassifier(random_state=0)
    for rows in np.array_split(np.arange(4000), 8):
        stream.partial_fit(X[rows], y[rows], classes=[0, 1])
    assert stream.n_iter_ == 8
    assert stream.score(X[4000:], y[4000:]) > 0.85
    with pytest.raises(ValueError, match="classes must be given"):
        LinearLearnerClassifier().partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="not among the classes"):
        stream.partial_fit(X[:10], np.full(10, 7))

    fitted = LinearLearnerClassifier(random_state=0).fit(X[:4000], y[:4000])
    before = fitted.coef_.copy()
    fitted.partial_fit(X[4000:5000], y[4000:5000])
    assert not np.array_equal(before, fitted.coef_)
    # One more pass from the fitted model keeps it about as good.
    assert fitted.score(X[5000:], y[5000:]) > 0.85

    reg = LinearLearnerRegressor(random_state=0)
    Xr, yr = make_regression(n_samples=3000, n_features=4, noise=1.0, random_state=0)
    for _ in range(3):
        for rows in np.array_split(np.arange(2000), 4):
            reg.partial_fit(Xr[rows], yr[rows])
    assert reg.score(Xr[2000:], yr[2000:]) > 0.98


def test_pipeline_grid_search_and_cross_val_score():
    X, y = _binary(1200)
    pipeline = make_pipeline(StandardScaler(), LinearLearnerClassifier(random_state=0))
    search = GridSearchCV(
        pipeline,
        {
            "linearlearnerclassifier__l1": [0.0, 0.01],
            "linearlearnerclassifier__epochs": [3, 10],
        },
        cv=3,
    )
    search.fit(X, y)
    assert set(search.best_params_) == {
        "linearlearnerclassifier__l1",
        "linearlearnerclassifier__epochs",
    }
    reference = cross_val_score(LogisticRegression(), X, y, cv=3).mean()
    assert search.best_score_ >= reference - 0.02
    scores = cross_val_score(
        LinearLearnerRegressor(epochs=5), *make_regression(600, 5, random_state=0), cv=3
    )
    assert scores.min() > 0.95


def test_estimators_pickle_and_clone_without_training_data():
    X, y = _binary(3000)
    clf = LinearLearnerClassifier(random_state=0).fit(X, y)
    data = pickle.dumps(clf)
    assert len(data) < 200_000  # the state holds no training records
    again = pickle.loads(data)
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    again.partial_fit(X[:100], y[:100])  # the incremental state survives
    assert clone(clf).get_params() == clf.get_params()


def test_dataframe_columns_are_kept_and_checked():
    pd = pytest.importorskip("pandas")
    X, y = _binary(500)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    clf = LinearLearnerClassifier(num_models=2).fit(frame, y)
    assert clf.feature_names_in_.tolist() == list(frame.columns)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        clf.predict(frame[frame.columns[::-1]])
    with pytest.raises(ValueError, match="f7"):
        clf.predict(frame.drop(columns=["f7"]))


def test_bad_class_weight_and_one_class_are_clear_errors():
    X, y = _binary(100)
    with pytest.raises(
        ValueError, match="class_weight must be None, 'balanced' or a mapping"
    ):
        LinearLearnerClassifier(class_weight="even").fit(X, y)
    with pytest.raises(ValueError, match="names 9, which is not among the classes"):
        LinearLearnerClassifier(class_weight={9: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LinearLearnerClassifier().fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="epochs"):
        LinearLearnerClassifier(epochs=0).fit(X, y)
