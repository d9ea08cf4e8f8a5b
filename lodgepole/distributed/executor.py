"""Data-parallel training on a Dask cluster: the ``dask`` executor.

Each worker trains the whole candidate stack on its own part of the train
channel; the driver averages the parameters and optimiser state, weighted by
the records each worker saw, ``syncs_per_epoch`` times per epoch.

Train channels given as files (paths, folders, globs, fsspec URLs) are split
by shard: shards go round-robin to the parts, one part per worker, and each
worker reads its shards itself and keeps them decoded for later epochs. A
train channel given as arrays is cut into contiguous row ranges that the
driver scatters once.

Notes
-----
Successive-halving pruning happens at epoch ends only: the mid-epoch halvings
of local training are skipped, so more candidates train through the first
epoch than locally.

The driver never opens a shard: :meth:`DaskExecutor.open_channel` returns a
:class:`~lodgepole.distributed._channel.WorkerChannel` for every channel given
as files, whose record counts, label checks, samples and scoring (validation
and test losses and metrics, the train objective) are computed by the workers
on the parts they hold; only small results return (see
:mod:`lodgepole.learn._scoring`).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from lodgepole._types import PredictorType
from lodgepole.data.memory import InMemoryChannel, as_channel
from lodgepole.distributed._worker import (
    FilePart,
    RoundResult,
    RoundSpec,
    part_records,
    train_round,
)
from lodgepole.exceptions import ClusterError, ConfigError

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

    from lodgepole.learn.candidates import CandidateStack
    from lodgepole.learn.trainer import _Trainer

__all__ = ["ClusterError", "DaskExecutor"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: Scheduler HTTP server (metrics, health) on a free loopback port, no dashboard.
_NO_DASHBOARD = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}


class DaskExecutor:
    """Run training epochs data-parallel on a Dask cluster.

    Parameters
    ----------
    client_or_address
        A ``distributed.Client``, or a scheduler address such as
        ``"tcp://10.0.0.5:8786"``. ``None`` starts a local cluster of
        ``n_workers`` worker processes on 127.0.0.1.
    n_workers
        Worker processes of the local cluster (when no client or address).
    syncs_per_epoch
        How many times per epoch the driver averages the workers' models.
    timeout
        Seconds to wait for the scheduler before giving up.

    Raises
    ------
    ConfigError
        For a bad combination or value of the arguments.
    ClusterError
        From :meth:`start` when the scheduler cannot be reached in ``timeout``.

    Notes
    -----
    Use it as a context manager, which starts the cluster connection and
    closes it (and a local cluster it started) on exit, and pass it to
    :func:`lodgepole.train`::

        with DaskExecutor(n_workers=2) as executor:
            result = train(hyperparameters, "data/train/", executor=executor)

    When a worker dies during a round, the round is retried once on the
    workers left (the lost worker's shards are re-assigned); a second
    failure raises :class:`ClusterError`.

    Examples
    --------
    >>> DaskExecutor(n_workers=2, syncs_per_epoch=0)
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.ConfigError: syncs_per_epoch must be >= 1; got 0.
    """

    def __init__(
        self,
        client_or_address: Client | str | None = None,
        n_workers: int | None = None,
        syncs_per_epoch: int = 1,
        timeout: float = 30.0,
    ) -> None:
        if int(syncs_per_epoch) < 1:
            raise ConfigError(f"syncs_per_epoch must be >= 1; got {syncs_per_epoch!r}.")
        if client_or_address is None and (n_workers is None or int(n_workers) < 1):
            raise ConfigError(
                "DaskExecutor needs a client, a scheduler address or n_workers >= 1; "
                f"got n_workers={n_workers!r}."
            )
        if client_or_address is not None and n_workers is not None:
            raise ConfigError(
                "give either a client or scheduler address, or n_workers for a "
                "local cluster, not both."
            )
        self.client_or_address = client_or_address
        self.n_workers = n_workers
        self.syncs_per_epoch = int(syncs_per_epoch)
        self.timeout = float(timeout)
        self.client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._owns_client = False
        #: Parts of each channel by name, with the channel they were cut from.
        self._parts: dict[str, tuple[object, list[Any]]] = {}
        #: Workers keep decoded shards of this session only (see _worker.py).
        self._session = uuid.uuid4().hex

    # ------------------------------------------------------------- cluster
    def __enter__(self) -> DaskExecutor:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def address(self) -> str:
        """The scheduler address (or what was asked for before connecting)."""
        if self.client is not None:
            return str(self.client.scheduler.address)
        return str(self.client_or_address or "a new local cluster")

    def start(self) -> None:
        """Connect to the cluster (starting a local one if asked); idempotent."""
        if self.client is not None:
            return
        from distributed import Client, LocalCluster

        target = self.client_or_address
        if isinstance(target, Client):
            self.client = target
            return
        if target is None:
            self._cluster = LocalCluster(
                n_workers=int(self.n_workers or 1),
                processes=True,
                threads_per_worker=1,
                dashboard_address=None,
                host="127.0.0.1",
                # The scheduler's HTTP server still starts without a dashboard,
                # on port 8787 by default: a second cluster would warn it is taken.
                scheduler_kwargs=_NO_DASHBOARD,
            )
            target = self._cluster
        try:
            self.client = Client(target, timeout=self.timeout)
        except (OSError, TimeoutError) as err:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {target!r} within "
                f"{self.timeout:g} s: {err}. Check that the scheduler runs and "
                "the address and port are right."
            ) from err
        self._owns_client = True
        logger.info(
            "dask cluster connected address=%s workers=%d",
            self.address,
            len(self._workers()),
        )

    def close(self) -> None:
        """Close the client and the local cluster this executor started."""
        if self.client is not None and self._owns_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client = None
        self._cluster = None
        self._parts = {}

    def _workers(self) -> list[str]:
        assert self.client is not None
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"])

    # ------------------------------------------------------------- executor
    def open_channel(
        self, name: str, data: object, *, budget: int | None
    ) -> InMemoryChannel:
        """Open a channel; files are read by the workers, never here.

        A channel given as files becomes a
        :class:`~lodgepole.distributed._channel.WorkerChannel`: its shards are
        read, checked and scored on the workers. Arrays are already in this
        process: the train channel's are scattered to the workers once (by
        :meth:`run_epoch`), validation and test arrays are scored here.
        """
        from lodgepole.data.files import list_shards
        from lodgepole.data.record_set import MANIFEST_NAME, manifest_shards
        from lodgepole.distributed._channel import WorkerChannel

        if isinstance(data, (str, os.PathLike)) or (
            isinstance(data, list)
            and all(isinstance(d, (str, os.PathLike)) for d in data)
        ):
            self.start()
            shards = [
                part
                for shard in list_shards(data)  # type: ignore[arg-type]
                for part in (
                    manifest_shards(shard) if shard.endswith(MANIFEST_NAME) else [shard]
                )
            ]
            return WorkerChannel(self, shards, name=name)  # type: ignore[return-value]
        return as_channel(name, data, budget=budget)

    def _channel_parts(self, channel: object) -> list[Any]:
        """The parts of a channel, split over the current workers."""
        self.start()
        workers = self._workers()
        if not workers:
            raise ClusterError(f"the Dask cluster at {self.address} has no workers.")
        return self._split(channel, workers)  # type: ignore[arg-type]

    def _run_on_parts(
        self, function: Any, parts: list[tuple[int, Any]], args: list[tuple[Any, ...]]
    ) -> list[Any]:
        """``function(part, *args)`` for each ``(index, part)``; the results.

        Part ``index`` runs on the worker :meth:`run_epoch` trains it on,
        which holds it decoded.
        """
        assert self.client is not None
        workers = self._workers()
        futures = [
            self.client.submit(
                function,
                part,
                *extra,
                workers=[workers[index % len(workers)]],
                allow_other_workers=True,
                pure=False,
            )
            for (index, part), extra in zip(parts, args, strict=True)
        ]
        self._wait(futures)
        return list(self.client.gather(futures))

    def retrying(self, what: str, operation: Callable[[], T]) -> T:
        """Run ``operation``; after a lost worker, once more on the workers left.

        Parameters
        ----------
        what
            What is being done, for the log and the error.
        operation
            Work that derives its parts afresh from :meth:`_channel_parts`.

        Raises
        ------
        ClusterError
            When it fails twice because workers were lost.
        """
        from distributed import CancelledError, KilledWorker

        lost = (KilledWorker, CancelledError, OSError, TimeoutError)
        try:
            return operation()
        except lost as err:
            logger.warning(
                "dask %s failed, retrying on the workers left error=%r", what, err
            )
            self._parts = {}  # re-split, re-scatter and re-assign
        try:
            return operation()
        except lost as err:
            raise ClusterError(
                f"{what} failed twice on the Dask cluster at {self.address}: "
                f"{err!r}. Workers were lost; restart them or train locally."
            ) from err

    def run_epoch(self, trainer: _Trainer, epoch: int) -> np.ndarray:
        """Train one epoch on the cluster; each candidate's mean objective."""
        self.start()
        stack = trainer.stack
        total = np.zeros(stack.num_models)
        count = 0
        for round_ in range(self.syncs_per_epoch):
            spec = _round_spec(trainer, epoch, round_, self.syncs_per_epoch)
            started = time.perf_counter()
            results = self._run_round(stack, spec, trainer)
            _merge(stack, results)
            total += sum(r.loss_sum for r in results)
            count += sum(r.num_records for r in results)
            logger.debug(
                "round done epoch=%d round=%d workers=%d seconds=%.3f",
                epoch,
                round_,
                len(results),
                time.perf_counter() - started,
            )
        return total / max(count, 1)

    def _run_round(
        self, stack: CandidateStack, spec: RoundSpec, trainer: _Trainer
    ) -> list[RoundResult]:
        return self.retrying(
            f"training round {spec.round}",
            lambda: self._submit_round(stack, spec, trainer),
        )

    def _submit_round(
        self, stack: CandidateStack, spec: RoundSpec, trainer: _Trainer
    ) -> list[RoundResult]:
        assert self.client is not None
        workers = self._workers()
        if not workers:
            raise ClusterError(f"the Dask cluster at {self.address} has no workers.")
        parts = self._split(trainer.train_channel, workers)
        token = uuid.uuid4().hex
        futures = [
            self.client.submit(
                train_round,
                part,
                stack,
                spec,
                index,
                key=f"lodgepole-round-{token}-{index}",
                workers=[workers[index % len(workers)]],
                allow_other_workers=True,
                pure=False,
            )
            for index, part in enumerate(parts)
        ]
        self._wait(futures)
        return list(self.client.gather(futures))

    def _wait(self, futures: list[Any]) -> None:
        """Wait for a round; give up once the cluster has no workers left.

        Tasks of dead workers move to live ones; with none left they would
        wait for ever, so every ``timeout`` seconds the workers are counted.
        """
        from distributed import wait

        while True:
            try:
                wait(futures, timeout=self.timeout)
                return
            except TimeoutError:
                if not self._workers():
                    raise ClusterError(
                        f"the Dask cluster at {self.address} lost all its workers."
                    ) from None

    def _split(self, channel: InMemoryChannel, workers: list[str]) -> list[Any]:
        """The parts of a channel, made once (again after a failure)."""
        cached = self._parts.get(channel.name)
        if cached is not None and cached[0] is channel:
            return cached[1]
        assert self.client is not None
        shards = getattr(channel, "shards", None)
        if shards is not None:
            count = min(len(workers), len(shards))
            content_type = getattr(channel, "content_type", None)
            parts: list[Any] = [
                FilePart(
                    tuple(shards[i::count]), content_type, self._session, channel.name
                )
                for i in range(count)
            ]
            logger.info(
                "shards assigned channel=%s shards=%d parts=%d",
                channel.name,
                len(shards),
                count,
            )
        else:
            parts = self._scatter(channel, workers)
        self._parts[channel.name] = (channel, parts)
        return parts

    def _scatter(self, channel: InMemoryChannel, workers: list[str]) -> list[Any]:
        """Cut in-memory records into one contiguous range per worker; scatter."""
        assert self.client is not None
        count = min(len(workers), channel.num_records)
        bounds = np.linspace(0, channel.num_records, count + 1).astype(np.int64)
        parts = []
        for index in range(count):
            rows = slice(int(bounds[index]), int(bounds[index + 1]))
            part = InMemoryChannel(
                "train",
                channel.features[rows],
                channel.labels[rows],
                None if channel.weights is None else channel.weights[rows],
            )
            (future,) = self.client.scatter(
                [part], workers=[workers[index]], hash=False
            )
            parts.append(future)
        logger.info(
            "train records scattered records=%d parts=%d", channel.num_records, count
        )
        return parts

    def warm_up(self, data: object) -> list[int]:
        """Have each worker read its part of ``data`` now; its records per part.

        Parameters
        ----------
        data
            The train channel as :func:`lodgepole.train` takes it.

        Returns
        -------
        list of int
            Records of each part, in part order.
        """
        self.start()
        channel = self.open_channel("train", data, budget=None)
        parts = list(enumerate(self._channel_parts(channel)))
        return [
            int(n) for n in self._run_on_parts(part_records, parts, [()] * len(parts))
        ]


def _round_spec(trainer: _Trainer, epoch: int, round_: int, rounds: int) -> RoundSpec:
    """What a worker needs to step exactly as :meth:`_Trainer.local_epoch` does."""
    normalisation = None
    if trainer.predictor_type is PredictorType.REGRESSOR:
        scaler = trainer.scaler
        normalisation = (float(scaler.label_mean), float(scaler.label_scale))
    return RoundSpec(
        mini_batch_size=trainer._mini_batch_size,
        shuffle=bool(trainer.hp.shuffle),
        seed=int(trainer.hp.seed) + epoch,
        round=round_,
        rounds=rounds,
        weighting=trainer.weighting,
        label_normalisation=normalisation,
    )


def _merge(stack: CandidateStack, results: list[RoundResult]) -> None:
    """Set ``stack`` to the record-weighted mean of the workers' stacks.

    Parameters and optimiser moments are averaged by records seen; update
    counters add up, so learning-rate schedules and Adam's bias correction
    advance with the data seen, as in local training. The epoch's running
    average of iterates folds in each worker's average by its step count.
    """
    used = [r for r in results if r.num_records > 0]
    if not used:
        return
    share = np.asarray([r.num_records for r in used], np.float64)
    share /= share.sum()
    stack.params = _weighted([r.stack.params for r in used], share)

    # The optimiser keeps its state per slot, private to it; it is averaged
    # entry by entry, and its step counter advances by every worker's steps.
    optimizer = stack.optimizer
    base_steps = dict(optimizer._steps)
    first = used[0].stack.optimizer
    optimizer._state = {
        slot: tuple(
            _weighted([r.stack.optimizer._state[slot][i] for r in used], share)
            for i in range(len(arrays))
        )
        for slot, arrays in first._state.items()
    }
    optimizer._steps = {
        slot: base_steps.get(slot, 0)
        + sum(r.stack.optimizer._steps[slot] - base_steps.get(slot, 0) for r in used)
        for slot in first._steps
    }
    base_updates = stack.updates
    stack.updates = base_updates + sum(r.stack.updates - base_updates for r in used)

    steps = [r.stack._average_count for r in used]
    before = getattr(stack, "_average_count", 0)
    if stack.average_params is not None and sum(steps):
        weights = np.asarray([before, *steps], np.float64)
        arrays = [stack.average_params, *(r.stack.average_params for r in used)]
        stack.average_params = _weighted(arrays, weights / weights.sum())
        stack._average_count = before + sum(steps)


def _weighted(arrays: list[np.ndarray], share: np.ndarray) -> np.ndarray:
    out = np.zeros_like(arrays[0], dtype=np.float64)
    for array, weight in zip(arrays, share, strict=True):
        out += weight * array
    return np.ascontiguousarray(out, dtype=arrays[0].dtype)
