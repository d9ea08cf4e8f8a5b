"""Channels of the dask executor given as files: answered by the workers.

A :class:`WorkerChannel` is a channel (train, validation or test) of a
:class:`~lodgepole.distributed.DaskExecutor` given as files. The driver never
opens the shards: every question the trainer asks of the channel runs as
tasks on the workers, which read their part of the shards once and keep it
decoded (see :mod:`lodgepole.distributed._worker`).

- ``num_records``, ``feature_dim``, ``is_sparse``: from per-shard metadata
  the workers return when the channel opens (which also reads the parts).
- :meth:`~WorkerChannel.check_labels`: runs on each worker, shard by shard,
  with the local check; the error names the row within its shard and the shard.
- :meth:`~WorkerChannel.sample`: the driver draws the row numbers exactly as
  an in-memory channel of the same records would (a small index array), each
  worker returns its rows and the driver reassembles only the sample. Each
  worker's share is thus proportional to its records and the sample equals
  the local one.
- :meth:`~WorkerChannel.map_chunks` (validation and test losses and
  metrics, the train objective): the map runs on the workers, chunk by chunk
  of each shard; only its results (loss sums, or scores and labels) return,
  and the driver puts them in channel order to reduce them.
- :meth:`~WorkerChannel.batches`: records are fetched from the workers one
  shard at a time, one shard ahead, in the local order; the driver never
  holds more than two shards. Training does not use it.

A worker lost during any of these calls makes the call run once more on the
workers left, with the shards re-assigned (as a training round does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from lodgepole._types import PredictorType
from lodgepole.data.memory import SCORING_CHUNK, Batch, InMemoryChannel, T
from lodgepole.data.stream import StreamingChannel
from lodgepole.distributed._worker import (
    FilePart,
    PartMeta,
    part_check_labels,
    part_labels,
    part_map,
    part_meta,
    part_rows,
)
from lodgepole.exceptions import DataFormatError

if TYPE_CHECKING:
    from lodgepole.distributed.executor import DaskExecutor

__all__ = ["WorkerChannel"]

logger = logging.getLogger(__name__)


class WorkerChannel(StreamingChannel):
    """A train channel whose shards only the Dask workers read.

    Parameters
    ----------
    executor
        The started executor whose workers hold the parts.
    shards
        Shard URLs or paths (manifests already expanded), in channel order.
    content_type
        Content type of every shard; by default from each file name.

    Raises
    ------
    DataFormatError
        When a shard has no labels, shards disagree on the feature count, or
        the channel holds no records.

    Notes
    -----
    Records are in shard order, as in a
    :class:`~lodgepole.data.stream.StreamingChannel` of the same shards;
    the executor gives shard ``g`` to part ``g % parts``.
    """

    def __init__(
        self,
        executor: DaskExecutor,
        shards: list[str],
        content_type: str | None = None,
        *,
        name: str = "train",
    ) -> None:
        # StreamingChannel.__init__ reads every shard here: deliberately not called.
        self.name = name
        self.shards = list(shards)
        self.content_type = content_type
        self._executor = executor
        if not self.shards:
            raise DataFormatError(f"channel {name!r} is empty: it holds no shards.")
        metas: list[PartMeta] = self._on_parts(part_meta)
        count = len(metas)
        counts = np.zeros(len(self.shards), dtype=np.int64)
        for index, meta in enumerate(metas):
            counts[index::count] = meta.counts
        widths = {meta.feature_dim for meta in metas}
        if len(widths) != 1:
            raise DataFormatError(
                f"channel {name!r}: shards disagree on the feature count: "
                f"{sorted(widths)}."
            )
        self.counts = counts
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self._feature_dim = widths.pop()
        self._sparse = any(meta.is_sparse for meta in metas)
        if self.num_records == 0:
            raise DataFormatError(f"channel {name!r} is empty: it holds no records.")
        logger.info(
            "worker channel opened name=%s shards=%d parts=%d records=%d",
            name,
            len(self.shards),
            count,
            self.num_records,
        )

    # ------------------------------------------------------------- tasks
    def _parts(self) -> list[FilePart]:
        """The executor's current parts (re-split after a lost worker)."""
        parts: list[FilePart] = self._executor._channel_parts(self)
        return parts

    def _on_parts(
        self, function: Callable[..., Any], *per_part: list[Any]
    ) -> list[Any]:
        """``function(part, *args)`` on every part's worker; the results in order."""
        return self._executor.retrying(
            f"{getattr(function, '__name__', 'task')} on channel {self.name!r}",
            lambda: self._on_parts_once(function, *per_part),
        )

    def _on_parts_once(
        self, function: Callable[..., Any], *per_part: list[Any]
    ) -> list[Any]:
        parts = self._parts()
        args = [tuple(a[i] for a in per_part) for i in range(len(parts))]
        return self._executor._run_on_parts(function, list(enumerate(parts)), args)

    def _locate(self, shard_index: int, count: int) -> tuple[int, int, int]:
        """Part index, and first and end row within the part, of a shard.

        ``count`` is the number of parts the shards are split over.
        """
        part = shard_index % count
        before = self.counts[part:shard_index:count].sum()
        return part, int(before), int(before + self.counts[shard_index])

    # ------------------------------------------------------------- channel
    @property
    def labels(self) -> np.ndarray:
        """All labels in channel order (one float per record)."""
        return self._executor.retrying(
            f"reading the labels of channel {self.name!r}", self._labels_once
        )

    def _labels_once(self) -> np.ndarray:
        parts = self._parts()
        count = len(parts)
        per_part = self._executor._run_on_parts(
            part_labels, list(enumerate(parts)), [()] * count
        )
        pieces = []
        for index in range(len(self.shards)):
            _, start, end = self._locate(index, count)
            pieces.append(per_part[index % count][start:end])
        return np.concatenate(pieces)

    def check_labels(self, predictor_type: PredictorType, num_classes: int) -> None:
        """Check every shard's labels on its worker; the error names shard and row."""
        count = len(self._parts())
        self._on_parts(
            part_check_labels, [predictor_type] * count, [num_classes] * count
        )

    def map_chunks(
        self, function: Callable[[Batch], T], size: int = SCORING_CHUNK
    ) -> list[T]:
        """``function`` of each run of ``size`` records of each shard, on the workers.

        Runs never cross a shard boundary (unlike a local channel's); the
        results come back in channel order.
        """
        return self._executor.retrying(
            f"scoring channel {self.name!r}",
            lambda: self._map_chunks_once(function, size),
        )

    def _map_chunks_once(self, function: Callable[[Batch], T], size: int) -> list[T]:
        parts = self._parts()
        count = len(parts)
        offsets = [
            [int(self.offsets[g]) for g in range(p, len(self.shards), count)]
            for p in range(count)
        ]
        args = [(function, size, offsets[p]) for p in range(count)]
        per_part = self._executor._run_on_parts(part_map, list(enumerate(parts)), args)
        results: list[T] = []
        for index in range(len(self.shards)):
            results.extend(per_part[index % count][index // count])
        return results

    def _load(self, shard: str) -> InMemoryChannel:
        """One shard's records, fetched from the worker holding it."""
        return self._executor.retrying(
            f"fetching shard {shard!r}", lambda: self._load_once(shard)
        )

    def _load_once(self, shard: str) -> InMemoryChannel:
        parts = self._parts()
        part, start, end = self._locate(self.shards.index(shard), len(parts))
        (result,) = self._executor._run_on_parts(
            part_rows, [(part, parts[part])], [(slice(start, end),)]
        )
        features, labels = result
        return InMemoryChannel(self.name, features, labels)

    def sample(self, size: int, seed: int) -> Batch:
        """The records an in-memory channel of the same data would sample.

        Only the sampled records travel: each worker returns its own rows.
        """
        return self._executor.retrying(
            f"sampling channel {self.name!r}", lambda: self._sample_once(size, seed)
        )

    def _sample_once(self, size: int, seed: int) -> Batch:
        from lodgepole.learn.scaler import sample_rows

        rows = sample_rows(self.num_records, size, seed)
        parts = self._parts()
        count = len(parts)
        wanted: list[list[np.ndarray]] = [[] for _ in range(count)]
        places: list[list[np.ndarray]] = [[] for _ in range(count)]
        for index in range(len(self.shards)):
            low, high = self.offsets[index], self.offsets[index + 1]
            inside = np.flatnonzero((rows >= low) & (rows < high))
            if inside.size:
                part, start, _ = self._locate(index, count)
                wanted[part].append(rows[inside] - low + start)
                places[part].append(inside)
        used = [p for p in range(count) if wanted[p]]
        results = self._executor._run_on_parts(
            part_rows,
            [(p, parts[p]) for p in used],
            [(np.concatenate(wanted[p]),) for p in used],
        )
        features = [r[0] for r in results]
        labels = np.concatenate([r[1] for r in results])
        order = np.argsort(np.concatenate([np.concatenate(places[p]) for p in used]))
        if sp.issparse(features[0]):
            X: object = sp.vstack(features, format="csr")[order]
        else:
            X = np.concatenate(features)[order]
        return Batch(X, labels[order], None, 0)  # type: ignore[arg-type]
