"""Training checkpoints: the whole state of a run after an epoch, in one file.

:func:`save_checkpoint` writes, after every epoch, one ``.npz`` file holding
everything a run needs to go on that :meth:`_Trainer.build` cannot recompute
from the data: the candidate stack's parameters and optimiser state, its
update count and surviving candidates, each candidate's best state, the
early-stopping state, the per-epoch history and the pruning schedule. The
scaler, class weights and candidate settings are rebuilt from the data and
the seed exactly as the first time, so :func:`restore_checkpoint` on a
freshly built trainer continues the run where it stopped and ends with the
model an uninterrupted run would have given.

The file is written under a temporary name in the same folder, flushed to
disk and renamed over the previous checkpoint, so it is always either the
previous epoch's or this one's, never half written. It holds no pickle:
arrays are loaded with ``allow_pickle=False``, the rest is JSON in a string
array.

A fingerprint of the hyperparameters and the train channel's shape is kept,
and a checkpoint of another run is refused.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lodgepole.exceptions import CheckpointError
from lodgepole.learn._state import BestStates
from lodgepole.learn.early_stopping import EarlyStopping

if TYPE_CHECKING:
    from lodgepole.learn.trainer import _Trainer

__all__ = ["CHECKPOINT_FILE", "Checkpoint", "load_checkpoint", "save_checkpoint"]

logger = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoint.npz"
_FORMAT = "lodgepole-checkpoint"
_VERSION = 1
_BEST_FIELDS = ("value", "epoch", "thresholds", "weights", "bias", "ids")


@dataclass
class Checkpoint:
    """A run's state after ``epoch`` (as read from a checkpoint file)."""

    epoch: int
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def history(self) -> list[dict[str, float]]:
        return [dict(record) for record in self.meta["history"]]


def fingerprint(trainer: _Trainer) -> dict[str, Any]:
    """What must match for a checkpoint to belong to this run."""
    return {
        "hyperparameters": trainer.hp.to_dict(),
        "train_records": int(trainer.train_channel.num_records),
        "feature_dim": int(trainer.train_channel.feature_dim),
        "num_outputs": int(trainer.num_outputs),
    }


def save_checkpoint(
    path: str | os.PathLike[str],
    trainer: _Trainer,
    epoch: int,
    stopper: EarlyStopping,
    history: list[dict[str, float]],
) -> Path:
    """Write the run's state after ``epoch`` to ``path``, atomically."""
    stack, best = trainer.stack, trainer.best
    assert best is not None
    optimizer = stack.optimizer
    arrays: dict[str, np.ndarray] = {"params": stack.params}
    for name in _BEST_FIELDS:
        arrays[f"best.{name}"] = np.asarray(getattr(best, name))
    for slot, state in optimizer._state.items():
        for index, array in enumerate(state):
            arrays[f"optimizer.{slot}.{index}"] = array
    meta = {
        "format": _FORMAT,
        "version": _VERSION,
        "epoch": int(epoch),
        "fingerprint": fingerprint(trainer),
        "updates": int(stack.updates),
        "optimizer_steps": {slot: int(t) for slot, t in optimizer._steps.items()},
        "optimizer_slots": {slot: len(s) for slot, s in optimizer._state.items()},
        "stopper": {
            "best": stopper.best,
            "best_epoch": stopper.best_epoch,
            "epochs_without_improvement": stopper.epochs_without_improvement,
            "epoch": stopper._epoch,
            "maximize": stopper.maximize,
        },
        "history": history,
        "next_prune": None if np.isinf(trainer._next_prune) else trainer._next_prune,
        "pruning": bool(trainer._pruning),
    }
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=True))

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.debug("checkpoint written epoch=%d path=%s", epoch, target)
    return target


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint file.

    Raises
    ------
    CheckpointError
        If the file is not a readable lodgepole checkpoint (truncated,
        another format, a newer version).
    """
    source = Path(path)
    try:
        with open(source, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(
            f"{str(source)!r} is not a readable training checkpoint: {err}"
        ) from err
    if meta.get("format") != _FORMAT or meta.get("version") != _VERSION:
        raise CheckpointError(
            f"{str(source)!r} is not a version {_VERSION} lodgepole checkpoint; got "
            f"format {meta.get('format')!r} version {meta.get('version')!r}."
        )
    return Checkpoint(int(meta["epoch"]), meta, arrays)


def restore_checkpoint(
    trainer: _Trainer, checkpoint: Checkpoint, source: object = "checkpoint"
) -> EarlyStopping:
    """Put a freshly built trainer in the state the checkpoint recorded.

    Returns the early-stopping state; the trainer's ``best``, stack,
    weighting and pruning schedule are set in place.

    Raises
    ------
    CheckpointError
        If the checkpoint belongs to a run with other hyperparameters or data.
    """
    expected = fingerprint(trainer)
    found = checkpoint.meta["fingerprint"]
    if found != expected:
        differing = sorted(
            key
            for key in set(expected) | set(found)
            if expected.get(key) != found.get(key)
        )
        raise CheckpointError(
            f"{source!r} belongs to another training run: its {differing} "
            "differ from this run's. Resume with the same hyperparameters and "
            "data, or start a new job."
        )
    arrays, meta = checkpoint.arrays, checkpoint.meta
    ids = arrays["best.ids"].astype(np.int64)
    stack = trainer.stack
    if len(ids) != stack.num_models:
        stack.keep(ids)  # the candidates pruned before the checkpoint
        trainer.weighting.keep(ids)
    stack.params = np.ascontiguousarray(arrays["params"])
    stack.updates = int(meta["updates"])
    optimizer = stack.optimizer
    optimizer._state = {
        slot: tuple(
            np.ascontiguousarray(arrays[f"optimizer.{slot}.{i}"]) for i in range(count)
        )
        for slot, count in meta["optimizer_slots"].items()
    }
    optimizer._steps = {slot: int(t) for slot, t in meta["optimizer_steps"].items()}
    trainer.best = BestStates(
        **{name: arrays[f"best.{name}"].copy() for name in _BEST_FIELDS},
        num_outputs=trainer.num_outputs,
    )
    trainer._pruning = bool(meta["pruning"])
    next_prune = meta["next_prune"]
    trainer._next_prune = np.inf if next_prune is None else float(next_prune)
    state = meta["stopper"]
    stopper = EarlyStopping(
        int(trainer.hp.early_stopping_patience),
        float(trainer.hp.early_stopping_tolerance),
        bool(state["maximize"]),
        best=state["best"],
        best_epoch=int(state["best_epoch"]),
        epochs_without_improvement=int(state["epochs_without_improvement"]),
    )
    stopper._epoch = int(state["epoch"])
    logger.info(
        "training resumed from checkpoint epoch=%d candidates=%d updates=%d",
        checkpoint.epoch,
        stack.num_models,
        stack.updates,
    )
    return stopper
