"""The dask executor's driver never opens train shards: the workers answer for them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from lodgepole import datasets, train  # noqa: E402
from lodgepole._types import PredictorType  # noqa: E402
from lodgepole.data.stream import StreamingChannel  # noqa: E402
from lodgepole.distributed import DaskExecutor  # noqa: E402
from lodgepole.distributed._channel import WorkerChannel  # noqa: E402
from lodgepole.exceptions import DataFormatError  # noqa: E402
from lodgepole.formats.csv import encode_csv  # noqa: E402

HP = {
    "predictor_type": "multiclass_classifier",
    "num_classes": 7,
    "epochs": 3,
    "num_models": 4,
    "mini_batch_size": 200,
}

#: Paths opened in this (the driver) process while ``_watch["folder"]`` is set.
_opened: list[str] = []
_watch: dict[str, Any] = {"folder": None, "installed": False}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    folder = _watch["folder"]
    if folder is None or event != "open" or not args:
        return
    path = args[0]
    if isinstance(path, (str, bytes, Path)):
        text = path.decode() if isinstance(path, bytes) else str(path)
        if text.startswith(folder) and text.endswith(".csv"):
            _opened.append(text)


def _watching(folder: str | None) -> None:
    if not _watch["installed"]:
        sys.addaudithook(_audit)  # audit hooks cannot be removed: guarded by _watch
        _watch["installed"] = True
    _opened.clear()
    _watch["folder"] = folder


@pytest.fixture(scope="module")
def covtype(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """covtype_like, 12k records; every channel also as CSV shards on disk.

    ``folder`` holds the train channel's 4 shards; ``validation_folder`` and
    ``test_folder`` 2 each; ``root`` holds all three folders.
    """
    channels = datasets.split_channels(datasets.covtype_like(12_000, seed=3), seed=0)
    root = tmp_path_factory.mktemp("driver_reads")
    folders = {}
    for name, shards in (("train", 4), ("validation", 2), ("test", 2)):
        folder = root / name
        folder.mkdir()
        X, y = channels[name]
        for index, rows in enumerate(np.array_split(np.arange(len(y)), shards)):
            (folder / f"part-{index}.csv").write_bytes(encode_csv(X[rows], y[rows]))
        folders[name] = str(folder)
    return {
        **channels,
        "root": str(root),
        "folder": folders["train"],
        "validation_folder": folders["validation"],
        "test_folder": folders["test"],
    }


@pytest.fixture(scope="module")
def executor() -> Iterator[DaskExecutor]:
    with DaskExecutor(n_workers=2) as started:
        yield started


def _accuracy(result: Any) -> float:
    return float(result.metrics["test"]["multiclass_accuracy"])


def test_driver_never_opens_shards_and_accuracy_matches_local(covtype, executor):
    _watching(covtype["root"])
    try:
        local = train(HP, covtype["folder"], covtype["validation"], covtype["test"])
        # The hook sees the local run read every shard in this process ...
        assert {Path(p).name for p in _opened} == {f"part-{i}.csv" for i in range(4)}
        _opened.clear()
        spread = train(
            HP,
            covtype["folder"],
            covtype["validation"],
            covtype["test"],
            executor=executor,
        )
        # ... and the dask run none: counts, checks, samples and the final
        # train metrics all ran on (or came from) the workers.
        assert _opened == []
    finally:
        _watching(None)
    assert len(spread.history) == HP["epochs"]
    assert abs(_accuracy(spread) - _accuracy(local)) <= 0.005
    assert spread.metrics["train"]["multiclass_accuracy"] > 0.6


def _local_metrics(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from lodgepole.metrics import compute_metrics

    prediction = model.predict(X)
    return compute_metrics(
        model.predictor_type,
        y,
        prediction.score,
        prediction.predicted_label,
        num_classes=7,
        top_k=3,
    )


def test_validation_and_test_files_are_scored_on_the_workers(covtype, executor):
    _watching(covtype["root"])
    try:
        spread = train(
            HP,
            covtype["folder"],
            covtype["validation_folder"],
            covtype["test_folder"],
            executor=executor,
        )
        assert _opened == []  # no shard of any channel was opened here
    finally:
        _watching(None)
    # The map-reduced metrics are those of the final model scored locally.
    for name in ("validation", "test"):
        expected = _local_metrics(spread.model, *covtype[name])
        got = spread.metrics[name]
        assert set(expected) <= set(got)
        for metric, value in expected.items():
            assert got[metric] == pytest.approx(value, abs=1e-6), (name, metric)
    # Per-epoch validation metrics and early stopping ran on them too.
    assert all("validation:objective_loss" in r for r in spread.history)
    local = train(
        HP,
        covtype["folder"],
        covtype["validation_folder"],
        covtype["test_folder"],
    )
    assert abs(_accuracy(spread) - _accuracy(local)) <= 0.005


def test_worker_channel_map_chunks_equals_local_scoring(covtype, executor):
    from lodgepole.learn._scoring import ModelPredictions

    model = train(HP, covtype["train"]).model
    shards = sorted(str(p) for p in Path(covtype["validation_folder"]).glob("*.csv"))
    remote = WorkerChannel(executor, shards, name="validation")
    streamed = StreamingChannel("validation", shards)
    got = remote.map_chunks(ModelPredictions(model), size=700)
    want = streamed.map_chunks(ModelPredictions(model), size=700)
    for index in (0, 1, 2):  # labels, scores, predicted labels in channel order
        np.testing.assert_allclose(
            np.concatenate([g[index] for g in got]),
            np.concatenate([w[index] for w in want]),
            rtol=1e-6,
        )
    # Chunks carry their channel position and never cross a shard boundary.
    starts = [start for start in remote.map_chunks(lambda b: b.start, size=700)]
    first, second = (int(n) for n in remote.counts)
    assert starts == [*range(0, first, 700), *range(first, first + second, 700)]


def test_worker_channel_answers_like_a_streaming_channel(covtype, executor):
    shards = sorted(str(p) for p in Path(covtype["folder"]).glob("*.csv"))
    streamed = StreamingChannel("train", shards)
    labels, theirs = streamed.labels, streamed.sample(500, seed=7)
    _watching(covtype["folder"])
    try:
        remote = WorkerChannel(executor, shards)
        assert remote.num_records == streamed.num_records
        assert remote.feature_dim == streamed.feature_dim
        assert remote.is_sparse is streamed.is_sparse is False
        np.testing.assert_array_equal(remote.counts, streamed.counts)
        np.testing.assert_array_equal(remote.labels, labels)
        mine = remote.sample(500, seed=7)
        np.testing.assert_array_equal(mine.features, theirs.features)
        np.testing.assert_array_equal(mine.labels, theirs.labels)
        full = remote.sample(10**9, seed=1)
        assert full.num_records == streamed.num_records
        batches = list(remote.batches(1000))
        assert _opened == []
    finally:
        _watching(None)
    expected = list(streamed.batches(1000))
    assert [b.start for b in batches] == [b.start for b in expected]
    for got, want in zip(batches, expected, strict=True):
        np.testing.assert_array_equal(got.features, want.features)
        np.testing.assert_array_equal(got.labels, want.labels)


def test_bad_label_error_names_the_shard_and_row(tmp_path, executor):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    y[25] = 2.0  # shard 2 (rows 20..29), row 5 within it
    for index, rows in enumerate(np.array_split(np.arange(40), 4)):
        (tmp_path / f"part-{index}.csv").write_bytes(encode_csv(X[rows], y[rows]))
    shards = sorted(str(p) for p in tmp_path.glob("*.csv"))
    channel = WorkerChannel(executor, shards)
    with pytest.raises(DataFormatError) as remote:
        channel.check_labels(PredictorType.BINARY, 2)
    with pytest.raises(DataFormatError) as local:
        StreamingChannel("train", shards).check_labels(PredictorType.BINARY, 2)
    assert str(remote.value) == str(local.value)
    assert "row 5" in str(remote.value) and "part-2.csv" in str(remote.value)
