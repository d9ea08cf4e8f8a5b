"""Tests of lodgepole.learn.losses: values, gradients, stability and statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, log_expit, log_softmax, softmax
from sklearn.metrics import log_loss

from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.learn.losses import (
    LOSSES_BY_PREDICTOR_TYPE,
    HingeLoss,
    Loss,
    QuantileLoss,
    SoftmaxLoss,
    make_loss,
)

# Options chosen so that every kink sits at a distinct, non-default place.
OPTIONS = {
    "margin": 1.5,
    "huber_delta": 0.7,
    "quantile": 0.3,
    "loss_insensitivity": 0.4,
}
ALL_LOSSES = [name for names in LOSSES_BY_PREDICTOR_TYPE.values() for name in names]
REGRESSION_LOSSES = LOSSES_BY_PREDICTOR_TYPE[PredictorType.REGRESSOR]
NUM_CLASSES = 4


def _kinks(name: str) -> list[float]:
    """Where the loss has kinks: residuals e = f - y, or scores f for hinge."""
    eps = OPTIONS["loss_insensitivity"]
    return {
        "hinge_loss": [(1 + OPTIONS["margin"]) / 2, (1 - OPTIONS["margin"]) / 2],
        "absolute_loss": [0.0],
        "quantile_loss": [0.0],
        "eps_insensitive_squared_loss": [-eps, eps],
        "eps_insensitive_absolute_loss": [-eps, 0.0, eps],
    }.get(name, [])


def _random_batch(
    name: str, n: int, num_models: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Float64 scores (n, M, K) and labels, every score at least 0.05 from a kink."""
    if name == "softmax_loss":
        labels = rng.integers(0, NUM_CLASSES, n).astype(np.float64)
        return rng.normal(0, 2, (n, num_models, NUM_CLASSES)), labels
    if name == "multilabel_logistic":  # one 0/1 label per output
        labels = rng.integers(0, 2, (n, NUM_CLASSES)).astype(np.float64)
        return rng.normal(0, 2, (n, num_models, NUM_CLASSES)), labels
    if name in ("logistic", "hinge_loss"):
        labels = rng.integers(0, 2, n).astype(np.float64)
    else:
        labels = rng.normal(0, 2, n)
    offsets = rng.uniform(-3, 3, (n, num_models))
    for kink in _kinks(name):
        near = np.abs(offsets - kink) < 0.05
        offsets[near] += 0.1
    if name == "hinge_loss":
        return offsets[:, :, None], labels
    return (labels[:, None] + offsets)[:, :, None], labels


# ---------------------------------------------------------------------------
# names, links, construction


def test_losses_by_predictor_type_lists_spec_names_with_auto_choice_first() -> None:
    auto = {ptype: names[0] for ptype, names in LOSSES_BY_PREDICTOR_TYPE.items()}
    assert auto == {
        PredictorType.BINARY: "logistic",
        PredictorType.MULTICLASS: "softmax_loss",
        PredictorType.REGRESSOR: "squared_loss",
        PredictorType.MULTILABEL: "multilabel_logistic",
    }
    assert LOSSES_BY_PREDICTOR_TYPE[PredictorType.BINARY] == ("logistic", "hinge_loss")
    assert len(REGRESSION_LOSSES) == 6


@pytest.mark.parametrize(
    ("name", "objective_name", "link"),
    [
        ("logistic", "binary_classification_cross_entropy_objective", "sigmoid"),
        ("hinge_loss", "hinge_loss_objective", "identity"),
        ("softmax_loss", "multiclass_cross_entropy_objective", "softmax"),
        ("squared_loss", "mse_objective", "identity"),
        ("absolute_loss", "absolute_loss_objective", "identity"),
        (
            "eps_insensitive_squared_loss",
            "eps_insensitive_squared_loss_objective",
            "identity",
        ),
        (
            "eps_insensitive_absolute_loss",
            "eps_insensitive_absolute_loss_objective",
            "identity",
        ),
        ("quantile_loss", "quantile_loss_objective", "identity"),
        ("huber_loss", "huber_loss_objective", "identity"),
    ],
)
def test_make_loss_sets_name_objective_and_link(
    name: str, objective_name: str, link: str
) -> None:
    loss = make_loss(name)
    assert isinstance(loss, Loss)
    assert (loss.name, loss.objective_name, loss.link) == (name, objective_name, link)
    assert loss.num_outputs(7) == (7 if name == "softmax_loss" else 1)


def test_make_loss_passes_only_the_options_each_loss_uses() -> None:
    built = {name: make_loss(name, **OPTIONS) for name in ALL_LOSSES}
    assert built["hinge_loss"].margin == 1.5
    assert built["huber_loss"].huber_delta == 0.7
    assert built["quantile_loss"].quantile == 0.3
    assert built["eps_insensitive_absolute_loss"].loss_insensitivity == 0.4
    assert built["eps_insensitive_squared_loss"].loss_insensitivity == 0.4
    assert not hasattr(built["squared_loss"], "quantile")
    assert repr(built["quantile_loss"]) == "QuantileLoss(quantile=0.3)"
    assert make_loss("huber_loss", huber_delta=2) == make_loss(
        "huber_loss", huber_delta=2.0
    )


def test_make_loss_rejects_unknown_name_listing_valid_names() -> None:
    with pytest.raises(
        ConfigError, match=r"loss must be one of .*'softmax_loss'"
    ) as info:
        make_loss("cross_entropy")
    assert all(repr(name) in str(info.value) for name in ALL_LOSSES)
    assert "got 'cross_entropy'" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_make_loss_suggests_close_name_and_explains_auto() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'hinge_loss'"):
        make_loss("hinge")
    with pytest.raises(ConfigError, match=r"Resolve 'auto' first"):
        make_loss("auto")


@pytest.mark.parametrize(
    ("name", "option", "bad"),
    [
        ("hinge_loss", "margin", 0.0),
        ("hinge_loss", "margin", float("nan")),
        ("huber_loss", "huber_delta", -1.0),
        ("quantile_loss", "quantile", 1.0),
        ("quantile_loss", "quantile", 0.0),
        ("quantile_loss", "quantile", True),
        ("eps_insensitive_absolute_loss", "loss_insensitivity", float("inf")),
        ("eps_insensitive_squared_loss", "loss_insensitivity", "0.1"),
    ],
)
def test_make_loss_rejects_out_of_range_option(
    name: str, option: str, bad: object
) -> None:
    with pytest.raises(
        ConfigError, match=rf"^{option} must be a number .* got {bad!r}"
    ):
        make_loss(name, **{option: bad})


def test_softmax_num_outputs_rejects_fewer_than_two_classes() -> None:
    with pytest.raises(ConfigError, match=r"num_classes must be >= 2 .* got 1"):
        SoftmaxLoss().num_outputs(1)
    with pytest.raises(ConfigError, match=r"num_classes must be an integer"):
        SoftmaxLoss().num_outputs(3.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_loss_gradient_matches_central_finite_differences(name: str) -> None:
    rng = np.random.default_rng(ALL_LOSSES.index(name))
    loss = make_loss(name, **OPTIONS)
    scores, labels = _random_batch(name, n=40, num_models=5, rng=rng)
    value, grad = loss.value_and_gradient(scores, labels)
    assert grad.shape == scores.shape

    # loss[i, j] depends on scores[i, j, :] only, so one output column can be
    # perturbed for every row and model at once.
    step = 1e-6
    for k in range(scores.shape[2]):
        up, down = scores.copy(), scores.copy()
        up[:, :, k] += step
        down[:, :, k] -= step
        numeric = (loss.value(up, labels) - loss.value(down, labels)) / (2 * step)
        np.testing.assert_allclose(grad[:, :, k], numeric, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(value, loss.value(scores, labels))


@pytest.mark.parametrize(
    ("name", "scores", "labels", "expected"),
    [
        ("hinge_loss", [1.25, -0.25], [1.0, 0.0], [0.0, 0.0]),
        ("absolute_loss", [2.0], [2.0], [0.0]),
        ("quantile_loss", [-1.0], [-1.0], [0.0]),
        ("eps_insensitive_absolute_loss", [0.4, -0.4, 0.0], [0.0, 0.0, 0.0], [0] * 3),
        ("eps_insensitive_squared_loss", [1.4, 0.6], [1.0, 1.0], [0.0, 0.0]),
        ("huber_loss", [0.7, -0.7], [0.0, 0.0], [0.7, -0.7]),
    ],
)
def test_loss_gradient_at_kink_is_smallest_subgradient(
    name: str, scores: list[float], labels: list[float], expected: list[float]
) -> None:
    loss = make_loss(name, **OPTIONS)
    _, grad = loss.value_and_gradient(np.array(scores)[:, None, None], np.array(labels))
    np.testing.assert_allclose(grad.ravel(), expected, atol=1e-12)


# ---------------------------------------------------------------------------
# values


@pytest.mark.parametrize(
    ("name", "scores", "labels", "expected"),
    [
        # hinge, m = 1.5: label 1 costs max(0, 1.25 - f), label 0 max(0, 0.25 + f)
        ("hinge_loss", [0.0, 2.0, 0.0, -1.0], [1, 1, 0, 0], [1.25, 0.0, 0.25, 0.0]),
        ("squared_loss", [3.0, -1.0], [1.0, 0.5], [4.0, 2.25]),
        ("absolute_loss", [3.0, -1.0], [1.0, 0.5], [2.0, 1.5]),
        # eps = 0.4: e² - 0.16 outside the band
        ("eps_insensitive_squared_loss", [3.0, 0.3, -1.0], [1, 0, 0], [3.84, 0, 0.84]),
        ("eps_insensitive_absolute_loss", [3.0, 0.3, -1.0], [1, 0, 0], [1.6, 0, 0.6]),
        # q = 0.3: 0.3·(y - f) below the label, 0.7·(f - y) above
        ("quantile_loss", [0.0, 2.0], [1.0, 1.0], [0.3, 0.7]),
        # delta = 0.7: e²/2 inside, 0.7·|e| - 0.245 outside
        ("huber_loss", [0.5, -2.0, 0.7], [0.0, 0.0, 0.0], [0.125, 1.155, 0.245]),
        ("logistic", [0.0, np.log(3.0)], [1.0, 0.0], [np.log(2.0), np.log(4.0)]),
    ],
)
def test_loss_value_matches_hand_computation(
    name: str, scores: list[float], labels: list[float], expected: list[float]
) -> None:
    loss = make_loss(name, **OPTIONS)
    value = loss.value(np.array(scores)[:, None, None], np.array(labels, float))
    np.testing.assert_allclose(value.ravel(), expected, rtol=1e-12, atol=1e-15)


def test_softmax_value_and_gradient_match_hand_computation() -> None:
    # probabilities 1/2, 1/3, 1/6 for one row and one model, true class 2
    scores = np.log(np.array([[[3.0, 2.0, 1.0]]]))
    value, grad = SoftmaxLoss().value_and_gradient(scores, np.array([2.0]))
    np.testing.assert_allclose(value, [[np.log(6.0)]], rtol=1e-12)
    np.testing.assert_allclose(grad, [[[1 / 2, 1 / 3, 1 / 6 - 1]]], rtol=1e-12)


def test_logistic_matches_scipy_and_sklearn_log_loss() -> None:
    rng = np.random.default_rng(1)
    f = rng.normal(0, 3, (200, 3))
    labels = rng.integers(0, 2, 200).astype(np.float64)
    loss = make_loss("logistic")
    value, grad = loss.value_and_gradient(f[:, :, None], labels)

    y = labels[:, None]
    reference = -(y * log_expit(f) + (1 - y) * log_expit(-f))
    np.testing.assert_allclose(value, reference, rtol=1e-12)
    np.testing.assert_allclose(grad[:, :, 0], expit(f) - y, rtol=1e-10, atol=1e-15)
    for j in range(3):
        expected = log_loss(labels, expit(f[:, j]))
        assert value[:, j].mean() == pytest.approx(expected, rel=1e-9)


def test_softmax_matches_scipy_and_sklearn_log_loss() -> None:
    rng = np.random.default_rng(2)
    scores = rng.normal(0, 3, (300, 4, NUM_CLASSES))
    labels = rng.integers(0, NUM_CLASSES, 300)
    value, grad = SoftmaxLoss().value_and_gradient(scores, labels.astype(np.float64))

    rows = np.arange(300)
    reference = -log_softmax(scores, axis=2)[rows, :, labels]
    np.testing.assert_allclose(value, reference, rtol=1e-12)
    onehot = np.eye(NUM_CLASSES)[labels][:, None, :]
    np.testing.assert_allclose(grad, softmax(scores, axis=2) - onehot, atol=1e-14)
    for j in range(4):
        proba = softmax(scores[:, j], axis=1)
        expected = log_loss(labels, proba, labels=range(NUM_CLASSES))
        assert value[:, j].mean() == pytest.approx(expected, rel=1e-9)


def test_softmax_uses_axis_reductions_beyond_loop_limit() -> None:
    rng = np.random.default_rng(3)
    num_classes = 50  # above the class count handled by the Python loop
    scores = rng.normal(0, 3, (20, 2, num_classes))
    labels = rng.integers(0, num_classes, 20)
    value, grad = SoftmaxLoss().value_and_gradient(scores, labels.astype(float))
    reference = -log_softmax(scores, axis=2)[np.arange(20), :, labels]
    np.testing.assert_allclose(value, reference, rtol=1e-12)
    np.testing.assert_allclose(grad.sum(axis=2), 0.0, atol=1e-14)


# ---------------------------------------------------------------------------
# shapes, dtypes, stability


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_loss_accepts_non_contiguous_scores(name: str) -> None:
    rng = np.random.default_rng(7)
    loss = make_loss(name, **OPTIONS)
    scores, labels = _random_batch(name, n=10, num_models=3, rng=rng)
    fortran = np.asfortranarray(scores)
    assert not fortran.flags.c_contiguous
    expected_value, expected_grad = loss.value_and_gradient(scores, labels)
    value, grad = loss.value_and_gradient(fortran, labels)
    np.testing.assert_array_equal(value, expected_value)
    np.testing.assert_array_equal(grad, expected_grad)


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_loss_gives_identical_results_for_a_model_copied_into_two_slots(
    name: str,
) -> None:
    rng = np.random.default_rng(4)
    loss = make_loss(name, **OPTIONS)
    scores, labels = _random_batch(name, n=50, num_models=1, rng=rng)
    scores = scores.astype(np.float32)
    stacked = np.concatenate([scores, scores * 3, scores], axis=1)

    single_value, single_grad = loss.value_and_gradient(scores, labels)
    value, grad = loss.value_and_gradient(stacked, labels)
    np.testing.assert_array_equal(value[:, 0], value[:, 2])
    np.testing.assert_array_equal(value[:, [0]], single_value)
    np.testing.assert_array_equal(grad[:, 0], grad[:, 2])
    np.testing.assert_array_equal(grad[:, [0]], single_grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ALL_LOSSES)
def test_loss_preserves_score_dtype_and_leaves_inputs_untouched(
    name: str, dtype: type
) -> None:
    rng = np.random.default_rng(5)
    loss = make_loss(name, **OPTIONS)
    scores, labels = _random_batch(name, n=30, num_models=3, rng=rng)
    scores, labels = scores.astype(dtype), labels.astype(np.float32)
    scores_before, labels_before = scores.copy(), labels.copy()

    value = loss.value(scores, labels)
    both = loss.value_and_gradient(scores, labels)
    assert value.dtype == both[0].dtype == both[1].dtype == dtype
    assert value.shape == (30, 3)
    np.testing.assert_array_equal(scores, scores_before)
    np.testing.assert_array_equal(labels, labels_before)
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(value, both[0], rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ALL_LOSSES)
def test_loss_stays_finite_for_extreme_scores(name: str, dtype: type) -> None:
    loss = make_loss(name)
    num_outputs = loss.num_outputs(3)
    scores = np.full((4, 2, num_outputs), 1e4, dtype=dtype)
    scores[1::2] = -1e4
    if num_outputs > 1:
        scores[:, :, 0] *= -1
    labels = np.array([0.0, 1.0, 1.0, 0.0])
    if name == "multilabel_logistic":  # the same labels for every output
        labels = np.repeat(labels[:, None], num_outputs, axis=1)

    value, grad = loss.value_and_gradient(scores, labels)
    assert np.isfinite(value).all()
    assert np.isfinite(grad).all()
    np.testing.assert_array_equal(value, loss.value(scores, labels))


def test_classification_losses_reach_exact_limits_at_extreme_scores() -> None:
    scores = np.array([1e4, -1e4, 1e4, -1e4], dtype=np.float32)[:, None, None]
    labels = np.array([1.0, 1.0, 0.0, 0.0])
    value, grad = make_loss("logistic").value_and_gradient(scores, labels)
    np.testing.assert_array_equal(value.ravel(), [0.0, 1e4, 1e4, 0.0])
    np.testing.assert_array_equal(grad.ravel(), [0.0, -1.0, 1.0, 0.0])

    scores = np.array([[[1e4, -1e4, 0.0]]], dtype=np.float32)
    value, grad = SoftmaxLoss().value_and_gradient(scores, np.array([1.0]))
    np.testing.assert_array_equal(value, [[2e4]])
    np.testing.assert_array_equal(grad, [[[1.0, -1.0, 0.0]]])


# ---------------------------------------------------------------------------
# statistical properties: the constant minimising the mean loss


def _best_constant(
    name: str, labels: np.ndarray, **options: float
) -> tuple[float, float]:
    """Grid value (one candidate model per grid point) minimising the mean loss."""
    grid = np.linspace(labels.min(), labels.max(), 2001)
    scores = np.broadcast_to(grid, (labels.size, grid.size))[:, :, None]
    mean_loss = make_loss(name, **options).value(scores, labels).mean(axis=0)
    return float(grid[np.argmin(mean_loss)]), float(grid[1] - grid[0])


@pytest.fixture(scope="module")
def skewed_labels() -> np.ndarray:
    return np.random.default_rng(6).exponential(2.0, 1001)


def test_squared_loss_minimiser_is_the_mean(skewed_labels: np.ndarray) -> None:
    best, step = _best_constant("squared_loss", skewed_labels)
    assert abs(best - skewed_labels.mean()) <= step / 2
    assert abs(skewed_labels.mean() - np.median(skewed_labels)) > 10 * step


def test_absolute_loss_minimiser_is_the_median(skewed_labels: np.ndarray) -> None:
    best, step = _best_constant("absolute_loss", skewed_labels)
    assert abs(best - np.median(skewed_labels)) <= step


@pytest.mark.parametrize("quantile", [0.1, 0.3, 0.8])
def test_quantile_loss_minimiser_lies_above_the_label_with_probability_q(
    skewed_labels: np.ndarray, quantile: float
) -> None:
    best, step = _best_constant("quantile_loss", skewed_labels, quantile=quantile)
    expected = np.quantile(skewed_labels, quantile, method="inverted_cdf")
    assert abs(best - expected) <= step
    assert np.mean(skewed_labels < best) == pytest.approx(quantile, abs=0.002)


@pytest.mark.parametrize(
    "name", ["eps_insensitive_squared_loss", "eps_insensitive_absolute_loss"]
)
def test_eps_insensitive_loss_is_zero_exactly_within_epsilon(name: str) -> None:
    loss = make_loss(name, loss_insensitivity=0.25)
    residuals = np.linspace(-1, 1, 81)  # step 0.025: hits ±0.25 exactly
    value, grad = loss.value_and_gradient(residuals[:, None, None], np.zeros(81))
    inside = np.abs(residuals) <= 0.25
    assert inside.sum() == 21
    np.testing.assert_array_equal(value.ravel()[inside], 0.0)
    np.testing.assert_array_equal(grad.ravel()[inside], 0.0)
    assert (value.ravel()[~inside] > 0).all()
    assert (np.sign(grad.ravel()[~inside]) == np.sign(residuals[~inside])).all()


def test_hinge_loss_is_zero_beyond_the_margin_around_one_half() -> None:
    loss = HingeLoss(margin=1.0)
    scores = np.array([1.0, 1.5, 0.0, -0.5])[:, None, None]
    labels = np.array([1.0, 1.0, 0.0, 0.0])
    value, grad = loss.value_and_gradient(scores, labels)
    np.testing.assert_array_equal(value.ravel(), 0.0)
    np.testing.assert_array_equal(grad.ravel(), 0.0)


def test_quantile_loss_gradient_is_one_minus_q_above_and_minus_q_below() -> None:
    _, grad = QuantileLoss(quantile=0.25).value_and_gradient(
        np.array([2.0, -2.0, 1.0])[:, None, None], np.ones(3)
    )
    np.testing.assert_array_equal(grad.ravel(), [0.75, -0.25, 0.0])


# ---------------------------------------------------------------------------
# input errors


@pytest.mark.parametrize("name", ["logistic", "hinge_loss"])
def test_binary_loss_rejects_label_other_than_zero_or_one(name: str) -> None:
    loss = make_loss(name)
    with pytest.raises(DataFormatError, match=rf"{name} labels must be 0 or 1; row 2"):
        loss.value(np.zeros((3, 1, 1)), np.array([0.0, 1.0, -1.0]))


@pytest.mark.parametrize("bad", [4.0, -1.0, 1.5, float("nan")])
def test_softmax_rejects_label_outside_class_range(bad: float) -> None:
    with pytest.raises(
        DataFormatError, match=r"integers in \[0, 3\] .*; row 1 has label"
    ):
        SoftmaxLoss().value_and_gradient(np.zeros((2, 1, 4)), np.array([0.0, bad]))


def test_loss_rejects_scores_and_labels_of_wrong_shape() -> None:
    with pytest.raises(DataFormatError, match=r"shape \(rows, num_models, outputs\)"):
        make_loss("squared_loss").value(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(DataFormatError, match=r"labels of shape \(3,\).*got .*\(4,\)"):
        make_loss("squared_loss").value(np.zeros((3, 2, 1)), np.zeros(4))
    with pytest.raises(DataFormatError, match=r"expects 1 output per model"):
        make_loss("logistic").value(np.zeros((3, 2, 2)), np.zeros(3))


def test_multilabel_logistic_is_the_sum_of_logistic_losses_per_label() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(0, 3, (50, 2, 4))
    labels = rng.integers(0, 2, (50, 4)).astype(np.float64)
    value, grad = make_loss("multilabel_logistic").value_and_gradient(scores, labels)
    logistic = make_loss("logistic")
    for label in range(4):
        _, one_grad = logistic.value_and_gradient(
            scores[:, :, label : label + 1], labels[:, label]
        )
        np.testing.assert_allclose(grad[:, :, label], one_grad[:, :, 0])
    expected = sum(
        logistic.value(scores[:, :, k : k + 1], labels[:, k]) for k in range(4)
    )
    np.testing.assert_allclose(value, expected)
    with pytest.raises(DataFormatError, match=r"row 0, label 1 is 2.0"):
        make_loss("multilabel_logistic").value(scores[:1], np.array([[0, 2, 0, 1]]))
