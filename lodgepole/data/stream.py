"""Streaming channels: shards decoded one at a time, for data larger than memory.

A :class:`StreamingChannel` keeps only the shard list and per-shard record
counts in memory. :meth:`~StreamingChannel.batches` decodes the next shard in
a background thread while the current one is consumed, so at most two
decoded shards (plus one partial mini-batch) are held at once; rows left
over at the end of a shard start the next mini-batch, so the mini-batches
are exactly those of the same records held in one array. With ``shuffle``
the shard order and the records inside each shard are permuted from the
seed. :meth:`~StreamingChannel.sample` draws the same records as an
in-memory channel of the same data would.

Costs: opening the channel reads every shard once to count records and
check labels; each epoch reads every shard again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

from lodgepole._types import PredictorType
from lodgepole.data.files import agreed_names
from lodgepole.data.memory import SCORING_CHUNK, Batch, InMemoryChannel, T
from lodgepole.exceptions import DataFormatError

__all__ = ["StreamingChannel"]

logger = logging.getLogger(__name__)

_DONE = object()


class StreamingChannel:
    """A channel read shard by shard from files or URLs.

    Parameters
    ----------
    name
        Channel name.
    shards
        Shard URLs or paths, read in this order (see
        :func:`lodgepole.data.files.list_shards`).
    content_type
        Content type of every shard; by default from each file name.
    """

    weights = None
    feature_names = None

    def __init__(
        self, name: str, shards: list[str], content_type: str | None = None
    ) -> None:
        from lodgepole.data.record_set import MANIFEST_NAME, manifest_shards

        self.name = name
        self.shards = [
            part
            for shard in shards
            for part in (
                manifest_shards(shard) if shard.endswith(MANIFEST_NAME) else [shard]
            )
        ]
        self.content_type = content_type
        counts = []
        widths = set()
        names = []
        sparse = False
        for shard in self.shards:
            features, labels, shard_names = self._read_named(shard)
            names.append(shard_names)
            if labels is None:
                raise DataFormatError(
                    f"channel {name!r}: shard {shard!r} carries no labels; "
                    "training channels need a label in every record."
                )
            counts.append(features.shape[0])
            widths.add(features.shape[1])
            sparse = sparse or sp.issparse(features)
        if len(widths) != 1:
            raise DataFormatError(
                f"channel {name!r}: shards disagree on the feature count: "
                f"{sorted(widths)}."
            )
        self.feature_names = agreed_names(names, name)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self._feature_dim = widths.pop()
        self._sparse = sparse
        if self.num_records == 0:
            raise DataFormatError(f"channel {name!r} is empty: it holds no records.")
        logger.info(
            "streaming channel opened name=%s shards=%d records=%d",
            name,
            len(self.shards),
            self.num_records,
        )

    def _read(self, shard: str) -> tuple[object, np.ndarray | None]:
        features, labels, _ = self._read_named(shard)
        return features, labels

    def _read_named(
        self, shard: str
    ) -> tuple[object, np.ndarray | None, tuple[str, ...] | None]:
        from lodgepole.data.files import read_named_files

        return read_named_files(shard, content_type=self.content_type)

    def _load(self, shard: str) -> InMemoryChannel:
        features, labels = self._read(shard)
        return InMemoryChannel(self.name, features, labels)

    @property
    def num_records(self) -> int:
        return int(self.offsets[-1])

    @property
    def feature_dim(self) -> int:
        return int(self._feature_dim)

    @property
    def is_sparse(self) -> bool:
        return self._sparse

    @property
    def labels(self) -> np.ndarray:
        """All labels, concatenated (one float per record)."""
        return np.concatenate([self._load(s).labels for s in self.shards])

    def check_labels(self, predictor_type: PredictorType, num_classes: int) -> None:
        """Check every shard's labels; the error names the shard and its row."""
        for shard in self.shards:
            try:
                self._load(shard).check_labels(predictor_type, num_classes)
            except DataFormatError as err:
                raise DataFormatError(
                    f"{err} (row counted within shard {shard!r})"
                ) from err

    def _shards_in_order(self, shuffle: bool, seed: int) -> Iterator[InMemoryChannel]:
        """Decode shards in a background thread, one ahead of the consumer."""
        order = list(range(len(self.shards)))
        if shuffle:
            order = list(np.random.default_rng([seed, 0x5A4D]).permutation(order))
        slots: queue.Queue[object] = queue.Queue(maxsize=1)

        def produce() -> None:
            try:
                for index in order:
                    slots.put(self._load(self.shards[index]))
            except BaseException as err:  # handed to the consumer, re-raised there
                slots.put(err)
            slots.put(_DONE)

        thread = threading.Thread(
            target=produce, name="lodgepole-prefetch", daemon=True
        )
        thread.start()
        while True:
            item = slots.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
        thread.join()

    def batches(
        self, size: int, *, shuffle: bool = False, seed: int = 0
    ) -> Iterator[Batch]:
        """Yield mini-batches of ``size`` records across shard boundaries."""
        carry_X: list[object] = []
        carry_y: list[np.ndarray] = []
        carried = 0
        start = 0
        for shard in self._shards_in_order(shuffle, seed):
            for part in shard.batches(
                shard.num_records, shuffle=shuffle, seed=seed + start
            ):
                X, y = part.features, part.labels
                position = 0
                while position < len(y):
                    take = min(size - carried, len(y) - position)
                    carry_X.append(X[position : position + take])
                    carry_y.append(y[position : position + take])
                    carried += take
                    position += take
                    if carried == size:
                        yield self._batch(carry_X, carry_y, start)
                        start += carried
                        carry_X, carry_y, carried = [], [], 0
        if carried:
            yield self._batch(carry_X, carry_y, start)

    def map_chunks(
        self, function: Callable[[Batch], T], size: int = SCORING_CHUNK
    ) -> list[T]:
        """``function`` of each run of ``size`` records, in channel order."""
        return [function(batch) for batch in self.batches(size)]

    @staticmethod
    def _batch(parts_X: list[object], parts_y: list[np.ndarray], start: int) -> Batch:
        if len(parts_X) == 1:
            X = parts_X[0]
        elif sp.issparse(parts_X[0]):
            X = sp.vstack(parts_X, format="csr")
        else:
            X = np.concatenate(parts_X)  # type: ignore[arg-type]
        y = parts_y[0] if len(parts_y) == 1 else np.concatenate(parts_y)
        return Batch(X, y, None, start)  # type: ignore[arg-type]

    def sample(self, size: int, seed: int) -> Batch:
        """The records an in-memory channel of the same data would sample."""
        from lodgepole.learn.scaler import sample_rows

        rows = sample_rows(self.num_records, size, seed)
        parts_X, parts_y = [], []
        for index, shard in enumerate(self.shards):
            low, high = self.offsets[index], self.offsets[index + 1]
            chosen = rows[(rows >= low) & (rows < high)] - low
            if chosen.size:
                channel = self._load(shard)
                parts_X.append(channel.features[chosen])
                parts_y.append(channel.labels[chosen])
        return self._batch(parts_X, parts_y, 0)
