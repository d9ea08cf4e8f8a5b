"""Training jobs: every :meth:`lodgepole.LinearLearner.fit` is a named, recorded job.

A job is one row in the state database (:mod:`lodgepole.state`) and one
directory ``jobs/NAME/`` beside it holding the model artifact
(``model.tar.gz``) and the job's log (``log.txt``). The row keeps the status,
the hyperparameters, a description of each channel, per-epoch metrics (table
``job_epochs``), the final metrics per channel, the best epoch, and the
process that ran it, so :func:`list_jobs` and :func:`describe_job` work from
any process and back ``lodgepole jobs list | describe NAME``.

A job's status is ``InProgress``, ``Completed``, ``Failed`` or ``Stopped``.
A job still ``InProgress`` whose process is gone (killed, or the machine
slept through a power cut) is reported, and recorded, as ``Failed`` the next
time anyone reads it, with the reason "the training process (pid N) ended
without finishing (killed?)". Only processes on this host can be checked; a
job run on another host sharing the state directory is reported as stored.

Names follow SageMaker's rule for training job names (1 to 63 letters,
digits and hyphens, starting and ending with a letter or digit) and are
unique: a name already used is an error, as in SageMaker.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     state = Path(tmp)
...     job = create_job("doc-job", predictor_type="regressor",
...                      hyperparameters={"epochs": 1},
...                      channels={"train": "array 10x2"}, state=state)
...     append_epoch("doc-job", 0, {"train:objective_loss": 0.5}, state=state)
...     done = complete_job("doc-job", model_path=None,
...                         metrics={"train": {"mse": 0.25}}, best_epoch=0,
...                         state=state)
...     [(j.name, j.status, j.history) for j in list_jobs(state=state)]
[('doc-job', 'Completed', [{'train:objective_loss': 0.5}])]
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lodgepole._process import running, start_time
from lodgepole.exceptions import ConfigError, JobError
from lodgepole.state import connect, state_dir

__all__ = [
    "DEFAULT_BASE_JOB_NAME",
    "JOB_STATUSES",
    "Job",
    "JobError",
    "check_job_name",
    "delete_job",
    "describe_job",
    "job_directory",
    "list_jobs",
    "name_from_base",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_JOB_NAME = "linear-learner"
JOB_STATUSES = ("InProgress", "Completed", "Failed", "Stopped")
MODEL_FILE = "model.tar.gz"
LOG_FILE = "log.txt"
# SageMaker's rule for training job names.
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_STAMP_LENGTH = len("-2026-12-03-18-40-01-123")
_MAX_NAME = 63


@dataclass(frozen=True)
class Job:
    """One training job, as :func:`describe_job` reports it.

    Attributes
    ----------
    name
        The job name, e.g. ``linear-learner-2026-12-03-18-40-01-123``.
    status
        ``InProgress``, ``Completed``, ``Failed`` or ``Stopped``.
    predictor_type
        ``binary_classifier``, ``multiclass_classifier`` or ``regressor``.
    hyperparameters
        Every hyperparameter, ``auto`` values resolved where they have a
        fixed answer (``optimizer``, ``loss`` ...); ``learning_rate``, ``wd``,
        ``l1`` and ``num_models`` stay ``auto`` (each candidate model varies
        them; see ``candidate``).
    user_hyperparameters
        The hyperparameters the user set, as given to the estimator.
    channels
        Channel name to a description of its data: a path or URL, or
        ``"array 1000x54"`` for in-memory data.
    created_at, started_at, ended_at
        UTC times, ISO 8601 with milliseconds; ``ended_at`` is None while
        the job runs.
    failure_reason
        Why a Failed or Stopped job ended (``"interrupted"`` after Ctrl-C).
    model_path
        The saved model artifact (a ``.tar.gz``); None unless Completed.
    log_path
        The job's log file (lodgepole's INFO log during ``fit``).
    metrics
        Final metrics per channel: ``metrics["test"]["multiclass_accuracy"]``.
    history
        One dict of metrics per finished epoch, as ``TrainingResult.history``.
    best_epoch
        Epoch (0-based) the chosen model comes from; None unless Completed.
    candidate
        Settings of the chosen candidate model (``learning_rate``, ``wd``,
        ``l1`` ...), as ``TrainingResult.candidate``; empty unless Completed.
    pid, host
        The process that ran the job, and its host name.
    seconds
        Wall-clock duration from start to end; None while running.
    """

    name: str
    status: str
    predictor_type: str
    hyperparameters: dict[str, Any]
    user_hyperparameters: dict[str, Any]
    channels: dict[str, str]
    created_at: str
    started_at: str | None
    ended_at: str | None
    failure_reason: str | None
    model_path: str | None
    log_path: str
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    candidate: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None
    host: str = ""
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-able (for ``lodgepole jobs describe --json``).

        Examples
        --------
        >>> job = Job("j", "Completed", "regressor", {}, {}, {}, "t0", "t0",
        ...           "t1", None, "m.tar.gz", "log.txt")
        >>> job.to_dict()["status"]
        'Completed'
        """
        return dataclasses.asdict(self)


# --- names ------------------------------------------------------------------


def check_job_name(name: str) -> str:
    """Return ``name`` if it is a valid training job name, else raise ConfigError.

    Examples
    --------
    >>> check_job_name("forest-cover-1")
    'forest-cover-1'
    >>> check_job_name("forest_cover")
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.ConfigError: training job name 'forest_cover' is not valid: ...
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ConfigError(
            f"training job name {name!r} is not valid: use 1 to 63 letters, "
            "digits and hyphens, starting and ending with a letter or digit."
        )
    return name


def name_from_base(
    base: str = DEFAULT_BASE_JOB_NAME, now: datetime | None = None
) -> str:
    """A fresh job name: ``base`` plus a UTC timestamp with milliseconds.

    As the SageMaker SDK does, ``base`` is cut so the name fits 63 characters.

    Examples
    --------
    >>> name_from_base(now=datetime(2026, 12, 3, 18, 40, 1, 123456))
    'linear-learner-2026-12-03-18-40-01-123'
    >>> len(name_from_base("x" * 80))
    63
    """
    moment = now or datetime.now(timezone.utc)
    stamp = moment.strftime("%Y-%m-%d-%H-%M-%S-") + f"{moment.microsecond // 1000:03d}"
    return f"{base[: _MAX_NAME - _STAMP_LENGTH]}-{stamp}"


def job_directory(name: str, state: Path | None = None) -> Path:
    """The directory of job ``name``: ``<state dir>/jobs/<name>``.

    Examples
    --------
    >>> job_directory("j1", Path("/tmp/state")).as_posix()
    '/tmp/state/jobs/j1'
    """
    return (state_dir() if state is None else state) / "jobs" / name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# --- process liveness ----------------------------------------------------------


def _process_alive(pid: int, started: str | None) -> bool:
    """Whether ``pid`` still runs and is the process that started the job.

    On Linux a recorded start time guards against a recycled process id.
    """
    if not running(pid):
        return False
    return started is None or start_time(pid) in (None, started)


# --- rows -----------------------------------------------------------------------


def _job(row: Mapping[str, Any], history: list[dict[str, float]]) -> Job:
    return Job(
        name=row["name"],
        status=row["status"],
        predictor_type=row["predictor_type"],
        hyperparameters=json.loads(row["hyperparameters"]),
        user_hyperparameters=json.loads(row["user_hyperparameters"]),
        channels=json.loads(row["channels"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        failure_reason=row["failure_reason"],
        model_path=row["model_path"],
        log_path=row["log_path"],
        metrics=json.loads(row["metrics"]),
        history=history,
        best_epoch=row["best_epoch"],
        candidate=json.loads(row["candidate"] or "{}"),
        pid=row["pid"],
        host=row["host"],
        seconds=row["seconds"],
    )


def _seconds(started: str | None, ended: str) -> float | None:
    if started is None:
        return None
    delta = datetime.fromisoformat(ended) - datetime.fromisoformat(started)
    return round(delta.total_seconds(), 3)


def _finish(
    name: str,
    status: str,
    state: Path | None,
    *,
    only_if_running: bool = False,
    **values: Any,
) -> bool:
    """Set a final status (and other columns) in one transaction."""
    ended = _now()
    with connect(state) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT status, started_at FROM jobs WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise _not_found(name)
            if only_if_running and row["status"] != "InProgress":
                db.execute("ROLLBACK")
                return False
            columns = {
                "status": status,
                "ended_at": ended,
                "seconds": _seconds(row["started_at"], ended),
                **values,
            }
            assignments = ", ".join(f"{column} = ?" for column in columns)
            db.execute(
                f"UPDATE jobs SET {assignments} WHERE name = ?",
                (*columns.values(), name),
            )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return True


def _dead_reason(pid: int) -> str:
    return f"the training process (pid {pid}) ended without finishing (killed?)"


def _refresh(row: dict[str, Any], state: Path | None) -> dict[str, Any]:
    """Mark an InProgress job whose process on this host is gone as Failed."""
    pid = row["pid"]
    if (
        row["status"] != "InProgress"
        or pid is None
        or row["host"] != socket.gethostname()
        or _process_alive(int(pid), row["pid_started"])
    ):
        return row
    reason = _dead_reason(int(pid))
    if _finish(
        row["name"], "Failed", state, only_if_running=True, failure_reason=reason
    ):
        logger.warning("training job failed name=%s reason=%s", row["name"], reason)
    return _lookup(row["name"], state) or row


def _lookup(name: str, state: Path | None) -> dict[str, Any] | None:
    with connect(state) as db:
        row = db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
    return None if row is None else dict(row)


def _histories(state: Path | None, name: str | None = None) -> dict[str, list[Any]]:
    query = "SELECT job_name, metrics FROM job_epochs"
    args: tuple[str, ...] = ()
    if name is not None:
        query, args = query + " WHERE job_name = ?", (name,)
    out: dict[str, list[Any]] = {}
    with connect(state) as db:
        for row in db.execute(query + " ORDER BY job_name, epoch", args):
            out.setdefault(row["job_name"], []).append(json.loads(row["metrics"]))
    return out


def _not_found(name: str) -> JobError:
    return JobError(
        f"no training job named {name!r}; `lodgepole jobs list` shows the jobs "
        f"in {state_dir()}."
    )


# --- public reads -----------------------------------------------------------------


def list_jobs(*, state: Path | None = None) -> list[Job]:
    """Every training job, oldest first.

    An ``InProgress`` job whose process on this host is gone is recorded
    as ``Failed`` first.

    Parameters
    ----------
    state
        The state directory; :func:`lodgepole.state.state_dir` when None.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     list_jobs(state=Path(tmp))
    []
    """
    with connect(state) as db:
        rows = [dict(r) for r in db.execute("SELECT * FROM jobs ORDER BY rowid")]
    rows = [_refresh(row, state) for row in rows]
    histories = _histories(state)
    return [_job(row, histories.get(row["name"], [])) for row in rows]


def describe_job(name: str, *, state: Path | None = None) -> Job:
    """The training job ``name``, its status checked as in :func:`list_jobs`.

    Raises
    ------
    JobError
        If no job has that name.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     describe_job("nope", state=Path(tmp))
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.JobError: no training job named 'nope'; ...
    """
    row = _lookup(name, state)
    if row is None:
        raise _not_found(name)
    row = _refresh(row, state)
    return _job(row, _histories(state, name).get(name, []))


def delete_job(name: str, *, state: Path | None = None) -> None:
    """Remove job ``name``: its row, its epochs and its directory (model, log).

    Raises
    ------
    JobError
        If no job has that name, or it is still running.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = create_job("gone", predictor_type="regressor", hyperparameters={},
    ...                    channels={}, state=Path(tmp))
    ...     _ = fail_job("gone", "test", state=Path(tmp))
    ...     delete_job("gone", state=Path(tmp))
    ...     list_jobs(state=Path(tmp))
    []
    """
    job = describe_job(name, state=state)
    if job.status == "InProgress":
        raise JobError(
            f"training job {name!r} is still running (pid {job.pid} on "
            f"{job.host}); stop it before deleting it."
        )
    with connect(state) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM job_epochs WHERE job_name = ?", (name,))
            db.execute("DELETE FROM jobs WHERE name = ?", (name,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    shutil.rmtree(job_directory(name, state), ignore_errors=True)
    logger.info("training job deleted name=%s", name)


# --- what the estimator writes ------------------------------------------------------


def create_job(
    name: str,
    *,
    predictor_type: str,
    hyperparameters: Mapping[str, Any],
    channels: Mapping[str, str],
    user_hyperparameters: Mapping[str, Any] | None = None,
    state: Path | None = None,
) -> Job:
    """Record a new job, ``InProgress`` in this process, and make its directory.

    Raises
    ------
    ConfigError
        If the name is not valid.
    JobError
        If a job of that name exists (names are never reused).
    """
    check_job_name(name)
    directory = job_directory(name, state)
    log_path = directory / LOG_FILE
    now = _now()
    pid = os.getpid()
    with connect(state) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("SELECT 1 FROM jobs WHERE name = ?", (name,)).fetchone():
                raise JobError(
                    f"training job {name!r} already exists; job names are never "
                    "reused: choose another name (or delete the old job with "
                    f"`lodgepole jobs delete {name}`)."
                )
            db.execute(
                "INSERT INTO jobs (name, status, predictor_type, hyperparameters,"
                " user_hyperparameters, channels, created_at, started_at,"
                " log_path, directory, metrics, pid, pid_started, host)"
                " VALUES (?, 'InProgress', ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?)",
                (
                    name,
                    predictor_type,
                    json.dumps(dict(hyperparameters)),
                    json.dumps(dict(user_hyperparameters or {})),
                    json.dumps(dict(channels)),
                    now,
                    now,
                    str(log_path),
                    str(directory),
                    pid,
                    start_time(pid),
                    socket.gethostname(),
                ),
            )
            db.execute("DELETE FROM job_epochs WHERE job_name = ?", (name,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    shutil.rmtree(directory, ignore_errors=True)  # left by a deleted job's row
    directory.mkdir(parents=True)
    log_path.touch()
    logger.info("training job created name=%s", name)
    return describe_job(name, state=state)


def append_epoch(
    name: str, epoch: int, metrics: Mapping[str, float], *, state: Path | None = None
) -> None:
    """Record the metrics of one finished epoch of job ``name``."""
    with connect(state) as db:
        db.execute(
            "INSERT OR REPLACE INTO job_epochs (job_name, epoch, metrics)"
            " VALUES (?, ?, ?)",
            (name, int(epoch), json.dumps(dict(metrics))),
        )


def complete_job(
    name: str,
    *,
    model_path: Path | str | None,
    metrics: Mapping[str, Mapping[str, float]],
    best_epoch: int,
    candidate: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    state: Path | None = None,
) -> Job:
    """Mark job ``name`` Completed with its model, final metrics and best epoch."""
    values: dict[str, Any] = {
        "model_path": None if model_path is None else str(model_path),
        "metrics": json.dumps({k: dict(v) for k, v in metrics.items()}),
        "best_epoch": int(best_epoch),
        "candidate": json.dumps(dict(candidate or {})),
        "failure_reason": None,
    }
    if hyperparameters is not None:
        values["hyperparameters"] = json.dumps(dict(hyperparameters))
    _finish(name, "Completed", state, **values)
    job = describe_job(name, state=state)
    logger.info("training job completed name=%s seconds=%s", name, job.seconds)
    return job


def restart_job(name: str, *, state: Path | None = None) -> Job:
    """Mark a Failed or Stopped job InProgress again, in this process (resume).

    Raises
    ------
    JobError
        If no job has that name, or it is Completed or still running.
    """
    job = describe_job(name, state=state)  # marks a dead InProgress job Failed
    if job.status not in ("Failed", "Stopped"):
        still = "still running" if job.status == "InProgress" else "Completed"
        raise JobError(
            f"training job {name!r} is {still}; only a Failed or Stopped job "
            "can be resumed."
        )
    pid = os.getpid()
    with connect(state) as db:
        db.execute(
            "UPDATE jobs SET status = 'InProgress', ended_at = NULL, seconds = NULL,"
            " failure_reason = NULL, pid = ?, pid_started = ?, host = ?"
            " WHERE name = ?",
            (pid, start_time(pid), socket.gethostname(), name),
        )
    logger.info("training job restarted name=%s", name)
    return describe_job(name, state=state)


def fail_job(
    name: str, reason: str, *, status: str = "Failed", state: Path | None = None
) -> Job:
    """Mark job ``name`` Failed (or Stopped) with ``reason``."""
    if status not in ("Failed", "Stopped"):
        raise ConfigError(f"status must be 'Failed' or 'Stopped'; got {status!r}.")
    _finish(name, status, state, failure_reason=reason)
    logger.info("training job %s name=%s reason=%s", status.lower(), name, reason)
    return describe_job(name, state=state)
