"""The dask executor on a real LocalCluster: two worker processes on 127.0.0.1."""

from __future__ import annotations

import copy
import logging
import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from lodgepole import datasets, train  # noqa: E402
from lodgepole.distributed import ClusterError, DaskExecutor  # noqa: E402
from lodgepole.distributed._worker import RoundResult  # noqa: E402
from lodgepole.distributed.executor import _merge  # noqa: E402
from lodgepole.exceptions import ConfigError  # noqa: E402
from lodgepole.formats.csv import encode_csv  # noqa: E402
from lodgepole.learn.results import EpochReport  # noqa: E402
from lodgepole.learn.trainer import LocalExecutor  # noqa: E402

HP = {
    "predictor_type": "multiclass_classifier",
    "num_classes": 7,
    "epochs": 5,
    "num_models": 4,
    "mini_batch_size": 200,
}


@pytest.fixture(scope="module")
def covtype(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """covtype_like, 20k records; the train channel as 4 CSV shards on disk.

    ``validation_folder`` holds the validation channel as 2 CSV shards.
    """
    channels = datasets.split_channels(datasets.covtype_like(20_000, seed=3), seed=0)
    folders = {}
    for name, shards in (("train", 4), ("validation", 2)):
        folder = tmp_path_factory.mktemp(f"covtype_{name}")
        X, y = channels[name]
        for index, rows in enumerate(np.array_split(np.arange(len(y)), shards)):
            (folder / f"part-{index}.csv").write_bytes(encode_csv(X[rows], y[rows]))
        folders[name] = str(folder)
    return {
        **channels,
        "folder": folders["train"],
        "validation_folder": folders["validation"],
    }


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            host="127.0.0.1",
            # Keeps the scheduler's HTTP server off port 8787 (see executor.py).
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _accuracy(result: object) -> float:
    return float(result.metrics["test"]["multiclass_accuracy"])  # type: ignore[attr-defined]


def test_dask_two_workers_reach_local_accuracy_within_half_a_point(covtype, client):
    local = train(HP, covtype["folder"], covtype["validation"], covtype["test"])
    with DaskExecutor(client) as executor:
        assert executor.warm_up(covtype["folder"]) == [8000, 8000]
        spread = train(
            HP,
            covtype["folder"],
            covtype["validation"],
            covtype["test"],
            executor=executor,
        )
    assert len(spread.history) == len(local.history) == HP["epochs"]
    assert abs(_accuracy(spread) - _accuracy(local)) <= 0.005
    assert _accuracy(spread) > 0.68
    assert client.status == "running"  # a client it was given stays open


def test_dask_several_syncs_per_epoch_on_in_memory_arrays(covtype, client):
    with DaskExecutor(client, syncs_per_epoch=3) as executor:
        result = train(
            HP,
            covtype["train"],
            covtype["validation"],
            covtype["test"],
            executor=executor,
        )
    local = train(HP, covtype["train"], covtype["validation"], covtype["test"])
    assert abs(_accuracy(result) - _accuracy(local)) <= 0.01


def test_local_executor_is_bit_identical_to_default_training(covtype):
    default = train(HP, covtype["train"], covtype["validation"])
    explicit = train(
        HP, covtype["train"], covtype["validation"], executor=LocalExecutor()
    )
    np.testing.assert_array_equal(default.model.weights, explicit.model.weights)
    np.testing.assert_array_equal(default.model.bias, explicit.model.bias)
    assert default.history == explicit.history


def test_merge_averages_parameters_by_records_and_adds_updates(covtype):
    from lodgepole.data.memory import as_channel
    from lodgepole.hyperparameters import Hyperparameters
    from lodgepole.learn.trainer import _Trainer

    trainer = _Trainer(
        Hyperparameters.from_dict(HP),
        {"train": as_channel("train", covtype["validation"])},
        None,
    )
    trainer.build()
    stack = trainer.stack
    stack.start_averaging()
    first, second = copy.deepcopy(stack), copy.deepcopy(stack)
    first.params = np.full_like(stack.params, 1.0)
    second.params = np.full_like(stack.params, 5.0)
    first.updates, second.updates = 2, 6
    first.start_averaging(), second.start_averaging()
    first._average_count, second._average_count = 2, 6
    for copy_, value, steps in ((first, 1.0, 2), (second, 5.0, 6)):
        moment = np.full_like(stack.params, value)
        copy_.optimizer._state = {"params": (moment, moment * 2)}
        copy_.optimizer._steps = {"params": steps}
    loss = np.zeros(stack.num_models)
    _merge(stack, [RoundResult(first, loss, 300), RoundResult(second, loss, 100)])
    np.testing.assert_allclose(stack.params, 2.0)  # (3 * 1 + 1 * 5) / 4
    assert stack.updates == 8
    first_moment, second_moment = stack.optimizer._state["params"]
    np.testing.assert_allclose(first_moment, 2.0)
    np.testing.assert_allclose(second_moment, 4.0)
    assert stack.optimizer._steps == {"params": 8}
    np.testing.assert_allclose(stack.average_params, (2 * 1.0 + 6 * 5.0) / 8)


def test_dask_executor_unreachable_address_fails_within_timeout():
    started = time.perf_counter()
    with pytest.raises(ClusterError, match=r"tcp://127\.0\.0\.1:1.*within 2 s"):
        DaskExecutor("tcp://127.0.0.1:1", timeout=2).start()
    assert time.perf_counter() - started < 10


def test_dask_executor_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="n_workers"):
        DaskExecutor()
    with pytest.raises(ConfigError, match="not both"):
        DaskExecutor("tcp://127.0.0.1:8786", n_workers=2)


@pytest.mark.parametrize(
    ("source", "validation"),
    [
        ("folder", "validation"),
        ("train", "validation"),
        ("folder", "validation_folder"),
    ],
)
def test_dask_worker_killed_after_first_epoch_training_still_completes(
    covtype, source: str, validation: str, caplog: pytest.LogCaptureFixture
):
    killed: list[str] = []

    with DaskExecutor(n_workers=2, timeout=20) as executor:

        def kill_one_worker(report: EpochReport) -> None:
            if report.epoch == 0:
                pids = executor.client.run(os.getpid)
                victim = sorted(pids)[0]
                os.kill(pids[victim], signal.SIGKILL)
                killed.append(victim)

        with caplog.at_level(logging.WARNING, logger="lodgepole"):
            result = train(
                HP,
                covtype[source],
                covtype[validation],
                covtype["test"],
                callback=kill_one_worker,
                executor=executor,
            )
    assert killed
    retried = [r for r in caplog.records if "retrying" in r.getMessage()]
    if source == "train":
        # Scattered records died with the worker: the round is re-split,
        # re-scattered and retried once. Shards are simply re-read elsewhere.
        assert len(retried) == 1
    assert len(result.history) == HP["epochs"]
    assert _accuracy(result) > 0.68


def test_dask_cluster_without_workers_stops_training_with_a_clear_error(covtype):
    with (
        distributed.LocalCluster(
            n_workers=1,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            host="127.0.0.1",
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        ) as cluster,
        distributed.Client(cluster) as client,
        DaskExecutor(client, timeout=5) as executor,
    ):

        def retire_every_worker(report: EpochReport) -> None:
            cluster.scale(0)
            deadline = time.monotonic() + 10
            while client.scheduler_info()["workers"] and time.monotonic() < deadline:
                time.sleep(0.05)

        with pytest.raises(ClusterError, match=r"failed twice.*no workers"):
            train(
                HP,
                covtype["folder"],
                covtype["validation"],
                callback=retire_every_worker,
                executor=executor,
            )


def test_dask_executor_workers_read_and_cache_their_own_shards(covtype, client):
    with DaskExecutor(client) as executor:
        assert executor.warm_up(covtype["folder"]) == [8000, 8000]

    def cached_records() -> int:
        from lodgepole.distributed import _worker

        return sum(channel.num_records for channel in _worker._CACHE.values())

    assert sorted(client.run(cached_records).values()) == [8000, 8000]
