"""``LinearLearner``: the SageMaker SDK's estimator, training on this machine.

The flow of the SageMaker SDK carries over unchanged::

    estimator = LinearLearner("multiclass_classifier", num_classes=7,
                              balance_multiclass_weights=True, epochs=10)
    train = estimator.record_set(X_train, y_train, channel="train")
    validation = estimator.record_set(X_val, y_val, channel="validation")
    estimator.fit([train, validation])
    predictor = estimator.deploy(initial_instance_count=1)
    ...
    estimator.delete_endpoint()

Hyperparameters are checked when the estimator is made, before any data is
read: an unknown name (``n_classes``) raises :class:`~lodgepole.ConfigError`
with a suggestion (``num_classes``). Each :meth:`LinearLearner.fit` is a
training job recorded by :mod:`lodgepole.jobs` (status, hyperparameters,
per-epoch and final metrics, log, model artifact), and
:meth:`LinearLearner.attach` brings a Completed job back in any process.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(400, 3)).astype(np.float32)
>>> y = (X[:, 0] > 0).astype(np.float32)
>>> estimator = LinearLearner("binary_classifier", epochs=2, mini_batch_size=50)
>>> estimator.hyperparameters()
{'epochs': '2', 'mini_batch_size': '50', 'predictor_type': 'binary_classifier'}
>>> job = estimator.fit({"train": (X, y)}).latest_training_job
>>> job.status, job.channels
('Completed', {'train': 'array 400x3'})
>>> job.metrics["train"]["binary_classification_accuracy"] > 0.9
True
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from lodgepole.data._tabular import is_arrow
from lodgepole.data.files import list_shards
from lodgepole.data.memory import InMemoryChannel
from lodgepole.data.record_set import RecordSet, record_set
from lodgepole.exceptions import ConfigError, DataFormatError, EndpointError
from lodgepole.hyperparameters import SPECS, Hyperparameters
from lodgepole.jobs import (
    DEFAULT_BASE_JOB_NAME,
    LOG_FILE,
    MODEL_FILE,
    Job,
    JobError,
    append_epoch,
    check_job_name,
    complete_job,
    create_job,
    describe_job,
    fail_job,
    job_directory,
    name_from_base,
    restart_job,
)
from lodgepole.learn.checkpoint import CHECKPOINT_FILE
from lodgepole.learn.results import EpochReport, TrainingResult
from lodgepole.learn.trainer import train
from lodgepole.model import LinearModel
from lodgepole.state import state_dir

if TYPE_CHECKING:
    from lodgepole.serving.endpoint import Predictor

__all__ = ["CHANNELS", "LinearLearner"]

logger = logging.getLogger(__name__)

CHANNELS = ("train", "validation", "test")
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_NAME_ATTEMPTS = 5


class LinearLearner:
    """Train linear models as SageMaker's ``LinearLearner`` estimator does.

    Parameters
    ----------
    predictor_type
        ``binary_classifier``, ``multiclass_classifier`` or ``regressor``.
    instance_count
        Worker processes to train on. Above 1 (and without ``cluster``),
        each fit starts a local Dask cluster of that many worker processes
        and trains data-parallel on it (``pip install "lodgepole[dask]"``).
    cluster
        A Dask scheduler address (``"tcp://10.0.0.5:8786"``) or a
        ``distributed.Client``: train data-parallel on that cluster.
    syncs_per_epoch
        With Dask: times per epoch the workers' parameters are averaged.
    instance_type, role
        Accepted so SageMaker code runs unchanged, and ignored.
    base_job_name
        Prefix of generated job names (default ``linear-learner``).
    output_path
        Folder or fsspec URL under which :meth:`record_set` writes; default
        ``<state dir>/data``.
    **hyperparameters
        SageMaker's names and values (``num_classes=7``, ``epochs="10"``,
        ``balance_multiclass_weights=True`` ...); see
        :mod:`lodgepole.hyperparameters`. Also readable as attributes
        (``estimator.epochs``).

    Attributes
    ----------
    model
        The trained :class:`~lodgepole.LinearModel`, after :meth:`fit` or
        :meth:`attach`; else None.
    latest_training_job
        The :class:`~lodgepole.jobs.Job` of the last fit (or the attached one).
    training_job_name
        Its name.
    training_result
        The :class:`~lodgepole.TrainingResult` of the last fit in this process.

    Raises
    ------
    ConfigError
        For an unknown or invalid hyperparameter, ``instance_count`` other
        than 1, or an invalid ``base_job_name``.

    Examples
    --------
    >>> LinearLearner("multiclass_classifier", n_classes=7)
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.ConfigError: Unknown hyperparameter 'n_classes'. Did you ...
    >>> LinearLearner("multiclass_classifier", num_classes="7").num_classes
    7
    """

    def __init__(
        self,
        predictor_type: str,
        *,
        instance_count: int = 1,
        instance_type: str | None = None,
        role: str | None = None,
        base_job_name: str | None = None,
        output_path: str | os.PathLike[str] | None = None,
        cluster: Any = None,
        syncs_per_epoch: int = 1,
        **hyperparameters: Any,
    ) -> None:
        self._hp = Hyperparameters.from_dict(
            {"predictor_type": predictor_type, **hyperparameters}
        )
        self.predictor_type = predictor_type
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.role = role
        self.base_job_name = base_job_name
        self.output_path = output_path
        self.cluster = cluster
        self.syncs_per_epoch = syncs_per_epoch
        _check_instance_count(instance_count)
        if isinstance(syncs_per_epoch, bool) or not isinstance(syncs_per_epoch, int):
            raise ConfigError(
                f"syncs_per_epoch must be an integer; got {syncs_per_epoch!r}."
            )
        if syncs_per_epoch < 1:
            raise ConfigError(f"syncs_per_epoch must be >= 1; got {syncs_per_epoch!r}.")
        if base_job_name is not None:
            check_job_name(base_job_name)
        self.model: LinearModel | None = None
        self.latest_training_job: Job | None = None
        self.training_result: TrainingResult | None = None
        self._endpoint_name: str | None = None

    def __getattr__(self, name: str) -> Any:
        hp = self.__dict__.get("_hp")
        if hp is not None and name in SPECS:
            value = getattr(hp, name)
            return getattr(value, "value", value)
        raise AttributeError(f"{type(self).__name__!r} has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"LinearLearner({self._hp!r}, job={self.training_job_name!r})"

    @property
    def training_job_name(self) -> str | None:
        """Name of the latest training job, or None before :meth:`fit`."""
        job = self.latest_training_job
        return None if job is None else job.name

    @property
    def model_data(self) -> str | None:
        """Path of the latest job's model artifact (the SDK's name for it)."""
        job = self.latest_training_job
        return None if job is None else job.model_path

    def hyperparameters(self) -> dict[str, str]:
        """The hyperparameters set on this estimator, as strings, like the SDK.

        Examples
        --------
        >>> LinearLearner("regressor", wd=0.01, use_bias=False).hyperparameters()
        {'predictor_type': 'regressor', 'use_bias': 'False', 'wd': '0.01'}
        """
        return _user_hyperparameters(self._hp)

    # --- data ---------------------------------------------------------------

    def record_set(
        self,
        features: Any,
        labels: Any = None,
        channel: str = "train",
        encrypt: bool = False,
    ) -> RecordSet:
        """Write ``features`` and ``labels`` as RecordIO shards for a channel.

        The shards go to ``<output_path>/LinearLearner-<time>/<channel>/``.

        Parameters
        ----------
        features
            2-D numpy array, pandas DataFrame or scipy.sparse matrix.
        labels
            One label per row (array or pandas Series), or None.
        channel
            ``train``, ``validation`` or ``test``; :meth:`fit` reads it.
        encrypt
            Accepted for the SDK's signature; local files are not encrypted.

        Returns
        -------
        RecordSet

        Examples
        --------
        >>> import tempfile
        >>> estimator = LinearLearner("regressor", output_path=tempfile.mkdtemp())
        >>> rs = estimator.record_set(np.ones((5, 2)), np.arange(5.0), "test")
        >>> rs.channel, rs.num_records, rs.s3_data.endswith("/test/.amazon.manifest")
        ('test', 5, True)
        """
        _check_channel_name(channel)
        if encrypt:
            logger.debug("record_set encrypt=True ignored: files stay local")
        location = self.output_path or state_dir() / "data"
        return record_set(
            _as_matrix(features),
            None if labels is None else np.asarray(labels, dtype=np.float32),
            channel=channel,
            location=location,
            prefix=f"{name_from_base('LinearLearner')}/{channel}",
        )

    # --- training -----------------------------------------------------------

    def fit(
        self,
        records: Any,
        job_name: str | None = None,
        *,
        mini_batch_size: int | None = None,
        callback: Callable[[EpochReport], None] | None = None,
    ) -> LinearLearner:
        """Train in a new training job; set :attr:`model` and the job.

        Parameters
        ----------
        records
            A :class:`~lodgepole.data.RecordSet` (its ``channel`` says which),
            a list of them, or a dict ``{"train": ..., "validation": ...,
            "test": ...}`` whose values are RecordSets, ``(features, labels)``
            tuples (arrays, DataFrame and Series, sparse matrices), or paths,
            folders, globs or URLs of data files (None values are left out).
            A tuple or path alone is the train channel.
        job_name
            The job's name; default ``<base_job_name>-<UTC time with ms>``.
        mini_batch_size
            Overrides the hyperparameter for this job, as in the SDK.
        callback
            Called with an :class:`~lodgepole.EpochReport` after every epoch,
            once the epoch is recorded in the job.

        Returns
        -------
        LinearLearner
            This estimator.

        Raises
        ------
        ConfigError
            Before any job is made: no ``train`` channel, an unknown channel,
            a job name that is not valid.
        JobError
            Before any job is made: ``job_name`` is already used.
        DataFormatError
            Before any job is made, for a channel path that does not exist;
            after the job is made (then marked Failed with the message) for
            bad data, such as labels outside ``[0, num_classes)``.
        KeyboardInterrupt
            Re-raised after marking the job Failed with reason ``interrupted``.
        """
        channels = _channels(records)
        for channel, data in channels.items():
            _check_location(channel, data)
        hp = self._hp
        if mini_batch_size is not None:
            hp = hp.replace(mini_batch_size=mini_batch_size)
        name = self._create_job(job_name, hp, channels)
        return self._train_job(name, hp, channels, callback, "started")

    def _train_job(
        self,
        name: str,
        hp: Hyperparameters,
        channels: dict[str, Any],
        callback: Callable[[EpochReport], None] | None,
        event: str,
    ) -> LinearLearner:
        """Run job ``name`` (new or resumed); mark it Failed on any error."""
        self.model, self.training_result = None, None  # they follow the latest job
        with _job_log(job_directory(name) / LOG_FILE):
            logger.info(
                "training job %s name=%s channels=%s",
                event,
                name,
                {c: _describe(d) for c, d in channels.items()},
            )
            try:
                job = self._run(name, hp, channels, callback)
            except KeyboardInterrupt:
                self.latest_training_job = fail_job(name, "interrupted")
                raise
            except BaseException as err:
                reason = f"{type(err).__name__}: {err}"
                self.latest_training_job = fail_job(name, reason)
                raise
        self.latest_training_job = job
        return self

    @classmethod
    def resume(
        cls,
        job_name: str,
        records: Any = None,
        *,
        callback: Callable[[EpochReport], None] | None = None,
        instance_count: int = 1,
        cluster: Any = None,
        syncs_per_epoch: int = 1,
    ) -> LinearLearner:
        """Continue a Failed or Stopped job from its last checkpoint.

        Every job writes a checkpoint after each epoch; a job interrupted
        (Ctrl-C, ``kill -9``, a crash) goes on from the epoch after it and
        ends with the model an uninterrupted run would have given.

        Parameters
        ----------
        job_name
            The job to resume, in any process.
        records
            The channels, as for :meth:`fit`; needed only when the job was
            given in-memory data. By default the job's recorded file
            locations are read again.
        callback
            As for :meth:`fit`.
        instance_count, cluster, syncs_per_epoch
            Where to run the rest, as for the constructor: locally by
            default. A job trained on Dask resumed on the same number of
            workers with the same ``syncs_per_epoch`` ends with the model of
            an uninterrupted run; elsewhere it goes on from the same state
            but its remaining epochs see the data in another order.

        Returns
        -------
        LinearLearner
            An estimator with the job's hyperparameters, :attr:`model` set.

        Raises
        ------
        JobError
            If the job is Completed or still running, or was trained on
            in-memory data and ``records`` is not given.
        CheckpointError
            If the checkpoint belongs to other hyperparameters or data.

        Examples
        --------
        >>> LinearLearner.resume("no-such-job")
        Traceback (most recent call last):
        ...
        lodgepole.exceptions.JobError: no training job named 'no-such-job'; ...
        """
        job = describe_job(job_name)
        values = dict(job.user_hyperparameters)
        predictor_type = values.pop("predictor_type", job.predictor_type)
        estimator = cls(
            predictor_type,
            instance_count=instance_count,
            cluster=cluster,
            syncs_per_epoch=syncs_per_epoch,
            **values,
        )
        if records is None:
            in_memory = [
                c for c, where in job.channels.items() if not _is_location(where)
            ]
            if in_memory:
                raise JobError(
                    f"training job {job_name!r} was given in-memory data for "
                    f"channel(s) {in_memory!r}; pass the same channels again: "
                    f"LinearLearner.resume({job_name!r}, {{...}})."
                )
            records = dict(job.channels)
        channels = _channels(records)
        for channel, data in channels.items():
            _check_location(channel, data)
        estimator.latest_training_job = restart_job(job_name)
        return estimator._train_job(
            job_name, estimator._hp, channels, callback, "resumed"
        )

    def _run(
        self,
        name: str,
        hp: Hyperparameters,
        channels: dict[str, Any],
        callback: Callable[[EpochReport], None] | None,
    ) -> Job:
        def record(report: EpochReport) -> None:
            append_epoch(name, report.epoch, report.metrics)
            if callback is not None:
                callback(report)

        checkpoint = job_directory(name) / CHECKPOINT_FILE
        with self._executor() as executor:
            result = train(
                hp,
                channels["train"],
                channels.get("validation"),
                channels.get("test"),
                callback=record,
                executor=executor,
                checkpoint=checkpoint,
            )
        model_path = result.model.save(job_directory(name) / MODEL_FILE)
        job = complete_job(
            name,
            model_path=model_path,
            metrics=result.metrics,
            best_epoch=result.best_epoch,
            candidate=result.candidate,
            hyperparameters=result.hyperparameters,
        )
        checkpoint.unlink(missing_ok=True)  # the model artifact supersedes it
        self.model, self.training_result = result.model, result
        return job

    def _executor(self) -> Any:
        """A context giving the training executor: None (local) or Dask."""
        if self.cluster is None and self.instance_count == 1:
            return _no_executor()
        from lodgepole.distributed import DaskExecutor

        if self.cluster is not None:
            return DaskExecutor(self.cluster, syncs_per_epoch=self.syncs_per_epoch)
        return DaskExecutor(
            n_workers=self.instance_count, syncs_per_epoch=self.syncs_per_epoch
        )

    def _create_job(
        self, job_name: str | None, hp: Hyperparameters, channels: dict[str, Any]
    ) -> str:
        details = {
            "predictor_type": hp.predictor_type.value,
            "hyperparameters": hp.resolved().to_dict(),
            "user_hyperparameters": _user_hyperparameters(hp),
            "channels": {c: _describe(d) for c, d in channels.items()},
        }
        if job_name is not None:
            self.latest_training_job = create_job(job_name, **details)
            return job_name
        base = self.base_job_name or DEFAULT_BASE_JOB_NAME
        for attempt in range(_NAME_ATTEMPTS):
            name = name_from_base(base)
            try:
                self.latest_training_job = create_job(name, **details)
                return name
            except JobError:
                # Two fits in the same millisecond: the next one gets a new name.
                if attempt == _NAME_ATTEMPTS - 1:
                    raise
                time.sleep(0.002)
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def attach(cls, job_name: str) -> LinearLearner:
        """An estimator holding the hyperparameters and model of a Completed job.

        Works from any process: the job is read from the state database.

        Raises
        ------
        JobError
            If no job has that name, or it is not Completed.

        Examples
        --------
        >>> LinearLearner.attach("no-such-job")
        Traceback (most recent call last):
        ...
        lodgepole.exceptions.JobError: no training job named 'no-such-job'; ...
        """
        job = describe_job(job_name)
        if job.status != "Completed" or job.model_path is None:
            why = f" ({job.failure_reason})" if job.failure_reason else ""
            raise JobError(
                f"training job {job_name!r} is {job.status}{why}; only a "
                "Completed job can be attached."
            )
        values = dict(job.user_hyperparameters)
        predictor_type = values.pop("predictor_type", job.predictor_type)
        estimator = cls(predictor_type, **values)
        estimator.model = LinearModel.load(job.model_path)
        estimator.latest_training_job = job
        return estimator

    # --- serving ------------------------------------------------------------

    def deploy(
        self,
        initial_instance_count: int = 1,
        instance_type: str | None = None,
        *,
        endpoint_name: str | None = None,
    ) -> Predictor:
        """Serve the trained model from a new local endpoint.

        Parameters
        ----------
        initial_instance_count
            Server worker processes.
        instance_type
            Accepted so SageMaker code runs unchanged, and ignored.
        endpoint_name
            Default: the training job's name.

        Returns
        -------
        Predictor
            See :func:`lodgepole.serving.deploy`; the endpoint outlives this
            process until :meth:`delete_endpoint`.

        Raises
        ------
        JobError
            If nothing was trained or attached yet.
        """
        model = self._trained_model()
        name = endpoint_name or self.training_job_name
        predictor = model.deploy(initial_instance_count, endpoint_name=name)
        self._endpoint_name = predictor.endpoint_name
        return predictor

    def delete_endpoint(self) -> None:
        """Stop and remove the endpoint made by :meth:`deploy`.

        Raises
        ------
        EndpointError
            If this estimator deployed nothing, or the endpoint is gone.

        Examples
        --------
        >>> LinearLearner("regressor").delete_endpoint()
        Traceback (most recent call last):
        ...
        lodgepole.exceptions.EndpointError: no endpoint to delete: ...
        """
        from lodgepole.serving.registry import delete_endpoint

        name = self._endpoint_name
        if name is None:
            raise EndpointError(
                None, "no endpoint to delete: this estimator has not deployed one."
            )
        delete_endpoint(name)
        self._endpoint_name = None

    def _trained_model(self) -> LinearModel:
        if self.model is None:
            raise JobError(
                "this estimator has no trained model: call fit(...) or "
                "LinearLearner.attach(job_name) first."
            )
        return self.model


# --- helpers ----------------------------------------------------------------------


@contextlib.contextmanager
def _no_executor() -> Iterator[None]:
    yield None


def _check_instance_count(count: object) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ConfigError(f"instance_count must be an integer >= 1; got {count!r}.")


def _check_channel_name(channel: object) -> None:
    if channel not in CHANNELS:
        raise ConfigError(
            f"channel must be 'train', 'validation' or 'test'; got {channel!r}."
        )


def _user_hyperparameters(hp: Hyperparameters) -> dict[str, str]:
    values = {name: str(getattr(hp, name)) for name in sorted(hp.provided)}
    values.update(hp.internal)
    return values


def _as_matrix(features: Any) -> Any:
    if sp.issparse(features):
        return features
    return np.asarray(features, dtype=np.float32)


def _channels(records: Any) -> dict[str, Any]:
    """Map channel name -> data from what ``fit`` accepts."""
    if isinstance(records, RecordSet):
        mapping: dict[str, Any] = {records.channel: records}
    elif isinstance(records, list) and all(isinstance(r, RecordSet) for r in records):
        mapping = {}
        for rs in records:
            if rs.channel in mapping:
                raise ConfigError(
                    f"two RecordSets for channel {rs.channel!r}; give one per channel."
                )
            mapping[rs.channel] = rs
    elif isinstance(records, Mapping):
        mapping = {k: v for k, v in records.items() if v is not None}
    elif isinstance(records, (tuple, str, os.PathLike, InMemoryChannel)):
        mapping = {"train": records}
    else:
        raise ConfigError(
            "fit expects a RecordSet, a list of RecordSets, or a dict of channel "
            "name to data ({'train': ..., 'validation': ..., 'test': ...}); "
            f"got {type(records).__name__}."
        )
    for name in mapping:
        _check_channel_name(name)
    if "train" not in mapping:
        raise ConfigError(
            f"fit needs a 'train' channel; got channels {sorted(mapping)!r}. Pass "
            "{'train': ...} or a RecordSet made with record_set(..., "
            "channel='train')."
        )
    return mapping


def _check_location(channel: str, data: Any) -> None:
    """Raise DataFormatError naming the channel when its files do not exist."""
    if isinstance(data, RecordSet):
        location: Any = data.s3_data
    elif isinstance(data, (str, os.PathLike)) or (
        isinstance(data, list) and all(isinstance(d, (str, os.PathLike)) for d in data)
    ):
        location = data
    else:
        return
    try:
        list_shards(location)
    except DataFormatError as err:
        raise DataFormatError(f"channel {channel!r}: {err}") from err


def _is_location(description: str) -> bool:
    """Whether a job's channel description is a file location (not arrays)."""
    kind = description.split(" ", 1)[0]
    return kind not in ("array", "sparse", "DataFrame", "Table")


def _describe(data: Any) -> str:
    """A short description of a channel's data for the job record."""
    if isinstance(data, RecordSet):
        return data.s3_data
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    if isinstance(data, list):
        return ", ".join(os.fspath(d) for d in data)
    features = data.features if isinstance(data, InMemoryChannel) else data[0]
    shape = getattr(features, "shape", None)
    if sp.issparse(features):
        kind = "sparse"
    elif is_arrow(features):
        kind = "Table"
    elif hasattr(features, "columns"):
        kind = "DataFrame"
    else:
        kind = "array"
    if shape is None or len(shape) != 2:
        return kind
    return f"{kind} {shape[0]}x{shape[1]}"


@contextmanager
def _job_log(path: Path) -> Iterator[None]:
    """Copy lodgepole's INFO log to the job's ``log.txt`` while training.

    Limitation: the ``lodgepole`` logger is set to INFO meanwhile, so
    handlers an application put on the root logger also see lodgepole's INFO
    lines during ``fit`` (as the SDK's ``fit(logs=True)`` shows the job log);
    log records of other threads using lodgepole at the same time land in
    this job's log too.
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    package = logging.getLogger("lodgepole")
    level = package.level
    if package.getEffectiveLevel() > logging.INFO:
        package.setLevel(logging.INFO)
    package.addHandler(handler)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(level)
        handler.close()
