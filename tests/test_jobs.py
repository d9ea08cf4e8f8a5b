"""The training jobs store: names, round trips, deletion, and dead processes.

Each test keeps its jobs in a state directory of its own (``tmp_path``);
subprocesses get it through ``LODGEPOLE_HOME``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from lodgepole.exceptions import ConfigError, LodgepoleError
from lodgepole.jobs import (
    Job,
    JobError,
    append_epoch,
    check_job_name,
    complete_job,
    create_job,
    delete_job,
    describe_job,
    fail_job,
    job_directory,
    list_jobs,
    name_from_base,
)
from lodgepole.state import connect

_SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def _create(name: str, state: Path) -> Job:
    return create_job(
        name,
        predictor_type="regressor",
        hyperparameters={"predictor_type": "regressor", "epochs": 2},
        user_hyperparameters={"predictor_type": "regressor", "epochs": "2"},
        channels={"train": "array 10x2"},
        state=state,
    )


def _run_python(script: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LODGEPOLE_HOME": str(state)},
    )


def test_name_from_base_is_sdk_timestamp_with_milliseconds() -> None:
    moment = datetime(2026, 12, 3, 18, 40, 1, 123999)
    assert name_from_base(now=moment) == "linear-learner-2026-12-03-18-40-01-123"
    assert name_from_base("forest", moment) == "forest-2026-12-03-18-40-01-123"
    long = name_from_base("b" * 100, moment)
    assert len(long) == 63
    assert long.endswith("-2026-12-03-18-40-01-123")
    assert _SAGEMAKER_NAME.match(long)


@pytest.mark.parametrize("bad", ["", "-lead", "trail-", "under_score", "x" * 64])
def test_check_job_name_rejects_names_sagemaker_rejects(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"training job name .* is not valid"):
        check_job_name(bad)


def test_job_round_trip_records_epochs_metrics_and_process(tmp_path: Path) -> None:
    job = _create("round-trip", tmp_path)
    assert job.status == "InProgress"
    assert job.pid == os.getpid()
    assert job.ended_at is None and job.seconds is None
    assert Path(job.log_path) == job_directory("round-trip", tmp_path) / "log.txt"
    assert Path(job.log_path).is_file()

    append_epoch("round-trip", 0, {"train:objective_loss": 0.5}, state=tmp_path)
    append_epoch("round-trip", 1, {"train:objective_loss": 0.25}, state=tmp_path)
    done = complete_job(
        "round-trip",
        model_path=tmp_path / "m.tar.gz",
        metrics={"train": {"mse": 0.1}, "test": {"mse": 0.2}},
        best_epoch=1,
        hyperparameters={"predictor_type": "regressor", "epochs": 2, "wd": "auto"},
        state=tmp_path,
    )

    assert done.status == "Completed"
    assert done.history == [
        {"train:objective_loss": 0.5},
        {"train:objective_loss": 0.25},
    ]
    assert done.metrics == {"train": {"mse": 0.1}, "test": {"mse": 0.2}}
    assert done.best_epoch == 1
    assert done.hyperparameters["wd"] == "auto"
    assert done.user_hyperparameters == {"predictor_type": "regressor", "epochs": "2"}
    assert done.model_path == str(tmp_path / "m.tar.gz")
    assert done.seconds is not None and done.seconds >= 0
    assert done.ended_at is not None and done.ended_at >= done.started_at
    assert json.loads(json.dumps(done.to_dict()))["channels"] == {"train": "array 10x2"}
    assert describe_job("round-trip", state=tmp_path) == done


def test_list_jobs_oldest_first(tmp_path: Path) -> None:
    for name in ("first", "second", "third"):
        _create(name, tmp_path)
    assert [j.name for j in list_jobs(state=tmp_path)] == ["first", "second", "third"]


def test_create_job_rejects_a_name_already_used(tmp_path: Path) -> None:
    _create("taken", tmp_path)
    fail_job("taken", "test", state=tmp_path)
    with pytest.raises(JobError, match="'taken' already exists"):
        _create("taken", tmp_path)


def test_describe_job_names_the_missing_job(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="no training job named 'ghost'") as info:
        describe_job("ghost", state=tmp_path)
    assert isinstance(info.value, LodgepoleError)


def test_fail_job_keeps_reason_and_status(tmp_path: Path) -> None:
    _create("stopped", tmp_path)
    job = fail_job("stopped", "stopped by user", status="Stopped", state=tmp_path)
    assert (job.status, job.failure_reason) == ("Stopped", "stopped by user")
    with pytest.raises(ConfigError, match="'Failed' or 'Stopped'"):
        fail_job("stopped", "x", status="Completed", state=tmp_path)


def test_delete_job_removes_row_epochs_and_directory(tmp_path: Path) -> None:
    _create("doomed", tmp_path)
    append_epoch("doomed", 0, {"train:objective_loss": 1.0}, state=tmp_path)
    with pytest.raises(JobError, match="still running"):
        delete_job("doomed", state=tmp_path)
    fail_job("doomed", "test", state=tmp_path)

    delete_job("doomed", state=tmp_path)

    assert list_jobs(state=tmp_path) == []
    assert not job_directory("doomed", tmp_path).exists()
    with connect(tmp_path) as db:
        assert db.execute("SELECT count(*) FROM job_epochs").fetchone()[0] == 0
    again = _create("doomed", tmp_path)  # a deleted name may be used again
    assert again.history == []


def test_jobs_created_in_another_process_are_listed(tmp_path: Path) -> None:
    _create("from-parent", tmp_path)
    done = _run_python(
        """
        from lodgepole.jobs import create_job, fail_job, list_jobs
        create_job("from-child", predictor_type="regressor", hyperparameters={},
                   channels={})
        fail_job("from-child", "done in child")
        print(" ".join(job.name for job in list_jobs()))
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["from-parent", "from-child"]
    child = describe_job("from-child", state=tmp_path)
    assert (child.status, child.failure_reason) == ("Failed", "done in child")


def test_job_of_a_dead_process_is_reported_and_recorded_failed(
    tmp_path: Path,
) -> None:
    done = _run_python(
        """
        import os
        from lodgepole.jobs import append_epoch, create_job
        job = create_job("orphan", predictor_type="regressor", hyperparameters={},
                         channels={})
        append_epoch("orphan", 0, {"train:objective_loss": 1.0})
        print(job.pid, flush=True)
        os._exit(9)  # no cleanup, as if killed
        """,
        tmp_path,
    )
    assert done.returncode == 9, done.stderr
    pid = int(done.stdout)
    with connect(tmp_path) as db:
        row = db.execute("SELECT status FROM jobs WHERE name = 'orphan'").fetchone()
    assert row["status"] == "InProgress"  # nobody has looked yet

    [job] = list_jobs(state=tmp_path)

    reason = f"the training process (pid {pid}) ended without finishing (killed?)"
    assert (job.status, job.failure_reason) == ("Failed", reason)
    assert job.ended_at is not None
    assert job.history == [{"train:objective_loss": 1.0}]
    with connect(tmp_path) as db:
        row = db.execute("SELECT status FROM jobs WHERE name = 'orphan'").fetchone()
    assert row["status"] == "Failed"  # recorded, not only reported


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_recycled_process_id_does_not_keep_a_job_running(tmp_path: Path) -> None:
    _create("recycled", tmp_path)
    with connect(tmp_path) as db:  # as if another process had this pid before
        db.execute("UPDATE jobs SET pid_started = '1' WHERE name = 'recycled'")
    job = describe_job("recycled", state=tmp_path)
    assert job.status == "Failed"
    assert f"(pid {os.getpid()})" in str(job.failure_reason)


def test_live_job_stays_in_progress(tmp_path: Path) -> None:
    _create("alive", tmp_path)
    assert describe_job("alive", state=tmp_path).status == "InProgress"
