"""Crash-safe training: a checkpoint per epoch, and resume after any interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lodgepole import LinearLearner, LinearModel, datasets, train
from lodgepole.exceptions import CheckpointError, JobError
from lodgepole.formats.csv import encode_csv
from lodgepole.jobs import describe_job, job_directory
from lodgepole.learn.checkpoint import CHECKPOINT_FILE, load_checkpoint

HP = {
    "predictor_type": "multiclass_classifier",
    "num_classes": 7,
    "epochs": 6,
    "shuffle": True,
    "early_stopping_patience": 10,
}


class _Interrupt(Exception):
    pass


def _stop_after(epoch: int):
    def callback(report) -> None:
        if report.epoch == epoch:
            raise _Interrupt(f"stopped after epoch {epoch}")

    return callback


@pytest.fixture(scope="module")
def channels() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return datasets.split_channels(datasets.covtype_like(20_000, seed=5), seed=0)


def test_resumed_run_ends_with_the_uninterrupted_model(channels, tmp_path: Path):
    whole = train(HP, channels["train"], channels["validation"], channels["test"])
    checkpoint = tmp_path / "run" / CHECKPOINT_FILE
    with pytest.raises(_Interrupt):
        train(
            HP,
            channels["train"],
            channels["validation"],
            callback=_stop_after(2),
            checkpoint=checkpoint,
        )
    assert load_checkpoint(checkpoint).epoch == 2
    assert os.listdir(checkpoint.parent) == [CHECKPOINT_FILE]  # no temporary left
    resumed = train(
        HP,
        channels["train"],
        channels["validation"],
        channels["test"],
        checkpoint=checkpoint,
    )
    np.testing.assert_allclose(resumed.model.weights, whole.model.weights, atol=1e-6)
    np.testing.assert_allclose(resumed.model.bias, whole.model.bias, atol=1e-6)
    assert resumed.history == whole.history
    assert resumed.best_epoch == whole.best_epoch
    assert resumed.metrics["test"] == whole.metrics["test"]


def test_checkpoint_of_another_run_or_a_damaged_one_is_refused(channels, tmp_path):
    checkpoint = tmp_path / CHECKPOINT_FILE
    with pytest.raises(_Interrupt):
        train(HP, channels["train"], callback=_stop_after(0), checkpoint=checkpoint)
    with pytest.raises(CheckpointError, match=r"another training run.*hyperparameters"):
        train({**HP, "epochs": 9}, channels["train"], checkpoint=checkpoint)
    X, y = channels["train"]
    with pytest.raises(CheckpointError, match="train_records"):
        train(HP, (X[:1000], y[:1000]), checkpoint=checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])  # truncated
    with pytest.raises(CheckpointError, match="not a readable training checkpoint"):
        train(HP, channels["train"], checkpoint=checkpoint)


def test_interrupted_job_resumes_from_its_checkpoint(channels):
    name = "resume-in-process"
    estimator = LinearLearner(**HP)
    records = {"train": channels["train"], "validation": channels["validation"]}
    with pytest.raises(_Interrupt):
        estimator.fit(records, job_name=name, callback=_stop_after(1))
    job = describe_job(name)
    assert job.status == "Failed" and "stopped after epoch 1" in job.failure_reason
    assert len(job.history) == 2
    with pytest.raises(JobError, match=r"in-memory data .* pass the same channels"):
        LinearLearner.resume(name)
    resumed = LinearLearner.resume(name, records)
    job = resumed.latest_training_job
    assert job.status == "Completed" and len(job.history) == HP["epochs"]
    assert not (job_directory(name) / CHECKPOINT_FILE).exists()  # superseded
    whole = LinearLearner(**HP).fit(records, job_name="resume-in-process-whole")
    np.testing.assert_allclose(resumed.model.weights, whole.model.weights, atol=1e-6)
    with pytest.raises(JobError, match="is Completed; only a Failed or Stopped"):
        LinearLearner.resume(name, records)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_kill_9_then_jobs_resume_reaches_the_same_model(channels, tmp_path: Path):
    paths = {}
    for channel in ("train", "validation"):
        X, y = channels[channel]
        paths[channel] = tmp_path / f"{channel}.csv"
        paths[channel].write_bytes(encode_csv(X, y))
    arguments = [
        "--predictor-type",
        "multiclass_classifier",
        "--num_classes",
        "7",
        "--train",
        str(paths["train"]),
        "--validation",
        str(paths["validation"]),
        "--epochs",
        "8",
        "--mini_batch_size",
        "20",
        "--num_models",
        "4",
        "--shuffle",
        "true",
        "--early_stopping_patience",
        "20",
    ]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lodgepole.cli",
            "train",
            *arguments,
            "--job-name",
            "killed",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    checkpoint = job_directory("killed") / CHECKPOINT_FILE
    deadline = time.monotonic() + 120
    try:
        while True:
            assert process.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline
            if checkpoint.exists() and load_checkpoint(checkpoint).epoch >= 1:
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    killed_at = load_checkpoint(checkpoint).epoch
    assert killed_at < 7
    listed = _cli("jobs", "list")
    assert "Failed" in listed.stdout and "killed" in listed.stdout

    resumed = _cli("jobs", "resume", "killed")
    assert resumed.returncode == 0, resumed.stderr
    assert "Training job killed Completed" in resumed.stdout
    whole = _cli("train", *arguments, "--job-name", "not-killed")
    assert whole.returncode == 0, whole.stderr
    a = LinearModel.load(describe_job("killed").model_path)
    b = LinearModel.load(describe_job("not-killed").model_path)
    np.testing.assert_allclose(a.weights, b.weights, atol=1e-6)
    np.testing.assert_allclose(a.bias, b.bias, atol=1e-6)
    assert len(describe_job("killed").history) == 8

    again = _cli("jobs", "resume", "killed")
    assert again.returncode == 2 and "is Completed" in again.stderr
