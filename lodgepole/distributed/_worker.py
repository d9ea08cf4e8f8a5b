"""What runs inside a Dask worker: read a part of the train channel, train a round.

A *part* is the slice of the train channel one worker trains on: a list of
shards it reads itself (:class:`FilePart`), or an
:class:`~lodgepole.data.InMemoryChannel` the driver scattered to it. A decoded
:class:`FilePart` is cached in the worker process, keyed by its shards and
the executor session, so later epochs do not read the files again; parts of
other sessions are dropped when a new session's part is read.

Notes
-----
Limitation: within one executor session shards are assumed unchanged; a
file rewritten in place between two trainings on the same executor is not
read again. Use a new executor (session) after changing the data.

A *round* is one worker's share of one synchronisation period: the records of
round ``r`` of ``rounds`` of its part, stepped through in mini-batches exactly
as the local trainer does, starting from the stack the driver sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from lodgepole._types import PredictorType
from lodgepole.data.memory import Batch, InMemoryChannel
from lodgepole.learn._scoring import normalised_labels
from lodgepole.learn._state import RecordWeighting
from lodgepole.learn.candidates import CandidateStack

__all__ = [
    "FilePart",
    "PartMeta",
    "RoundResult",
    "RoundSpec",
    "part_check_labels",
    "part_labels",
    "part_map",
    "part_meta",
    "part_records",
    "part_rows",
    "train_round",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Decoded parts of this worker process, by :attr:`FilePart.key`.
_CACHE: dict[tuple[str, tuple[str, ...], str | None], InMemoryChannel] = {}
#: Records of each shard of a cached part, in part order, by :attr:`FilePart.key`.
_COUNTS: dict[tuple[str, tuple[str, ...], str | None], tuple[int, ...]] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class FilePart:
    """Shards one worker reads straight from their location (path or URL)."""

    shards: tuple[str, ...]
    content_type: str | None = None
    session: str = ""
    #: Name of the channel, for messages (``train``, ``validation``, ``test``).
    channel: str = "train"

    @property
    def key(self) -> tuple[str, tuple[str, ...], str | None]:
        return self.session, self.shards, self.content_type


@dataclass(frozen=True)
class RoundSpec:
    """How a worker steps through its records in one round (as the trainer does)."""

    mini_batch_size: int
    shuffle: bool
    seed: int
    round: int
    rounds: int
    weighting: RecordWeighting
    #: ``(label_mean, label_scale)`` that regression labels are normalised by.
    label_normalisation: tuple[float, float] | None = None

    def loss_labels(self, labels: np.ndarray) -> np.ndarray:
        return normalised_labels(labels, self.label_normalisation)


@dataclass(eq=False)
class RoundResult:
    """A worker's stack after its round, the records it saw and their loss sum."""

    stack: CandidateStack
    loss_sum: np.ndarray
    num_records: int


def _channel(part: FilePart | InMemoryChannel) -> InMemoryChannel:
    """The part's records, read and cached on first use in this process."""
    if isinstance(part, InMemoryChannel):
        return part
    with _CACHE_LOCK:
        cached = _CACHE.get(part.key)
        if cached is None:
            for stale in [k for k in _CACHE if k[0] != part.session]:
                del _CACHE[stale]
                _COUNTS.pop(stale, None)
            cached, counts = _read_part(part)
            _CACHE[part.key] = cached
            _COUNTS[part.key] = counts
            logger.info(
                "part read shards=%d records=%d", len(part.shards), cached.num_records
            )
    return cached


def _read_part(part: FilePart) -> tuple[InMemoryChannel, tuple[int, ...]]:
    """Decode the part's shards one by one; the records and each shard's count.

    The records are those :func:`~lodgepole.data.files.read_files` returns
    for the same shard list; a shard without labels is rejected by name, as
    the driver's streaming channel does.
    """
    from lodgepole.data.files import read_files
    from lodgepole.exceptions import DataFormatError

    features: list[object] = []
    labels: list[np.ndarray] = []
    for shard in part.shards:
        X, y = read_files(shard, content_type=part.content_type)
        if y is None:
            raise DataFormatError(
                f"channel {part.channel!r}: shard {shard!r} carries no labels; "
                "training channels need a label in every record."
            )
        features.append(X)
        labels.append(y)
    widths = {X.shape[1] for X in features}  # type: ignore[attr-defined]
    if len(widths) > 1:
        raise DataFormatError(
            f"channel {part.channel!r}: shards disagree on the feature count: "
            f"{sorted(widths)}."
        )
    counts = tuple(int(X.shape[0]) for X in features)  # type: ignore[attr-defined]
    if any(sp.issparse(X) for X in features):
        merged: object = sp.vstack([sp.csr_matrix(X) for X in features], format="csr")
    else:
        merged = np.concatenate(features)  # type: ignore[arg-type]
    return InMemoryChannel(part.channel, merged, np.concatenate(labels)), counts


@dataclass(frozen=True)
class PartMeta:
    """What the driver needs to know of a part without reading it."""

    #: Records of each shard, in the part's shard order.
    counts: tuple[int, ...]
    feature_dim: int
    is_sparse: bool


def part_meta(part: FilePart) -> PartMeta:
    """Read (and cache) a file part on this worker; its shape, shard by shard."""
    channel = _channel(part)
    return PartMeta(_COUNTS[part.key], channel.feature_dim, channel.is_sparse)


def part_check_labels(
    part: FilePart, predictor_type: PredictorType, num_classes: int
) -> None:
    """Check a part's labels shard by shard, as the local streaming channel does.

    Raises
    ------
    DataFormatError
        Naming the first invalid label's row within its shard, and the shard.
    """
    from lodgepole.exceptions import DataFormatError

    channel = _channel(part)
    start = 0
    for shard, count in zip(part.shards, _COUNTS[part.key], strict=True):
        rows = slice(start, start + count)
        start += count
        try:
            InMemoryChannel(
                part.channel, channel.features[rows], channel.labels[rows]
            ).check_labels(predictor_type, num_classes)
        except DataFormatError as err:
            raise DataFormatError(
                f"{err} (row counted within shard {shard!r})"
            ) from err


def part_rows(
    part: FilePart, rows: np.ndarray | slice
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray]:
    """Features and labels of some rows of a part (row numbers within the part)."""
    channel = _channel(part)
    return channel.features[rows], channel.labels[rows]


def part_map(
    part: FilePart, function: Callable[[Batch], T], size: int, offsets: list[int]
) -> list[list[T]]:
    """``function`` of each run of ``size`` records of each shard of a part.

    ``offsets`` are the channel positions of the part's shards, so each
    :class:`~lodgepole.data.memory.Batch` carries its record's position in
    the channel as a local channel's would. One list of results per shard.
    """
    channel = _channel(part)
    results: list[list[T]] = []
    first = 0
    with threadpool_limits(limits=1, user_api="blas"):
        for count, offset in zip(_COUNTS[part.key], offsets, strict=True):
            shard = []
            for start in range(0, count, size):
                rows = slice(first + start, first + min(start + size, count))
                batch = Batch(
                    channel.features[rows], channel.labels[rows], None, offset + start
                )
                shard.append(function(batch))
            results.append(shard)
            first += count
    return results


def part_labels(part: FilePart) -> np.ndarray:
    """Every label of a part, in part order."""
    return _channel(part).labels


def part_records(part: FilePart | InMemoryChannel) -> int:
    """Read (and cache) a part on this worker; return its number of records."""
    return _channel(part).num_records


def _round_rows(num_records: int, spec: RoundSpec, part_index: int) -> np.ndarray:
    """Row numbers of round ``spec.round``: a contiguous chunk of the epoch order."""
    if spec.shuffle:
        rng = np.random.default_rng([spec.seed, part_index, 0x5AFF])
        order = rng.permutation(num_records)
    else:
        order = np.arange(num_records)
    bounds = np.linspace(0, num_records, spec.rounds + 1).astype(np.int64)
    return order[bounds[spec.round] : bounds[spec.round + 1]]


def train_round(
    part: FilePart | InMemoryChannel,
    stack: CandidateStack,
    spec: RoundSpec,
    part_index: int,
) -> RoundResult:
    """Step ``stack`` through this round's mini-batches of ``part``.

    The stack's running average restarts at the round start, so the
    returned ``stack.average_params`` averages this round's iterates only.
    """
    channel = _channel(part)
    rows = _round_rows(channel.num_records, spec, part_index)
    size = spec.mini_batch_size
    total = np.zeros(stack.num_models)
    stack.start_averaging()
    # One thread per worker process: threaded BLAS only slows mini-batches.
    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, rows.size, size):
            batch: np.ndarray | slice
            if spec.shuffle:
                batch = np.sort(rows[start : start + size])
            else:  # one contiguous run of rows: slice it, a view
                first = int(rows[0])
                batch = slice(first + start, first + min(start + size, rows.size))
            labels = channel.labels[batch]
            weights = None if channel.weights is None else channel.weights[batch]
            total += stack.step(
                channel.features[batch],
                spec.loss_labels(labels),
                spec.weighting(labels, weights),
            )
    return RoundResult(stack, total, int(rows.size))
