"""Optimisers and the learning-rate schedule against plain reference formulas."""

from __future__ import annotations

import numpy as np
import pytest

from lodgepole.exceptions import ConfigError
from lodgepole.learn.optimizers import SGD, Adam, RMSProp, make_optimizer
from lodgepole.learn.schedule import scheduled_learning_rate


def _gradients(steps: int, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for _ in range(steps)]


def test_adam_matches_reference_formula_with_per_candidate_rates():
    lr = np.array([[0.1, 0.01, 0.001, 0.5]])
    param = np.ones((3, 4))
    reference = param.copy()
    m = np.zeros_like(param)
    v = np.zeros_like(param)
    optimizer = Adam(beta_1=0.8, beta_2=0.95)
    for t, grad in enumerate(_gradients(5), start=1):
        optimizer.step("w", param, grad.copy(), lr)
        m = 0.8 * m + 0.2 * grad
        v = 0.95 * v + 0.05 * grad**2
        m_hat, v_hat = m / (1 - 0.8**t), v / (1 - 0.95**t)
        reference -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(param, reference, rtol=1e-6)


def test_sgd_momentum_matches_heavy_ball():
    param = np.zeros(4)
    reference = param.copy()
    velocity = np.zeros(4)
    optimizer = SGD(momentum=0.9)
    for grad in _gradients(6, shape=(4,)):
        optimizer.step("w", param, grad.copy(), 0.05)
        velocity = 0.9 * velocity + grad
        reference -= 0.05 * velocity
    np.testing.assert_allclose(param, reference, rtol=1e-12)


def test_rmsprop_matches_reference():
    param = np.zeros(4)
    reference = param.copy()
    mean_square = np.zeros(4)
    optimizer = RMSProp(rho=0.9)
    for grad in _gradients(6, shape=(4,)):
        optimizer.step("w", param, grad.copy(), 0.01)
        mean_square = 0.9 * mean_square + 0.1 * grad**2
        reference -= 0.01 * grad / (np.sqrt(mean_square) + 1e-8)
    np.testing.assert_allclose(param, reference, rtol=1e-10)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_optimizers_minimise_a_quadratic(name):
    target = np.array([3.0, -2.0, 0.5])
    param = np.zeros(3)
    optimizer = make_optimizer(name, momentum=0.5)
    for _ in range(2000):
        optimizer.step("w", param, 2 * (param - target), 0.01)
    np.testing.assert_allclose(param, target, atol=0.05)


def test_optimizer_state_is_kept_per_slot_and_can_drop_columns():
    optimizer = Adam()
    w = np.zeros((2, 4))
    b = np.zeros(4)
    optimizer.step("weights", w, np.ones((2, 4)), 0.1)
    optimizer.step("bias", b, np.ones(4), 0.1)
    optimizer.keep_columns(np.array([1, 3]))
    state = optimizer.get_state()
    assert state["weights.0"].shape == (2, 2)
    assert state["bias.1"].shape == (2,)


def test_make_optimizer_rejects_unknown_name():
    with pytest.raises(ConfigError, match="optimizer must be one of"):
        make_optimizer("adagrad")


def test_schedule_decays_every_step_and_stops_at_the_floor():
    rates = [
        float(
            scheduled_learning_rate(
                np.array([0.1]), t, step=10, factor=0.5, minimum=0.02
            )[0]
        )
        for t in (0, 9, 10, 25, 100)
    ]
    assert rates == pytest.approx([0.1, 0.1, 0.05, 0.025, 0.02])


def test_schedule_disabled_keeps_base_rate():
    rate = scheduled_learning_rate(
        np.array([0.3, 0.1]), 10_000, step=1, factor=0.5, minimum=1e-5, enabled=False
    )
    assert rate.tolist() == [0.3, 0.1]


def test_schedule_floor_never_raises_a_small_base_rate():
    rate = scheduled_learning_rate(
        np.array([1e-6]), 0, step=1, factor=0.5, minimum=1e-5
    )
    assert rate.tolist() == [1e-6]
