"""The candidate stack: ``num_models`` linear models trained side by side.

All candidates share every pass over the data. Their weights sit side by side
in one matrix ``W`` of shape ``(feature_dim, num_models * num_outputs)``, so a
mini-batch costs two fused matrix products (``X @ W`` and ``X.T @ G``) whatever
the number of candidates, plus element-wise work proportional to it.

Normalisation is folded in rather than applied: the stack keeps the weights of
the model on normalised features ``x' = (x - mean) / scale`` but multiplies the
raw batch by ``W / scale``. The data is never copied or densified.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from lodgepole.learn.losses import Loss
from lodgepole.learn.optimizers import Optimizer
from lodgepole.learn.scaler import Scaler
from lodgepole.learn.schedule import scheduled_learning_rate

__all__ = [
    "AUTO_NUM_MODELS",
    "DEFAULT_LEARNING_RATE",
    "CandidateConfig",
    "CandidateStack",
    "candidate_grid",
]

logger = logging.getLogger(__name__)

#: Number of candidates trained when ``num_models`` is ``auto``.
AUTO_NUM_MODELS = 32

#: The learning rate ``auto`` starts from, per optimiser (SPEC §2.4).
DEFAULT_LEARNING_RATE = {"adam": 0.1, "rmsprop": 0.1, "sgd": 0.05}
DEFAULT_WD = 1e-4
DEFAULT_L1 = 0.0

# The values other candidates draw from, for knobs left at ``auto``.
_LR_MULTIPLIERS = (1.0, 0.3, 0.1, 0.03, 0.01)
_WD_VALUES = (1e-4, 0.0, 1e-6, 1e-5, 1e-3)
_L1_VALUES = (0.0, 1e-6, 1e-5, 1e-4)


@dataclass(frozen=True)
class CandidateConfig:
    """Settings in which one candidate model differs from the others."""

    learning_rate: float
    wd: float
    l1: float
    lr_scheduler_step: int
    lr_scheduler_factor: float
    lr_scheduler_minimum_lr: float
    positive_weight: float = 1.0
    init_seed: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def candidate_grid(
    *,
    num_models: int,
    learning_rate: float | None,
    wd: float | None,
    l1: float | None,
    optimizer: str,
    lr_scheduler_step: int,
    lr_scheduler_factor: float,
    lr_scheduler_minimum_lr: float,
    positive_weights: tuple[float, ...] = (1.0,),
    seed: int = 0,
) -> list[CandidateConfig]:
    """Build the candidate settings: candidate 0 uses the defaults, others vary.

    ``None`` means the user left the knob at ``auto``: only those knobs vary
    across candidates; values the user gave are shared by every candidate.
    Candidates beyond the first are drawn without replacement from the grid of
    learning-rate multipliers, ``wd`` and ``l1`` values, in an order fixed by
    ``seed``; when the grid is exhausted, learning rates are jittered.

    Examples
    --------
    >>> grid = candidate_grid(num_models=3, learning_rate=None, wd=None, l1=0.0,
    ...                       optimizer="adam", lr_scheduler_step=100,
    ...                       lr_scheduler_factor=0.99, lr_scheduler_minimum_lr=1e-5)
    >>> (grid[0].learning_rate, grid[0].wd, grid[0].l1)
    (0.1, 0.0001, 0.0)
    >>> len({(c.learning_rate, c.wd) for c in grid})
    3
    """
    base_lr = (
        DEFAULT_LEARNING_RATE[optimizer] if learning_rate is None else learning_rate
    )
    lr_values = (
        [base_lr * m for m in _LR_MULTIPLIERS] if learning_rate is None else [base_lr]
    )
    wd_values = list(_WD_VALUES) if wd is None else [wd]
    l1_values = list(_L1_VALUES) if l1 is None else [l1]
    base = (
        base_lr,
        DEFAULT_WD if wd is None else wd,
        DEFAULT_L1 if l1 is None else l1,
    )

    rng = np.random.default_rng([seed, 0xCA4D])
    others = [
        c for c in itertools.product(lr_values, wd_values, l1_values) if c != base
    ]
    # Favour diversity in the learning rate first: it matters most for convergence.
    rng.shuffle(others)
    others.sort(key=lambda c: 0 if c[1:] == base[1:] else 1)
    settings = [base, *others]
    while len(settings) < num_models:
        lr, wd_, l1_ = settings[len(settings) % max(len(settings), 1)]
        settings.append((float(lr * np.exp(rng.uniform(-1.0, 1.0))), wd_, l1_))

    configs = []
    for index in range(num_models):
        lr, wd_, l1_ = settings[index]
        configs.append(
            CandidateConfig(
                learning_rate=float(lr),
                wd=float(wd_),
                l1=float(l1_),
                lr_scheduler_step=lr_scheduler_step,
                lr_scheduler_factor=lr_scheduler_factor,
                lr_scheduler_minimum_lr=lr_scheduler_minimum_lr,
                positive_weight=positive_weights[index % len(positive_weights)],
                init_seed=int(
                    np.random.SeedSequence([seed, index]).generate_state(1)[0]
                ),
            )
        )
    return configs


def _init_weights(
    config: CandidateConfig,
    shape: tuple[int, int],
    *,
    init_method: str,
    init_scale: float,
    init_sigma: float,
) -> np.ndarray:
    rng = np.random.default_rng(config.init_seed)
    if init_method == "normal":
        return rng.normal(0.0, init_sigma, size=shape).astype(np.float32)
    return rng.uniform(-init_scale, init_scale, size=shape).astype(np.float32)


class CandidateStack:
    """Parameters, optimiser state and update rule of all candidate models.

    Parameters
    ----------
    configs
        One :class:`CandidateConfig` per candidate.
    feature_dim, num_outputs
        Shape of each candidate's weight matrix.
    loss
        The training loss.
    optimizer
        Optimiser shared by all candidates (its state is per coordinate).
    scaler
        Feature normalisation folded into the forward and backward pass.
    use_bias, bias_lr_mult, bias_wd_mult, use_lr_scheduler
        As the hyperparameters of the same names.
    init_method, init_scale, init_sigma, init_bias
        Initial weights, as the hyperparameters of the same names.
    """

    def __init__(
        self,
        configs: list[CandidateConfig],
        *,
        feature_dim: int,
        num_outputs: int,
        loss: Loss,
        optimizer: Optimizer,
        scaler: Scaler,
        use_bias: bool = True,
        bias_lr_mult: float = 10.0,
        bias_wd_mult: float = 0.0,
        use_lr_scheduler: bool = True,
        init_method: str = "uniform",
        init_scale: float = 0.07,
        init_sigma: float = 0.01,
        init_bias: float = 0.0,
    ) -> None:
        self.configs = list(configs)
        self.num_models = len(configs)
        self.feature_dim = feature_dim
        self.num_outputs = num_outputs
        self.loss = loss
        self.optimizer = optimizer
        self.use_bias = use_bias
        self.bias_lr_mult = bias_lr_mult
        self.bias_wd_mult = bias_wd_mult
        self.use_lr_scheduler = use_lr_scheduler
        self.updates = 0

        K = num_outputs
        blocks = [
            _init_weights(
                c,
                (feature_dim, K),
                init_method=init_method,
                init_scale=init_scale,
                init_sigma=init_sigma,
            )
            for c in configs
        ]
        # Weights and bias live in one array, the bias as its last row, so the
        # optimiser, weight decay and averaging each take one pass per update.
        bias = np.full((1, self.num_models * K), init_bias if use_bias else 0.0)
        self.params = np.ascontiguousarray(
            np.vstack([np.concatenate(blocks, axis=1), bias]), dtype=np.float32
        )

        self._mean = scaler.feature_mean.astype(np.float32)
        self._inv_scale = (1.0 / scaler.feature_scale).astype(np.float32)
        self._centred = bool(np.any(self._mean != 0))

        self._base_lr = np.asarray([c.learning_rate for c in configs])
        self._lr_step = np.asarray([c.lr_scheduler_step for c in configs])
        self._lr_factor = np.asarray([c.lr_scheduler_factor for c in configs])
        self._lr_min = np.asarray([c.lr_scheduler_minimum_lr for c in configs])
        self._wd_models = np.asarray([c.wd for c in configs])
        self._l1_models = np.asarray([c.l1 for c in configs])
        self.positive_weights = np.asarray(
            [c.positive_weight for c in configs], np.float32
        )
        self.average_params: np.ndarray | None = None
        self._refresh_settings()

    # ------------------------------------------------------------------ views
    @property
    def weights(self) -> np.ndarray:
        """``(feature_dim, num_models * K)`` weights on normalised features (a view)."""
        return self.params[:-1]

    @weights.setter
    def weights(self, value: np.ndarray) -> None:
        self.params = np.ascontiguousarray(np.vstack([value, self.params[-1:]]))

    @property
    def bias(self) -> np.ndarray:
        """``(num_models * K,)`` bias (a view)."""
        return self.params[-1]

    @bias.setter
    def bias(self, value: np.ndarray) -> None:
        self.params = np.ascontiguousarray(np.vstack([self.params[:-1], value]))

    @property
    def average_weights(self) -> np.ndarray:
        assert self.average_params is not None, "call start_averaging() first"
        return self.average_params[:-1]

    @property
    def average_bias(self) -> np.ndarray:
        assert self.average_params is not None, "call start_averaging() first"
        return self.average_params[-1]

    def _refresh_settings(self) -> None:
        """Per-coordinate weight decay and L1 arrays, and the learning-rate cache."""
        K = self.num_outputs
        wd = np.repeat(self._wd_models, K).astype(np.float32)
        self._wd = np.vstack(
            [np.broadcast_to(wd, (self.feature_dim, wd.size)), wd * self.bias_wd_mult]
        ).astype(np.float32)
        l1 = np.repeat(self._l1_models, K).astype(np.float32)
        self._l1 = np.vstack(
            [np.broadcast_to(l1, (self.feature_dim, l1.size)), np.zeros_like(l1)]
        ).astype(np.float32)
        self._has_l1 = bool(np.any(l1 > 0))
        bias_mult = self.bias_lr_mult if self.use_bias else 0.0
        self._row_lr_mult = np.ones((self.feature_dim + 1, 1), np.float32)
        self._row_lr_mult[-1] = bias_mult
        self._lr_cache: tuple[int, np.ndarray] | None = None

    # ------------------------------------------------------------------ forward
    def effective_parameters(
        self, weights: np.ndarray | None = None, bias: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weights and bias that act on raw (unnormalised) features."""
        weights = self.weights if weights is None else weights
        bias = self.bias if bias is None else bias
        w_eff = weights * self._inv_scale[:, None]
        b_eff = bias - self._mean @ w_eff if self._centred else bias.copy()
        return w_eff, b_eff.astype(w_eff.dtype)

    def scores(
        self,
        X: np.ndarray | sp.csr_matrix,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
    ) -> np.ndarray:
        """Raw scores of every candidate, shape ``(n, num_models, num_outputs)``."""
        w_eff, b_eff = self.effective_parameters(weights, bias)
        out = np.asarray(X @ w_eff)
        out += b_eff
        return out.reshape(X.shape[0], self.num_models, self.num_outputs)

    # ------------------------------------------------------------------ update
    def learning_rates(self) -> np.ndarray:
        """Current learning rate of each candidate."""
        return scheduled_learning_rate(
            self._base_lr,
            self.updates,
            step=self._lr_step,
            factor=self._lr_factor,
            minimum=self._lr_min,
            enabled=self.use_lr_scheduler,
        )

    def _learning_rate_matrix(self) -> np.ndarray:
        """``(feature_dim + 1, columns)`` rates, recomputed only when they change."""
        key = int(np.sum(self.updates // self._lr_step)) if self.use_lr_scheduler else 0
        if self._lr_cache is None or self._lr_cache[0] != key:
            per_column = np.repeat(self.learning_rates(), self.num_outputs)
            matrix = (self._row_lr_mult * per_column[None, :]).astype(np.float32)
            self._lr_cache = (key, matrix)
        return self._lr_cache[1]

    def step(
        self,
        X: np.ndarray | sp.csr_matrix,
        labels: np.ndarray,
        row_weights: np.ndarray | None,
    ) -> np.ndarray:
        """One optimiser update of every candidate on one mini-batch.

        Parameters
        ----------
        X
            The mini-batch, ``(n, feature_dim)``, raw features.
        labels
            Labels as the loss expects them (already normalised for regressors).
        row_weights
            ``(n, 1)`` or ``(n, num_models)`` loss weights, already divided by
            the expected weight so that their mean is about 1; ``None`` when
            every record weighs 1.

        Returns
        -------
        numpy.ndarray
            Sum over the batch of each candidate's weighted loss, before the update.
        """
        n = X.shape[0]
        w_eff, b_eff = self.effective_parameters()
        loss, grad = self._gradient(X, labels, row_weights, w_eff, b_eff, 1.0 / n)
        grad_w = grad[:-1]
        if self._centred:
            grad_w -= np.outer(self._mean, grad[-1])
        grad_w *= self._inv_scale[:, None]
        grad += self._wd * self.params

        lr = self._learning_rate_matrix()
        step = self.optimizer.step("params", self.params, grad, lr)
        if self._has_l1:
            _soft_threshold(self.params, step * self._l1)
        self.updates += 1
        self._accumulate_average()
        return loss

    def _gradient(
        self,
        X: np.ndarray | sp.csr_matrix,
        labels: np.ndarray,
        row_weights: np.ndarray | None,
        w_eff: np.ndarray,
        b_eff: np.ndarray,
        scale: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weighted loss sums, and ``[X.T @ G; column sums of G]`` for some rows."""
        n = X.shape[0]
        scores = np.asarray(X @ w_eff)
        scores += b_eff
        scores = scores.reshape(n, self.num_models, self.num_outputs)
        loss, grad = self.loss.value_and_gradient(scores, labels)
        if row_weights is None:
            grad *= scores.dtype.type(scale)
        else:
            loss *= row_weights
            grad *= (row_weights * scores.dtype.type(scale))[:, :, None]
        grad = grad.reshape(n, self.num_models * self.num_outputs)
        out = np.empty((self.feature_dim + 1, grad.shape[1]), dtype=grad.dtype)
        out[:-1] = X.T @ grad
        out[-1] = np.ones(n, dtype=grad.dtype) @ grad
        return loss.sum(axis=0), out

    def keep(self, models: np.ndarray) -> np.ndarray:
        """Keep only the candidates at positions ``models``; return their columns.

        Parameters, optimiser state and per-candidate settings of the others
        are dropped, so later mini-batches cost less.
        """
        models = np.asarray(models, dtype=np.int64)
        K = self.num_outputs
        columns = (models[:, None] * K + np.arange(K)[None, :]).ravel()
        self.configs = [self.configs[i] for i in models]
        self.num_models = len(self.configs)
        self.params = np.ascontiguousarray(self.params[:, columns])
        if self.average_params is not None:
            self.average_params = np.ascontiguousarray(self.average_params[:, columns])
        self.optimizer.keep_columns(columns)
        self._base_lr = self._base_lr[models]
        self._lr_step = self._lr_step[models]
        self._lr_factor = self._lr_factor[models]
        self._lr_min = self._lr_min[models]
        self._wd_models = self._wd_models[models]
        self._l1_models = self._l1_models[models]
        self.positive_weights = self.positive_weights[models]
        self._refresh_settings()
        return columns

    # ------------------------------------------------------------------ averaging
    def start_averaging(self) -> None:
        """Start a fresh running average of the parameters (at each epoch start)."""
        self._average_count = 0
        self.average_params = self.params.copy()

    def _accumulate_average(self) -> None:
        if self.average_params is None:
            return
        self._average_count += 1
        rate = self.params.dtype.type(1.0 / self._average_count)
        self.average_params += rate * (self.params - self.average_params)

    # ------------------------------------------------------------------ views
    def candidate_parameters(
        self,
        index: int,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Weights ``(feature_dim, K)`` and bias ``(K,)`` of one candidate."""
        w_eff, b_eff = self.effective_parameters(weights, bias)
        K = self.num_outputs
        cols = slice(index * K, (index + 1) * K)
        return w_eff[:, cols].copy(), b_eff[cols].copy()


def _soft_threshold(weights: np.ndarray, amount: np.ndarray) -> None:
    """Proximal step of the L1 penalty, in place: shrink towards 0 by ``amount``."""
    magnitude = np.abs(weights)
    magnitude -= amount
    np.maximum(magnitude, 0.0, out=magnitude)
    np.copysign(magnitude, weights, out=weights)
