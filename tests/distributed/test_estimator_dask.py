"""The estimator and CLI on real Dask clusters.

One test uses ``instance_count=2`` (a LocalCluster of worker processes that
the estimator starts and stops); the other starts a scheduler and two
workers as separate processes with the ``dask scheduler`` and ``dask
worker`` commands on 127.0.0.1 and submits training to them by address,
through ``lodgepole train --scheduler``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pytest

pytest.importorskip("distributed")

from lodgepole import LinearLearner, datasets
from lodgepole.formats.csv import encode_csv

HP = {"num_classes": 7, "epochs": 4, "num_models": 4, "mini_batch_size": 200}


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    channels = datasets.split_channels(datasets.covtype_like(12_000, seed=5), seed=5)
    folder = tmp_path_factory.mktemp("shards")
    X, y = channels["train"]
    for i, part in enumerate(np.array_split(np.arange(len(y)), 4)):
        (folder / f"part-{i}.csv").write_bytes(encode_csv(X[part], y[part]))
    validation = folder.parent / "validation.csv"
    validation.write_bytes(encode_csv(*channels["validation"]))
    return {
        "train": str(folder),
        "validation": str(validation),
        "test": channels["test"],
    }


def _accuracy(estimator: LinearLearner, test: tuple[np.ndarray, np.ndarray]) -> float:
    assert estimator.model is not None
    predicted = estimator.model.predict(test[0]).predicted_label
    return float(np.mean(predicted == test[1]))


class _Interrupt(Exception):
    pass


def test_a_dask_job_resumed_on_dask_ends_with_the_uninterrupted_model(shards):
    """Files read by the workers, stopped after epoch 1, resumed on 2 workers."""
    from lodgepole.jobs import describe_job

    data = {"train": shards["train"], "validation": shards["validation"]}
    hp = {**HP, "shuffle": True, "early_stopping_patience": 10}

    def stop_after_epoch_1(report) -> None:
        if report.epoch == 1:
            raise _Interrupt("stopped")

    whole = LinearLearner("multiclass_classifier", instance_count=2, **hp).fit(data)
    with pytest.raises(_Interrupt):
        LinearLearner("multiclass_classifier", instance_count=2, **hp).fit(
            data, job_name="dask-cut", callback=stop_after_epoch_1
        )
    assert describe_job("dask-cut").status == "Failed"
    resumed = LinearLearner.resume("dask-cut", instance_count=2)  # files re-read
    np.testing.assert_allclose(resumed.model.weights, whole.model.weights, atol=1e-6)
    assert len(resumed.latest_training_job.history) == hp["epochs"]


def test_instance_count_two_trains_on_a_local_cluster(shards):
    data = {"train": shards["train"], "validation": shards["validation"]}
    local = LinearLearner("multiclass_classifier", **HP).fit(data)
    started = time.perf_counter()
    dask = LinearLearner("multiclass_classifier", instance_count=2, **HP).fit(data)
    assert time.perf_counter() - started < 120
    job = dask.latest_training_job
    assert job is not None and job.status == "Completed"
    assert job.user_hyperparameters or job.hyperparameters
    gap = abs(_accuracy(dask, shards["test"]) - _accuracy(local, shards["test"]))
    assert gap <= 0.005, gap


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory) -> Iterator[str]:
    """A scheduler and two workers, each its own process, on 127.0.0.1."""
    log = tmp_path_factory.mktemp("dask-logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    logs: list[IO[bytes]] = []

    def _log(path: Path) -> IO[bytes]:
        logs.append(open(path, "wb"))  # noqa: SIM115 - closed in finally
        return logs[-1]

    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    processes = [
        subprocess.Popen(
            [
                *dask,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=_log(log / "scheduler.log"),
            stderr=subprocess.STDOUT,
            env=env,
        )
    ]
    for i in range(2):
        processes.append(
            subprocess.Popen(
                [
                    *dask,
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--name",
                    f"worker-{i}",
                ],
                stdout=_log(log / f"worker-{i}.log"),
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
    try:
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=30)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for handle in logs:
            handle.close()


def test_cli_trains_on_a_scheduler_given_by_address(shards, scheduler_address):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lodgepole.cli",
            "train",
            "--predictor-type",
            "multiclass_classifier",
            "--train",
            shards["train"],
            "--validation",
            shards["validation"],
            "--scheduler",
            scheduler_address,
            "--job-name",
            "trained-on-a-scheduler",
            *[item for k, v in HP.items() for item in (f"--{k}", str(v))],
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    described = subprocess.run(
        [
            sys.executable,
            "-m",
            "lodgepole.cli",
            "jobs",
            "describe",
            "trained-on-a-scheduler",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    job = json.loads(described.stdout)
    assert job["status"] == "Completed"
    assert job["metrics"]["validation"]["multiclass_accuracy"] > 0.6


def test_cli_unreachable_scheduler_fails_fast_in_one_line(shards):
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lodgepole.cli",
            "train",
            "--predictor-type",
            "multiclass_classifier",
            "--train",
            shards["train"],
            "--scheduler",
            "tcp://127.0.0.1:1",
            "--num_classes",
            "7",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert time.perf_counter() - started < 90
    assert done.returncode == 2, done.stderr
    assert "tcp://127.0.0.1:1" in done.stderr and "Traceback" not in done.stderr
