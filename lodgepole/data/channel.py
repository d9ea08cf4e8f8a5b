"""The interface every channel offers the training engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

from lodgepole._types import PredictorType
from lodgepole.data.memory import Batch

__all__ = ["Channel"]

T = TypeVar("T")


@runtime_checkable
class Channel(Protocol):
    """A named source of records: in memory or streamed from files.

    :class:`~lodgepole.data.InMemoryChannel` and
    :class:`~lodgepole.data.stream.StreamingChannel` implement it;
    :func:`~lodgepole.data.as_channel` picks one.

    Examples
    --------
    >>> from lodgepole.data import as_channel
    >>> isinstance(as_channel("train", (np.eye(2), [0, 1])), Channel)
    True
    """

    name: str

    @property
    def num_records(self) -> int: ...

    @property
    def feature_dim(self) -> int: ...

    @property
    def is_sparse(self) -> bool: ...

    @property
    def labels(self) -> np.ndarray: ...

    def check_labels(self, predictor_type: PredictorType, num_classes: int) -> None:
        """Raise DataFormatError naming the first invalid label."""

    def batches(
        self, size: int, *, shuffle: bool = False, seed: int = 0
    ) -> Iterator[Batch]:
        """Mini-batches of ``size`` records, in order or shuffled by ``seed``."""

    def sample(self, size: int, seed: int) -> Batch:
        """A reproducible random sample of at most ``size`` records."""

    def map_chunks(self, function: Callable[[Batch], T], size: int = ...) -> list[T]:
        """``function`` of each run of ``size`` records, in channel order.

        Where the records live elsewhere (on Dask workers), ``function`` runs
        there: it must be picklable and should return small results.
        """
