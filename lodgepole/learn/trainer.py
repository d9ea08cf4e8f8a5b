"""The training loop: epochs over the train channel for the whole candidate stack.

Order of work (SPEC §3.2): validate hyperparameters and data; fit the scaler
and class weights on a sample; build ``num_models`` candidates; run epochs,
each followed by validation, early stopping and keeping each candidate's best
state; then calibrate (binary), select one candidate, fold the scaler into its
weights and compute the final metrics of every channel.
"""

from __future__ import annotations

import functools
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from lodgepole.__about__ import __version__
from lodgepole._types import PredictorType
from lodgepole.data.memory import InMemoryChannel, as_channel
from lodgepole.exceptions import ConfigError, ConvergenceWarning, DataFormatError
from lodgepole.hyperparameters import Hyperparameters
from lodgepole.learn._scoring import (
    CandidateLosses,
    ModelLosses,
    ModelPredictions,
    normalised_labels,
    sum_candidate_losses,
)
from lodgepole.learn._state import BestStates, RecordWeighting
from lodgepole.learn.candidates import (
    AUTO_NUM_MODELS,
    CandidateConfig,
    CandidateStack,
    candidate_grid,
)
from lodgepole.learn.checkpoint import (
    load_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from lodgepole.learn.class_weights import (
    balanced_class_weights,
    balanced_positive_weight,
)
from lodgepole.learn.early_stopping import EarlyStopping
from lodgepole.learn.losses import make_loss
from lodgepole.learn.optimizers import make_optimizer
from lodgepole.learn.results import EpochReport, TrainingResult
from lodgepole.learn.scaler import Scaler
from lodgepole.learn.selection import calibrate_thresholds
from lodgepole.metrics import compute_metrics
from lodgepole.model import LinearModel

__all__ = ["EpochReport", "Executor", "LocalExecutor", "TrainingResult", "train"]

logger = logging.getLogger(__name__)

#: Records of a streaming channel its final metrics are computed on.
_STREAM_METRICS_SAMPLE = 20_000


def _coerce_hyperparameters(
    values: Mapping[str, object] | Hyperparameters,
) -> Hyperparameters:
    if isinstance(values, Hyperparameters):
        return values
    return Hyperparameters.from_dict(values)


#: Successive halving of candidates starts after this many updates ...
PRUNE_FIRST_UPDATES = 50
#: ... ranks candidates on a sample of this many records ...
PRUNE_SAMPLE = 10_000
#: ... down to this many; later halvings happen at epoch ends only.
PRUNE_FLOOR = 4


class Executor(Protocol):
    """Where the passes over the train channel run.

    :func:`train` calls :meth:`open_channel` once per channel and the
    trainer :meth:`run_epoch` once per epoch; it never knows which executor
    it has. Channels score themselves (``map_chunks``) where their records are.
    """

    def open_channel(
        self, name: str, data: object, *, budget: int | None
    ) -> InMemoryChannel:
        """The channel ``name`` for ``data`` as :func:`train` received it."""

    def run_epoch(self, trainer: _Trainer, epoch: int) -> np.ndarray:
        """Train ``trainer.stack`` one epoch; each candidate's mean objective."""


class LocalExecutor:
    """The default executor: every epoch runs in this process.

    Examples
    --------
    >>> executor = LocalExecutor()
    >>> executor.open_channel("train", (np.eye(2), [0, 1]), budget=None).num_records
    2
    """

    def open_channel(
        self, name: str, data: object, *, budget: int | None
    ) -> InMemoryChannel:
        return as_channel(name, data, budget=budget)

    def run_epoch(self, trainer: _Trainer, epoch: int) -> np.ndarray:
        return trainer.local_epoch(epoch)


class _Trainer:
    """One training run: set-up, epochs, selection. :func:`train` drives it."""

    def __init__(
        self,
        hp: Hyperparameters,
        channels: dict[str, InMemoryChannel],
        callback: Callable[[EpochReport], None] | None,
        *,
        label_names: tuple[str, ...] | None = None,
        prune: bool = True,
        executor: Executor | None = None,
    ) -> None:
        self.executor = LocalExecutor() if executor is None else executor
        self.label_names = label_names
        self.prune = prune
        self.best: BestStates | None = None
        self._chosen = 0
        self._next_prune: float = np.inf
        self._pruning = False
        self.channels = channels
        self.train_channel = channels["train"]
        self.validation = channels.get("validation")
        self.callback = callback
        self.hp = hp.resolved(sparse=self.train_channel.is_sparse)
        self.predictor_type = PredictorType(self.hp.predictor_type)
        self.num_classes = self._num_classes()
        self._check_channels()
        self.loss = make_loss(
            self.hp.loss,
            margin=self.hp.margin,
            huber_delta=self.hp.huber_delta,
            quantile=self.hp.quantile,
            loss_insensitivity=self.hp.loss_insensitivity,
        )
        self.num_outputs = self.loss.num_outputs(self.num_classes)

    # ------------------------------------------------------------- set-up
    def _num_classes(self) -> int:
        if self.predictor_type in (PredictorType.MULTICLASS, PredictorType.MULTILABEL):
            return int(self.hp.num_classes)
        return 2 if self.predictor_type is PredictorType.BINARY else 1

    def _check_channels(self) -> None:
        feature_dim = self.train_channel.feature_dim
        declared = self.hp.feature_dim
        if not self.hp.is_auto("feature_dim") and declared != feature_dim:
            raise DataFormatError(
                f"feature_dim is {declared} but the train channel has "
                f"{feature_dim} features."
            )
        for name, channel in self.channels.items():
            if channel.feature_dim != feature_dim:
                raise DataFormatError(
                    f"channel {name!r} has {channel.feature_dim} features; the "
                    f"train channel has {feature_dim}. Every channel needs the "
                    "same features in the same order."
                )
            channel.check_labels(self.predictor_type, self.num_classes)

    def _scaler(self, sample_X: object, sample_y: np.ndarray) -> Scaler:
        hp = self.hp
        is_regressor = self.predictor_type is PredictorType.REGRESSOR
        return Scaler.fit(
            sample_X,  # type: ignore[arg-type]
            sample_y,
            normalize=bool(hp.normalize_data),
            center=bool(hp.unbias_data),
            normalize_label=is_regressor and bool(hp.normalize_label),
            center_label=is_regressor and bool(hp.unbias_label),
        )

    def _weighting(
        self, sample_y: np.ndarray
    ) -> tuple[RecordWeighting, tuple[float, ...]]:
        hp = self.hp
        class_weights = None
        positive: tuple[float, ...] = (1.0,)
        if (
            self.predictor_type is PredictorType.MULTICLASS
            and hp.balance_multiclass_weights
        ):
            class_weights = balanced_class_weights(sample_y, self.num_classes)
            logger.info(
                "balanced class weights %s", np.round(class_weights, 4).tolist()
            )
        if self.predictor_type is PredictorType.BINARY:
            mult = hp.positive_example_weight_mult
            balanced = balanced_positive_weight(sample_y)
            if mult == "balanced":
                positive = (balanced,)
            elif hp.is_auto("positive_example_weight_mult"):
                positive = (1.0, balanced) if balanced != 1.0 else (1.0,)
            else:
                positive = (float(mult),)
            logger.info("positive example weights %s", positive)
        return RecordWeighting(class_weights, None), positive

    def _configs(self, positive: tuple[float, ...]) -> list[CandidateConfig]:
        hp = self.hp

        def user(name: str) -> float | None:
            return None if hp.is_auto(name) else float(getattr(hp, name))

        num_models = AUTO_NUM_MODELS if hp.is_auto("num_models") else int(hp.num_models)
        return candidate_grid(
            num_models=num_models,
            learning_rate=user("learning_rate"),
            wd=user("wd"),
            l1=user("l1"),
            optimizer=hp.optimizer,
            lr_scheduler_step=int(hp.lr_scheduler_step),
            lr_scheduler_factor=float(hp.lr_scheduler_factor),
            lr_scheduler_minimum_lr=float(hp.lr_scheduler_minimum_lr),
            positive_weights=positive,
            seed=int(hp.seed),
        )

    def build(self, configs: list[CandidateConfig] | None = None) -> None:
        hp = self.hp
        sample = self.train_channel.sample(int(hp.num_point_for_scaler), int(hp.seed))
        self.scaler = self._scaler(sample.features, sample.labels)
        self.weighting, positive = self._weighting(sample.labels)
        self.configs = configs if configs is not None else self._configs(positive)
        if self.predictor_type is PredictorType.BINARY:
            weights = np.asarray([c.positive_weight for c in self.configs], np.float32)
            if np.any(weights != 1.0):
                self.weighting.positive_weights = weights
        self.weighting.calibrate(sample.labels, sample.weights)
        self.stack = CandidateStack(
            self.configs,
            feature_dim=self.train_channel.feature_dim,
            num_outputs=self.num_outputs,
            loss=self.loss,
            optimizer=make_optimizer(
                hp.optimizer, beta_1=hp.beta_1, beta_2=hp.beta_2, momentum=hp.momentum
            ),
            scaler=self.scaler,
            use_bias=bool(hp.use_bias),
            bias_lr_mult=float(hp.bias_lr_mult),
            bias_wd_mult=float(hp.bias_wd_mult),
            use_lr_scheduler=bool(hp.use_lr_scheduler),
            init_method=hp.init_method,
            init_scale=float(hp.init_scale),
            init_sigma=float(hp.init_sigma),
            init_bias=float(hp.init_bias),
        )
        logger.info(
            "training started predictor_type=%s num_models=%d feature_dim=%d "
            "train_records=%d",
            self.predictor_type.value,
            len(self.configs),
            self.train_channel.feature_dim,
            self.train_channel.num_records,
        )

    @property
    def _normalisation(self) -> tuple[float, float] | None:
        """``(label_mean, label_scale)`` of regression labels, else None."""
        if self.predictor_type is not PredictorType.REGRESSOR:
            return None
        return float(self.scaler.label_mean), float(self.scaler.label_scale)

    def _loss_labels(self, labels: np.ndarray) -> np.ndarray:
        return normalised_labels(labels, self._normalisation)

    # ------------------------------------------------------------- epochs
    @functools.cached_property
    def _mini_batch_size(self) -> int:
        size = int(self.hp.mini_batch_size)
        records = self.train_channel.num_records
        if size > records:
            logger.warning(
                "mini_batch_size=%d is larger than the train channel (%d records); "
                "using %d",
                size,
                records,
                records,
            )
            return records
        return size

    def run_epoch(self, epoch: int) -> np.ndarray:
        """Train one epoch; return each candidate's mean training objective."""
        return self.executor.run_epoch(self, epoch)

    def local_epoch(self, epoch: int) -> np.ndarray:
        """:meth:`run_epoch` in this process, with mid-epoch pruning."""
        size = self._mini_batch_size
        total = np.zeros(self.stack.num_models)
        count = 0
        batches = self.train_channel.batches(
            size, shuffle=bool(self.hp.shuffle), seed=int(self.hp.seed) + epoch
        )
        # Mini-batch products are too small for threaded BLAS: its start-up and
        # synchronisation cost more than the work (measured 4x slower on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            for batch in batches:
                weights = self.weighting(batch.labels, batch.weights)
                labels = self._loss_labels(batch.labels)
                total += self.stack.step(batch.features, labels, weights)
                count += batch.num_records
                if self.stack.updates >= self._next_prune:
                    total = total[self._prune()]
        return total / count

    def evaluate(
        self,
        channel: InMemoryChannel,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        *,
        keep_scores: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Weighted mean loss of every candidate on a channel (and the raw scores).

        The chunks are scored where the channel keeps its records (see
        :mod:`lodgepole.learn._scoring`); only loss sums and scores return.
        """
        w_eff, b_eff = self.stack.effective_parameters(weights, bias)
        scorer = CandidateLosses(
            w_eff,
            b_eff,
            self.stack.num_models,
            self.num_outputs,
            self.loss,
            self.weighting,
            self._normalisation,
            keep_scores,
        )
        return sum_candidate_losses(channel.map_chunks(scorer), self.stack.num_models)

    def criterion(
        self,
        objective: np.ndarray,
        scores: np.ndarray | None,
        labels: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """Per-candidate selection value, binary thresholds, and whether to maximise."""
        hp = self.hp
        if self.predictor_type is not PredictorType.BINARY or scores is None:
            return objective, None, False
        name = hp.binary_classifier_model_selection_criteria
        default = np.full(self.stack.num_models, 0.5)
        if name == "loss_function":
            return objective, default, False
        probabilities = self._binary_scores(scores[:, :, 0])
        limit = int(hp.num_calibration_samples)
        calibration = calibrate_thresholds(
            probabilities[:limit],
            labels[:limit],
            name,
            beta=float(hp.f_beta),
            target_recall=float(hp.target_recall),
            target_precision=float(hp.target_precision),
            sample_weight=None if weights is None else weights[:limit],
        )
        return calibration.values, calibration.thresholds, True

    def _binary_scores(self, raw: np.ndarray) -> np.ndarray:
        if self.loss.link == "sigmoid":
            return 0.5 * (1.0 + np.tanh(0.5 * raw.astype(np.float64)))
        return raw.astype(np.float64)

    def fit(self, checkpoint: str | os.PathLike[str] | None = None) -> TrainingResult:
        """Run the epochs, then select; ``checkpoint``: where to save each epoch.

        When ``checkpoint`` names an existing checkpoint file, the run
        resumes after the epoch it recorded (see :mod:`lodgepole.learn.
        checkpoint`); otherwise it starts at epoch 0 and writes it there.
        """
        hp = self.hp
        epochs = int(hp.epochs)
        patience = int(hp.early_stopping_patience)
        stopper: EarlyStopping | None = None
        self.best = BestStates.start(self.stack)
        self._start_pruning()
        history: list[dict[str, float]] = []
        first = 0
        if checkpoint is not None and os.path.exists(checkpoint):
            saved = load_checkpoint(checkpoint)
            stopper = restore_checkpoint(self, saved, os.fspath(checkpoint))
            history, first = saved.history, saved.epoch + 1
            if stopper.should_stop:  # it had stopped early: select now
                first = epochs
        best = self.best
        improved = stopper is not None and stopper.epochs_without_improvement == 0

        for epoch in range(first, epochs):
            started = time.perf_counter()
            self.stack.start_averaging()
            train_objective = self.run_epoch(epoch)
            record = {
                "epoch": float(epoch),
                "train:objective_loss": _best(train_objective),
            }
            # Each epoch's candidate is the average of its iterates over the epoch:
            # it removes most of the mini-batch noise that a fixed step leaves.
            weights, bias = self.stack.average_weights, self.stack.average_bias

            if self.validation is not None:
                objective, scores = self.evaluate(
                    self.validation,
                    weights,
                    bias,
                    keep_scores=self.predictor_type is PredictorType.BINARY,
                )
                values, epoch_thresholds, maximize = self.criterion(
                    objective, scores, self.validation.labels, self.validation.weights
                )
                record["validation:objective_loss"] = _best(objective)
            else:
                values, epoch_thresholds, maximize = train_objective, None, False

            if stopper is None:
                stopper = EarlyStopping(
                    patience, float(hp.early_stopping_tolerance), maximize
                )
            best.update(epoch, values, epoch_thresholds, weights, bias, maximize)
            epoch_value = float(np.nanmax(values) if maximize else np.nanmin(values))
            improved = stopper.update(epoch_value)
            record["early_stopping_criteria"] = epoch_value
            if self.validation is not None:
                leader = best.leader(maximize)
                # Multilabel thresholds are calibrated once, at the end (0.5 here).
                threshold = (
                    None
                    if self.predictor_type is PredictorType.MULTILABEL
                    else float(best.thresholds[leader])
                )
                model = self._model(leader, best, threshold)
                metrics = self._channel_metrics(model, self.validation)
                for name, value in metrics.items():
                    record[f"validation:{name}"] = value
            self._prune_after_epoch(epoch, maximize)

            seconds = time.perf_counter() - started
            history.append(record)
            if checkpoint is not None:  # before the epoch is reported anywhere
                save_checkpoint(checkpoint, self, epoch, stopper, history)
            self._log_epoch(epoch, record, improved, seconds)
            if self.callback is not None:
                report = EpochReport(epoch, epochs, dict(record), improved, seconds)
                self.callback(report)
            if stopper.should_stop:
                logger.info(
                    "early stopping epoch=%d patience=%d best_epoch=%d",
                    epoch,
                    patience,
                    stopper.best_epoch,
                )
                break
        else:
            if stopper is not None and patience <= epochs and improved:
                warnings.warn(
                    ConvergenceWarning(
                        f"training stopped at the epoch cap (epochs={epochs}) "
                        "while the early-stopping criterion was still improving; "
                        "raise epochs to train longer."
                    ),
                    stacklevel=3,
                )

        return self._finish(best, history)

    def _start_pruning(self) -> None:
        """Choose the sample candidates are ranked on and the first prune point."""
        self._next_prune = np.inf
        self._pruning = self.prune and self.stack.num_models > PRUNE_FLOOR
        if not self._pruning:
            return
        source = self.validation or self.train_channel
        sample = source.sample(PRUNE_SAMPLE, int(self.hp.seed) + 1)
        self._prune_channel = InMemoryChannel(
            "sample", sample.features, sample.labels, sample.weights
        )
        per_epoch = -(-self.train_channel.num_records // self._mini_batch_size)
        self._next_prune = max(PRUNE_FIRST_UPDATES, per_epoch // 8)

    def _prune_after_epoch(self, epoch: int, maximize: bool) -> None:
        """After each full epoch from the second on, halve the survivors again.

        Candidates are ranked by their best criterion value so far (the
        validation loss or binary criterion that also selects the final
        model), down to one. Only runs that started with more than
        ``PRUNE_FLOOR`` candidates are pruned.
        """
        count = self.stack.num_models
        if not self._pruning or epoch < 1 or count <= 1:
            return
        keep = (count + 1) // 2
        values = self.best.value
        values = np.where(np.isnan(values), -np.inf if maximize else np.inf, values)
        order = np.argsort(-values if maximize else values, kind="stable")
        survivors = np.sort(order[:keep])
        columns = self.stack.keep(survivors)
        self.best.keep(survivors, columns)
        self.weighting.keep(survivors)
        logger.info("candidates pruned epoch=%d kept=%d of=%d", epoch, keep, count)

    def _prune(self) -> np.ndarray:
        """Successive halving: keep the better half of the candidates.

        At ``PRUNE_FIRST_UPDATES`` updates (or an eighth of the first epoch,
        whichever is later), and every time the number of updates doubles,
        candidates are ranked by the weighted loss of their running average on
        a fixed sample of up to ``PRUNE_SAMPLE`` records (validation records if
        there are any), and the better half is kept, down to ``PRUNE_FLOOR``.
        Most candidates then cost only a fraction of an epoch.

        Returns
        -------
        numpy.ndarray
            Positions of the kept candidates among the previous ones.
        """
        self._next_prune *= 2
        count = self.stack.num_models
        keep = max(PRUNE_FLOOR, (count + 1) // 2)
        if keep >= count:
            self._next_prune = np.inf
            return np.arange(count)
        objective, _ = self.evaluate(
            self._prune_channel, self.stack.average_weights, self.stack.average_bias
        )
        objective = np.where(np.isnan(objective), np.inf, objective)
        survivors = np.sort(np.argsort(objective, kind="stable")[:keep])
        columns = self.stack.keep(survivors)
        self.best.keep(survivors, columns)
        self.weighting.keep(survivors)
        logger.info(
            "candidates pruned update=%d kept=%d of=%d best_sample_loss=%.6g",
            self.stack.updates,
            keep,
            count,
            float(objective[survivors].min()),
        )
        return survivors

    def _finish(
        self, best: BestStates, history: list[dict[str, float]]
    ) -> TrainingResult:
        binary = self.predictor_type is PredictorType.BINARY
        values, thresholds = best.value, best.thresholds
        if binary and self.validation is None:
            # No validation channel: calibrate and select on the training data.
            calibration = self.train_channel.sample(
                int(self.hp.num_calibration_samples), int(self.hp.seed)
            )
            channel = InMemoryChannel(
                "train", calibration.features, calibration.labels, calibration.weights
            )
            objective, scores = self.evaluate(
                channel, best.weights, best.bias, keep_scores=True
            )
            values, found, _ = self.criterion(
                objective, scores, channel.labels, channel.weights
            )
            thresholds = found if found is not None else thresholds
        maximize = binary and self.hp.binary_classifier_model_selection_criteria != (
            "loss_function"
        )
        values = np.where(np.isnan(values), -np.inf if maximize else np.inf, values)
        chosen = int(np.argmax(values) if maximize else np.argmin(values))
        self._chosen = chosen
        threshold: float | tuple[float, ...] = float(thresholds[chosen])
        if self.predictor_type is PredictorType.MULTILABEL:
            threshold = self._label_thresholds(self._model(chosen, best, None))
        model = self._model(chosen, best, threshold)

        metrics = {}
        for name, channel in self.channels.items():
            metrics[name] = {
                "objective_loss": self._objective(model, channel),
                **self._channel_metrics(model, channel),
            }
        config = self.stack.configs[chosen].to_dict()
        config.pop("init_seed")
        index = int(best.ids[chosen])
        logger.info(
            "best model candidate=%d epoch=%d settings=%s",
            index,
            int(best.epoch[chosen]),
            config,
        )
        for name in self.channels:
            logger.info("final metrics channel=%s %s", name, _format(metrics[name]))
        final = self._model(chosen, best, threshold, metrics)
        return TrainingResult(
            model=final,
            metrics=metrics,
            history=history,
            best_epoch=int(best.epoch[chosen]),
            candidate={"index": index, **config},
            hyperparameters=self.hp.to_dict(),
        )

    def _label_thresholds(self, model: LinearModel) -> tuple[float, ...]:
        """Multilabel: each label's threshold, calibrated for the criterion.

        On the validation channel, else on a sample of the train channel, as
        binary thresholds are; ``loss_function`` keeps 0.5 for every label.
        """
        hp = self.hp
        name = hp.binary_classifier_model_selection_criteria
        if name == "loss_function":
            return (0.5,) * self.num_classes
        limit = _calibration_limit(hp)
        if self.validation is not None:
            parts = self.validation.map_chunks(ModelPredictions(model))
            labels = np.concatenate([p[0] for p in parts])[:limit]
            scores = np.concatenate([p[1] for p in parts])[:limit]
            weights = self.validation.weights
        else:
            sample = self.train_channel.sample(limit, int(hp.seed))
            labels, weights = sample.labels, sample.weights
            scores = model.predict(sample.features).score
        weights = None if weights is None else weights[:limit]
        thresholds = []
        for label in range(self.num_classes):
            calibration = calibrate_thresholds(
                scores[:, label : label + 1],
                labels[:, label],
                name,
                beta=float(hp.f_beta),
                target_recall=float(hp.target_recall),
                target_precision=float(hp.target_precision),
                sample_weight=weights,
            )
            thresholds.append(float(calibration.thresholds[0]))
        logger.info("label thresholds calibrated criterion=%s %s", name, thresholds)
        return tuple(thresholds)

    # ------------------------------------------------------------- outputs
    def _model(
        self,
        index: int,
        best: BestStates,
        threshold: float | tuple[float, ...] | None,
        metrics: dict[str, dict[str, float]] | None = None,
    ) -> LinearModel:
        w, b = self.stack.candidate_parameters(index, best.weights, best.bias)
        if self.predictor_type is PredictorType.REGRESSOR:
            scale = np.float32(self.scaler.label_scale)
            w = w * scale
            b = b * scale + np.float32(self.scaler.label_mean)
        thresholded = self.predictor_type in (
            PredictorType.BINARY,
            PredictorType.MULTILABEL,
        )
        return LinearModel(
            predictor_type=self.predictor_type,
            weights=w.astype(np.float32),
            bias=b.astype(np.float32),
            link=self.loss.link,
            threshold=threshold if thresholded else None,
            label_names=self.label_names,
            feature_names=self.train_channel.feature_names,
            hyperparameters=self.hp.to_dict(),
            metrics=metrics or {},
            metadata={
                "lodgepole_version": __version__,
                "candidate": int(best.ids[index]),
                "num_models": self.stack.num_models,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    def _objective(self, model: LinearModel, channel: InMemoryChannel) -> float:
        """Weighted mean training loss of one model on a channel (label units
        normalised as in training)."""
        scorer = ModelLosses(
            model, self.loss, self.weighting, self._normalisation, self._chosen
        )
        sums = channel.map_chunks(scorer)
        total = sum(loss for loss, _ in sums)
        return total / max(sum(weight for _, weight in sums), 1e-30)

    def _channel_metrics(
        self, model: LinearModel, channel: InMemoryChannel
    ) -> dict[str, float]:
        if isinstance(channel, InMemoryChannel):
            prediction = model.predict(channel.features)
            labels = channel.labels
            score, predicted = prediction.score, prediction.predicted_label
        elif channel.name == "train":
            # A streamed train channel is scored on a sample of its records:
            # exact ranking metrics (AUC, dcg) would need every score in memory.
            sample = channel.sample(_STREAM_METRICS_SAMPLE, int(self.hp.seed) + 2)
            prediction = model.predict(sample.features)
            labels = sample.labels
            score, predicted = prediction.score, prediction.predicted_label
        else:
            # Streamed (or worker-held) validation and test channels are scored
            # exactly; only their scores (records x outputs) come back.
            parts = channel.map_chunks(ModelPredictions(model))
            labels = np.concatenate([p[0] for p in parts])
            score = np.concatenate([p[1] for p in parts])
            predicted = (
                None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
            )
        return compute_metrics(
            self.predictor_type,
            labels,
            score,
            predicted,
            num_classes=self.num_classes if self.predictor_type.is_classifier else None,
            beta=float(self.hp.f_beta),
            top_k=min(int(self.hp.accuracy_top_k), max(self.num_classes, 1)),
            sample_weight=channel.weights,
        )

    def _log_epoch(
        self, epoch: int, record: dict[str, float], improved: bool, seconds: float
    ) -> None:
        shown = {k: v for k, v in record.items() if k != "epoch"}
        logger.info(
            "epoch done epoch=%d improved=%s seconds=%.3f %s",
            epoch,
            improved,
            seconds,
            _format(shown),
        )


def _calibration_limit(hp: Hyperparameters) -> int:
    """Rows threshold calibration uses (``num_calibration_samples``)."""
    value = hp.num_calibration_samples
    return 10_000_000 if value == "auto" else int(value)  # type: ignore[call-overload]


def _best(values: np.ndarray) -> float:
    return float(np.nanmin(values))


def _format(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:.6g}" for k, v in metrics.items())


def train(
    hyperparameters: Mapping[str, object] | Hyperparameters,
    train: object,
    validation: object | None = None,
    test: object | None = None,
    *,
    label_names: tuple[str, ...] | list[str] | None = None,
    callback: Callable[[EpochReport], None] | None = None,
    memory_budget: int | None = None,
    executor: Executor | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> TrainingResult:
    """Train a linear learner on in-memory data.

    Parameters
    ----------
    hyperparameters
        Names and values as in SageMaker's Linear Learner (strings or Python
        values), e.g. ``{"predictor_type": "multiclass_classifier",
        "num_classes": 7}``.
    train, validation, test
        Each a tuple ``(features, labels)`` or ``(features, labels, weights)``,
        or an :class:`~lodgepole.data.InMemoryChannel`. Features are a 2-D
        numpy array, a pandas DataFrame or a scipy.sparse matrix.
        ``validation`` drives early stopping, threshold calibration and model
        selection; ``test`` is only scored by the final model.
    label_names
        Optional names of the classes, stored in the model.
    callback
        Called with an :class:`EpochReport` after every epoch.
    memory_budget
        Bytes; a channel given as files larger than this is streamed shard
        by shard instead of loaded (default: 2 GiB, or
        ``$LODGEPOLE_MEMORY_BUDGET``).
    executor
        Where the epochs run: :class:`LocalExecutor` (the default) or, for
        example, ``lodgepole.distributed.DaskExecutor``.
    checkpoint
        A file path: the run's state is written there (atomically) after
        every epoch, and a run given the path of an existing checkpoint
        resumes after the epoch it recorded, with the same hyperparameters
        and data, and ends with the same model as an uninterrupted run.

    Returns
    -------
    TrainingResult
        The model, final metrics per channel and per-epoch history.

    Raises
    ------
    ConfigError
        For an unknown or invalid hyperparameter.
    DataFormatError
        For bad data: labels out of range, NaN, feature counts that differ.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 3)).astype(np.float32)
    >>> y = (X[:, 0] - X[:, 1] > 0).astype(np.float32)
    >>> result = train({"predictor_type": "binary_classifier", "epochs": 3,
    ...                 "num_models": 4, "mini_batch_size": 100}, (X, y))
    >>> result.metrics["train"]["binary_classification_accuracy"] > 0.95
    True
    >>> bool((result.model.predict(X).predicted_label == y).mean() > 0.95)
    True
    """
    hp = _coerce_hyperparameters(hyperparameters)
    executor = LocalExecutor() if executor is None else executor
    channels = {}
    for name, data in (("train", train), ("validation", validation), ("test", test)):
        if data is not None:
            channels[name] = executor.open_channel(name, data, budget=memory_budget)
    names = None if label_names is None else tuple(str(n) for n in label_names)
    trainer = _Trainer(hp, channels, callback, label_names=names, executor=executor)
    if names is not None and len(names) != trainer.num_classes:
        what = "classes" if trainer.predictor_type.is_classifier else "target"
        raise ConfigError(
            f"label_names has {len(names)} names; the model has "
            f"{trainer.num_classes} {what}."
        )
    trainer.build()
    return trainer.fit(checkpoint)
