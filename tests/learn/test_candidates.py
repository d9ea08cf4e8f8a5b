"""The candidate stack: gradients, normalisation folding, L1, bias options, grid."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lodgepole.learn.candidates import (
    AUTO_NUM_MODELS,
    CandidateConfig,
    CandidateStack,
    candidate_grid,
)
from lodgepole.learn.losses import make_loss
from lodgepole.learn.optimizers import SGD
from lodgepole.learn.scaler import Scaler


def _config(lr=0.1, wd=0.0, l1=0.0, seed=0):
    return CandidateConfig(lr, wd, l1, 100, 0.99, 1e-5, 1.0, seed)


def _stack(configs, *, loss="softmax_loss", D=4, K=3, scaler=None, **kwargs):
    return CandidateStack(
        configs,
        feature_dim=D,
        num_outputs=K,
        loss=make_loss(loss),
        optimizer=SGD(),
        scaler=scaler or Scaler.identity(D),
        **kwargs,
    )


def _data(n=64, D=4, K=3, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, D)) * [1, 10, 100, 0.1] + [5, -3, 50, 0]).astype(
        np.float32
    )
    y = rng.integers(0, K, n).astype(np.float32)
    return X, y


def test_stack_gradient_step_matches_finite_differences_of_normalised_objective():
    X, y = _data()
    scaler = Scaler.fit(X, normalize=True, center=True)
    stack = _stack([_config(lr=1.0)], scaler=scaler, bias_lr_mult=1.0)
    stack.weights = stack.weights.astype(np.float64)
    stack.bias = stack.bias.astype(np.float64)
    X64 = X.astype(np.float64)
    Xn = (X64 - scaler.feature_mean) / scaler.feature_scale

    def objective(w, b):
        scores = (Xn @ w + b).reshape(len(y), 1, 3)
        return stack.loss.value(scores, y.astype(np.float64)).mean()

    w0, b0 = stack.weights.copy(), stack.bias.copy()
    numeric = np.zeros_like(w0)
    eps = 1e-6
    for index in np.ndindex(*w0.shape):
        up, down = w0.copy(), w0.copy()
        up[index] += eps
        down[index] -= eps
        numeric[index] = (objective(up, b0) - objective(down, b0)) / (2 * eps)
    stack.step(X64, y.astype(np.float64), np.ones((len(y), 1)))
    # One SGD step with lr 1 moves the weights by minus the gradient.
    np.testing.assert_allclose(w0 - stack.weights, numeric, rtol=1e-4, atol=1e-7)


def test_stack_scores_fold_the_scaler_into_the_weights():
    X, y = _data()
    scaler = Scaler.fit(X, normalize=True, center=True)
    stack = _stack([_config(seed=1), _config(seed=2)], scaler=scaler)
    Xn = (X - scaler.feature_mean) / scaler.feature_scale
    expected = (Xn @ stack.weights + stack.bias).reshape(len(y), 2, 3)
    np.testing.assert_allclose(stack.scores(X), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        stack.scores(sp.csr_matrix(X)), expected, rtol=1e-4, atol=1e-4
    )


def test_stack_l1_proximal_step_zeroes_small_weights():
    X, y = _data()
    stack = _stack(
        [_config(lr=0.1, l1=10.0)], scaler=Scaler.fit(X, normalize=True, center=True)
    )
    stack.step(X, y, np.ones((len(y), 1), np.float32))
    assert np.count_nonzero(stack.weights) == 0


def test_stack_use_bias_false_keeps_bias_at_zero():
    X, y = _data()
    stack = _stack([_config()], use_bias=False, init_bias=0.5)
    for _ in range(3):
        stack.step(X, y, np.ones((len(y), 1), np.float32))
    assert not np.any(stack.bias)


def test_stack_bias_lr_mult_scales_the_bias_step():
    X, y = _data()
    one = _stack([_config(lr=0.01)], bias_lr_mult=1.0)
    ten = _stack([_config(lr=0.01)], bias_lr_mult=10.0)
    for stack in (one, ten):
        stack.step(X, y, np.ones((len(y), 1), np.float32))
    np.testing.assert_allclose(ten.bias, 10 * one.bias, rtol=1e-5)


def test_stack_bias_wd_mult_decays_the_bias():
    X = np.zeros((8, 4), np.float32)
    y = np.zeros(8, np.float32)
    stack = _stack(
        [_config(lr=0.1, wd=1.0)],
        loss="squared_loss",
        K=1,
        init_bias=1.0,
        bias_lr_mult=1.0,
        bias_wd_mult=1.0,
    )
    stack.step(X, y, np.ones((8, 1), np.float32))
    # gradient = 2 * (b - 0) from the loss + wd * b = 3 -> b = 1 - 0.1 * 3
    assert stack.bias[0] == pytest.approx(0.7, rel=1e-5)


@pytest.mark.parametrize(("method", "bound"), [("uniform", 0.5), ("normal", None)])
def test_stack_init_settings(method, bound):
    stack = _stack(
        [_config(seed=3)],
        D=200,
        K=5,
        init_method=method,
        init_scale=0.5,
        init_sigma=2.0,
        init_bias=1.5,
    )
    if bound is not None:
        assert np.abs(stack.weights).max() <= bound
        assert np.abs(stack.weights).max() > 0.45
    else:
        assert stack.weights.std() == pytest.approx(2.0, rel=0.1)
    assert np.all(stack.bias == 1.5)


def test_stack_keep_drops_candidates_and_their_state():
    X, y = _data()
    stack = _stack([_config(seed=s) for s in range(4)])
    stack.step(X, y, np.ones((len(y), 1), np.float32))
    before = stack.candidate_parameters(2)
    stack.keep(np.array([0, 2]))
    assert stack.num_models == 2
    np.testing.assert_array_equal(stack.candidate_parameters(1)[0], before[0])
    stack.step(X, y, np.ones((len(y), 1), np.float32))
    assert stack.scores(X).shape == (len(y), 2, 3)


def test_candidate_grid_varies_only_auto_knobs():
    grid = candidate_grid(
        num_models=AUTO_NUM_MODELS,
        learning_rate=None,
        wd=0.01,
        l1=None,
        optimizer="adam",
        lr_scheduler_step=100,
        lr_scheduler_factor=0.99,
        lr_scheduler_minimum_lr=1e-5,
        seed=7,
    )
    assert len(grid) == AUTO_NUM_MODELS
    assert {c.wd for c in grid} == {0.01}
    assert len({c.learning_rate for c in grid}) >= 5
    assert len({c.l1 for c in grid}) > 1
    assert (grid[0].learning_rate, grid[0].l1) == (0.1, 0.0)
    assert len({(c.learning_rate, c.l1) for c in grid}) == len(grid)


def test_candidate_grid_is_deterministic_and_seeded():
    kwargs = dict(
        num_models=8,
        learning_rate=None,
        wd=None,
        l1=None,
        optimizer="sgd",
        lr_scheduler_step=100,
        lr_scheduler_factor=0.99,
        lr_scheduler_minimum_lr=1e-5,
    )
    assert candidate_grid(**kwargs, seed=1) == candidate_grid(**kwargs, seed=1)
    assert candidate_grid(**kwargs, seed=1) != candidate_grid(**kwargs, seed=2)


def test_candidate_grid_user_values_are_shared_and_extra_models_jittered():
    grid = candidate_grid(
        num_models=3,
        learning_rate=0.02,
        wd=0.0,
        l1=0.0,
        optimizer="adam",
        lr_scheduler_step=100,
        lr_scheduler_factor=0.99,
        lr_scheduler_minimum_lr=1e-5,
        positive_weights=(1.0, 9.0),
    )
    assert grid[0].learning_rate == 0.02
    assert [c.positive_weight for c in grid] == [1.0, 9.0, 1.0]
    assert len({c.init_seed for c in grid}) == 3
