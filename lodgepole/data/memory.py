"""In-memory channels: numpy arrays, pandas objects and scipy.sparse matrices.

A channel holds the features, labels and optional per-record weights of one
named input (``train``, ``validation`` or ``test``), checked once when the
channel is made, and hands them out as mini-batches. Dense features are kept
as one C-contiguous float32 array; slicing a batch is a view, so reading an
epoch copies nothing. Sparse features are kept as float32 CSR.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from lodgepole._types import PredictorType
from lodgepole.data._tabular import column_names, numeric_table, vector
from lodgepole.exceptions import DataFormatError

__all__ = ["Batch", "InMemoryChannel", "as_channel"]

logger = logging.getLogger(__name__)

Features = np.ndarray | sp.csr_matrix
T = TypeVar("T")

#: Records per chunk when a channel is scored (:meth:`InMemoryChannel.map_chunks`).
SCORING_CHUNK = 16_384


@dataclass(frozen=True, eq=False)
class Batch:
    """A slice of a channel: features, labels and weights of some records."""

    features: Features
    labels: np.ndarray
    weights: np.ndarray | None
    start: int

    @property
    def num_records(self) -> int:
        return int(self.features.shape[0])


def _as_features(features: object, channel: str) -> Features:
    features = numeric_table(features, f"channel {channel!r}")
    if sp.issparse(features):
        X = sp.csr_matrix(features, dtype=np.float32)
        X.sum_duplicates()
        values = X.data
    else:
        try:
            X = np.ascontiguousarray(np.asarray(features), dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise DataFormatError(
                f"channel {channel!r}: features must be numeric; {err}"
            ) from err
        if X.ndim != 2:
            raise DataFormatError(
                f"channel {channel!r}: features must be a 2-D array (records x "
                f"features); got an array of shape {X.shape}. Use X.reshape(-1, 1) "
                "for a single feature or X.reshape(1, -1) for a single record."
            )
        values = X
    if not np.isfinite(values).all():
        raise DataFormatError(_first_non_finite(X, channel))
    return X


def _first_non_finite(X: Features, channel: str) -> str:
    if sp.issparse(X):
        position = int(np.flatnonzero(~np.isfinite(X.data))[0])
        row = int(np.searchsorted(X.indptr, position, side="right") - 1)
        column = int(X.indices[position])
        value = X.data[position]
    else:
        row, column = (int(i) for i in np.argwhere(~np.isfinite(X))[0])
        value = X[row, column]
    return (
        f"channel {channel!r}, row {row}, column {column}: features must be "
        f"finite numbers; got {float(value)!r}."
    )


def _as_labels(labels: object, num_rows: int, channel: str) -> np.ndarray:
    try:
        y = np.asarray(vector(labels), dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise DataFormatError(
            f"channel {channel!r}: labels must be numeric; {err}"
        ) from err
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or y.shape[0] != num_rows:
        raise DataFormatError(
            f"channel {channel!r}: expected one label per record ({num_rows}), "
            "or one row of 0/1 labels per record (multilabel); got labels of "
            f"shape {y.shape}."
        )
    return np.ascontiguousarray(y)


def _as_weights(weights: object, num_rows: int, channel: str) -> np.ndarray:
    w = np.ascontiguousarray(np.asarray(vector(weights), dtype=np.float32))
    if w.shape != (num_rows,):
        raise DataFormatError(
            f"channel {channel!r}: expected one weight per record ({num_rows}); "
            f"got weights of shape {w.shape}."
        )
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"channel {channel!r}, row {row}: weights must be finite and >= 0; "
            f"got {float(w[row])!r}."
        )
    return w


class InMemoryChannel:
    """A named channel whose records are held in memory.

    Parameters
    ----------
    name
        Channel name: ``train``, ``validation`` or ``test``.
    features
        ``(num_records, feature_dim)`` numbers: numpy array, pandas DataFrame,
        pyarrow Table or any scipy.sparse matrix (kept as CSR).
    labels
        One label per record (array, list, pandas Series or Arrow array).
    weights
        Optional non-negative loss weight per record.
    feature_names
        Names of the features; by default a DataFrame's or table's columns.

    Examples
    --------
    >>> ch = InMemoryChannel("train", np.eye(3), np.array([0, 1, 1]))
    >>> ch.num_records, ch.feature_dim
    (3, 3)
    >>> [b.num_records for b in ch.batches(2)]
    [2, 1]
    """

    def __init__(
        self,
        name: str,
        features: object,
        labels: object,
        weights: object | None = None,
        feature_names: tuple[str, ...] | None = None,
    ) -> None:
        self.name = name
        names = column_names(features) if feature_names is None else feature_names
        self.features = _as_features(features, name)
        self.labels = _as_labels(labels, self.features.shape[0], name)
        self.weights = (
            None
            if weights is None
            else _as_weights(weights, self.features.shape[0], name)
        )
        if self.features.shape[0] == 0:
            raise DataFormatError(f"channel {name!r} is empty: it holds no records.")
        if not np.isfinite(self.labels).all():
            bad = ~np.isfinite(self.labels.reshape(self.labels.shape[0], -1))
            row, column = (int(i) for i in np.argwhere(bad)[0])
            raise DataFormatError(
                f"channel {name!r}, row {row}: labels must be finite; "
                f"got {float(self.labels.reshape(len(bad), -1)[row, column])!r}."
            )
        if names is not None and len(names) != self.features.shape[1]:
            raise DataFormatError(
                f"channel {name!r}: {len(names)} feature names for "
                f"{self.features.shape[1]} features."
            )
        self.feature_names = None if names is None else tuple(names)

    @property
    def num_records(self) -> int:
        return int(self.features.shape[0])

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def is_sparse(self) -> bool:
        return sp.issparse(self.features)

    def check_labels(self, predictor_type: PredictorType, num_classes: int) -> None:
        """Raise DataFormatError naming the first label invalid for the predictor."""
        y = self.labels
        if predictor_type is PredictorType.MULTILABEL:
            _check_multilabel(y, num_classes, self.name)
            return
        if y.ndim != 1:
            raise DataFormatError(
                f"channel {self.name!r}: labels have {y.shape[1]} columns; only "
                "predictor_type 'multilabel_classifier' takes several labels per "
                "record."
            )
        if predictor_type is PredictorType.REGRESSOR:
            return
        if predictor_type is PredictorType.BINARY:
            bad = (y != 0) & (y != 1)
            expected = "0 or 1 for predictor_type 'binary_classifier'"
        else:
            bad = (y != np.round(y)) | (y < 0) | (y > num_classes - 1)
            expected = (
                f"an integer in [0, {num_classes - 1}] for "
                f"predictor_type 'multiclass_classifier' with num_classes={num_classes}"
            )
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                f"channel {self.name!r}, row {row}: label must be {expected}; "
                f"got {float(y[row])!r}."
            )

    def batches(
        self, size: int, *, shuffle: bool = False, seed: int = 0
    ) -> Iterator[Batch]:
        """Yield the records in mini-batches of ``size`` (the last may be smaller).

        With ``shuffle``, the order of records is a permutation drawn from
        ``seed``; batches are then copies rather than views.
        """
        n = self.num_records
        order = (
            np.random.default_rng([seed, 0x5AFF]).permutation(n) if shuffle else None
        )
        for start in range(0, n, size):
            stop = min(start + size, n)
            rows = slice(start, stop) if order is None else np.sort(order[start:stop])
            yield Batch(
                self.features[rows],
                self.labels[rows],
                None if self.weights is None else self.weights[rows],
                start,
            )

    def map_chunks(
        self, function: Callable[[Batch], T], size: int = SCORING_CHUNK
    ) -> list[T]:
        """``function`` of each run of ``size`` records, in channel order.

        Channels held elsewhere (a Dask worker channel) run ``function`` where
        the records are, so it must be picklable and return small results.

        Examples
        --------
        >>> ch = InMemoryChannel("test", np.eye(3), np.array([0, 1, 1]))
        >>> ch.map_chunks(lambda batch: int(batch.labels.sum()), size=2)
        [1, 1]
        """
        return [function(batch) for batch in self.batches(size)]

    def sample(self, size: int, seed: int) -> Batch:
        """A reproducible random sample of at most ``size`` records."""
        from lodgepole.learn.scaler import sample_rows

        rows = sample_rows(self.num_records, size, seed)
        return Batch(
            self.features[rows],
            self.labels[rows],
            None if self.weights is None else self.weights[rows],
            0,
        )


def _check_multilabel(y: np.ndarray, num_labels: int, channel: str) -> None:
    if y.ndim != 2 or y.shape[1] != num_labels:
        width = 1 if y.ndim == 1 else y.shape[1]
        raise DataFormatError(
            f"channel {channel!r}: predictor_type 'multilabel_classifier' with "
            f"num_classes={num_labels} needs {num_labels} 0/1 labels per record "
            f"(labels of shape (records, {num_labels})); got {width} per record."
        )
    bad = (y != 0) & (y != 1)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise DataFormatError(
            f"channel {channel!r}, row {row}: label {column} must be 0 or 1 for "
            f"predictor_type 'multilabel_classifier'; got {float(y[row, column])!r}."
        )


#: Channels stored in files larger than this (bytes on disk) are streamed
#: shard by shard instead of loaded; ``LODGEPOLE_MEMORY_BUDGET`` overrides it.
DEFAULT_MEMORY_BUDGET = 2 * 1024**3


def memory_budget() -> int:
    """The memory budget in bytes: ``$LODGEPOLE_MEMORY_BUDGET`` or the default."""
    value = os.environ.get("LODGEPOLE_MEMORY_BUDGET")
    if not value:
        return DEFAULT_MEMORY_BUDGET
    try:
        return int(float(value))
    except ValueError as err:
        raise DataFormatError(
            f"LODGEPOLE_MEMORY_BUDGET must be a number of bytes; got {value!r}."
        ) from err


def as_channel(
    name: str,
    data: object,
    *,
    content_type: str | None = None,
    budget: int | None = None,
) -> InMemoryChannel:
    """Turn ``(X, y)``, ``(X, y, weights)``, files or a channel into a channel.

    ``data`` may also be a path, folder, glob or URL (a string or
    ``os.PathLike``), a list of them, or a :class:`~lodgepole.data.RecordSet`;
    those are read whole with :func:`lodgepole.data.files.read_files`, the
    content type coming from the file names unless ``content_type`` is given.
    A channel whose files exceed ``budget`` bytes (default
    :func:`memory_budget`) becomes a
    :class:`~lodgepole.data.stream.StreamingChannel` instead.

    Examples
    --------
    >>> as_channel("test", (np.zeros((2, 1)), [0, 1])).num_records
    2
    """
    from lodgepole.data.files import read_named_files
    from lodgepole.data.record_set import RecordSet, read_record_set

    if isinstance(data, InMemoryChannel):
        return data
    if isinstance(data, tuple) and len(data) in (2, 3):
        return InMemoryChannel(name, *data)
    names = None
    if isinstance(data, RecordSet):
        features, labels = read_record_set(data)
    elif isinstance(data, (str, os.PathLike)) or (
        isinstance(data, list) and all(isinstance(d, (str, os.PathLike)) for d in data)
    ):
        from lodgepole.data.files import list_shards, total_size
        from lodgepole.data.stream import StreamingChannel

        shards = list_shards(data)  # type: ignore[arg-type]
        limit = memory_budget() if budget is None else budget
        if total_size(shards) > limit:
            return StreamingChannel(name, shards, content_type)  # type: ignore[return-value]
        features, labels, names = read_named_files(shards, content_type=content_type)
    else:
        raise DataFormatError(
            f"channel {name!r}: expected a tuple (features, labels) or "
            "(features, labels, weights), a path, folder, glob or URL, or a "
            f"RecordSet; got {type(data).__name__}."
        )
    if labels is None:
        raise DataFormatError(
            f"channel {name!r}: the records at {data!r} carry no labels; "
            "training channels need a label in every record."
        )
    return InMemoryChannel(name, features, labels, feature_names=names)
