"""Regression metrics against scikit-learn, by hand and by property."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.metrics import (
    compute_metrics,
    is_maximized,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    root_mean_squared_error,
)

Metric = Callable[..., float]

PAIRS = [
    (mean_squared_error, skm.mean_squared_error),
    (root_mean_squared_error, skm.root_mean_squared_error),
    (mean_absolute_error, skm.mean_absolute_error),
    (r2_score, skm.r2_score),
]


def _data(seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.normal(10, 3, n)
    pred = true + rng.normal(0, 1.5, n)
    return true, pred, rng.uniform(0.1, 3.0, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("ours", "reference"), PAIRS)
def test_regression_metric_matches_sklearn(
    seed: int, weighted: bool, ours: Metric, reference: Metric
) -> None:
    true, pred, weights = _data(seed)
    w = weights if weighted else None
    expected = reference(true, pred, sample_weight=w)
    assert ours(true, pred, sample_weight=w) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("ours", "reference"), PAIRS)
def test_regression_metric_on_float32_matches_sklearn_in_float64(
    ours: Metric, reference: Metric
) -> None:
    true, pred, _ = _data(5)
    got = ours(true.astype(np.float32), pred.astype(np.float32))
    expected = reference(
        true.astype(np.float32).astype(np.float64),
        pred.astype(np.float32).astype(np.float64),
    )
    assert got == pytest.approx(expected, rel=1e-12)


def test_regression_metrics_hand_computed() -> None:
    true, pred = [1.0, 2.0, 4.0], [2.0, 2.0, 2.0]
    assert mean_squared_error(true, pred) == pytest.approx(5 / 3)
    assert root_mean_squared_error(true, pred) == pytest.approx(math.sqrt(5 / 3))
    assert mean_absolute_error(true, pred) == 1.0
    # mean 7/3, SS_tot = 42/9, SS_res = 5
    assert r2_score(true, pred) == pytest.approx(1 - 5 / (42 / 9))


def test_r2_score_for_constant_labels_follows_sklearn_force_finite() -> None:
    assert r2_score([3.0, 3.0], [3.0, 3.0]) == skm.r2_score([3.0, 3.0], [3.0, 3.0])
    assert r2_score([3.0, 3.0], [3.0, 2.0]) == 0.0
    assert r2_score([3.0, 3.0], [3.0, 3.0]) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 30).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.float64, n, elements=st.floats(-1e3, 1e3)),
            hnp.arrays(np.float64, n, elements=st.floats(-1e3, 1e3)),
            hnp.arrays(np.int64, n, elements=st.integers(1, 4)),
        )
    )
)
def test_regression_integer_weights_equal_repeated_rows(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    true, pred, weights = data
    for metric in (mean_squared_error, mean_absolute_error, r2_score):
        weighted = metric(true, pred, sample_weight=weights)
        repeated = metric(np.repeat(true, weights), np.repeat(pred, weights))
        assert weighted == pytest.approx(repeated, rel=1e-9, abs=1e-9)
    assert mean_absolute_error(true, pred) <= root_mean_squared_error(true, pred) + 1e-9


def test_regression_inputs_are_validated() -> None:
    with pytest.raises(DataFormatError, match="y_pred has 1 rows but y_true has 2"):
        mean_squared_error([1.0, 2.0], [1.0])
    with pytest.raises(DataFormatError, match=r"y_pred row 1: .*finite.*got nan"):
        mean_absolute_error([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(DataFormatError, match=r"shape \(n_rows,\); got shape"):
        r2_score([[1.0], [2.0]], [1.0, 2.0])
    with pytest.raises(DataFormatError, match="sample_weight row 0"):
        r2_score([1.0, 2.0], [1.0, 2.0], sample_weight=[-1.0, 1.0])


@pytest.mark.parametrize("weighted", [False, True])
def test_compute_metrics_regressor_names_and_values(weighted: bool) -> None:
    true, pred, weights = _data(9)
    w = weights if weighted else None
    got = compute_metrics("regressor", true, pred, sample_weight=w)
    assert list(got) == ["mse", "rmse", "absolute_loss", "r2"]
    assert got == pytest.approx(
        {
            "mse": skm.mean_squared_error(true, pred, sample_weight=w),
            "rmse": skm.root_mean_squared_error(true, pred, sample_weight=w),
            "absolute_loss": skm.mean_absolute_error(true, pred, sample_weight=w),
            "r2": skm.r2_score(true, pred, sample_weight=w),
        },
        rel=1e-12,
    )
    assert [is_maximized(name) for name in got] == [False, False, False, True]


def test_compute_metrics_regressor_rejects_predicted_label() -> None:
    with pytest.raises(ConfigError, match="predicted_label must be None"):
        compute_metrics("regressor", [1.0], [1.0], [1.0])


def test_r2_score_constant_labels_are_not_undone_by_rounding() -> None:
    # the float mean of 11 copies of this value differs from it in the last bit
    true = np.full(11, 50.88169261)
    assert r2_score(true, np.zeros(11)) == 0.0
    assert r2_score(true, true.copy()) == 1.0
    assert r2_score([1.0, 5.0, 2.0], [1.0, 0.0, 0.0], sample_weight=[1, 0, 0]) == 1.0
    # SS_tot underflows to 0 although the labels differ
    assert r2_score([6.5e-217, 0.0], [0.0, 0.0]) == 1.0
    assert r2_score([6.5e-217, 0.0], [1.0, 0.0]) == 0.0
