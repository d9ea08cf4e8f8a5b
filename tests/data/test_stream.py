"""Streaming channels: same model as in memory, bounded memory, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from lodgepole import train
from lodgepole.data import record_set
from lodgepole.data.files import list_shards
from lodgepole.data.memory import as_channel
from lodgepole.data.stream import StreamingChannel
from lodgepole.exceptions import DataFormatError


def _data(n=3000, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = np.argmax(X[:, :k] + rng.gumbel(size=(n, k)), axis=1).astype(np.float32)
    return X, y


def _shards(tmp_path, X, y, num_shards=7):
    record_set(X, y, location=str(tmp_path), num_shards=num_shards, prefix="train")
    return [s for s in list_shards(str(tmp_path / "train" / "*.pbr"))]


def test_streamed_channel_trains_the_in_memory_model(tmp_path):
    X, y = _data()
    shards = _shards(tmp_path, X[:2500], y[:2500])
    hp = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 3,
        "epochs": 3,
        "num_models": 2,
        "mini_batch_size": 128,
        "num_point_for_scaler": 700,
    }
    streamed = train(hp, shards, (X[2500:], y[2500:]), memory_budget=1)
    in_memory = train(hp, (X[:2500], y[:2500]), (X[2500:], y[2500:]))
    np.testing.assert_allclose(
        streamed.model.weights, in_memory.model.weights, rtol=1e-6, atol=1e-7
    )
    assert streamed.metrics["train"]["multiclass_accuracy"] == pytest.approx(
        in_memory.metrics["train"]["multiclass_accuracy"]
    )


def test_as_channel_streams_files_over_the_budget(tmp_path):
    X, y = _data(n=500)
    shards = _shards(tmp_path, X, y, num_shards=3)
    assert isinstance(as_channel("train", shards, budget=10), StreamingChannel)
    assert isinstance(as_channel("validation", shards, budget=10), StreamingChannel)
    assert not isinstance(as_channel("train", shards), StreamingChannel)


@pytest.mark.parametrize(
    "hp",
    [
        {"predictor_type": "multiclass_classifier", "num_classes": 3},
        {"predictor_type": "binary_classifier"},
    ],
)
def test_streamed_validation_and_test_give_the_in_memory_metrics(tmp_path, hp):
    X, y = _data(n=4000)
    if hp["predictor_type"] == "binary_classifier":
        y = (y == 0).astype(np.float32)
    record_set(
        X[3000:3500],
        y[3000:3500],
        location=str(tmp_path),
        num_shards=3,
        prefix="validation",
    )
    record_set(X[3500:], y[3500:], location=str(tmp_path), num_shards=2, prefix="test")
    hp = {**hp, "epochs": 2, "num_models": 2, "mini_batch_size": 100}
    streamed = train(
        hp,
        (X[:3000], y[:3000]),
        str(tmp_path / "validation"),
        str(tmp_path / "test"),
        memory_budget=1,
    )
    in_memory = train(
        hp, (X[:3000], y[:3000]), (X[3000:3500], y[3000:3500]), (X[3500:], y[3500:])
    )
    for channel in ("validation", "test"):
        for name, value in in_memory.metrics[channel].items():
            assert streamed.metrics[channel][name] == pytest.approx(value, rel=1e-5)


def test_streamed_batches_cross_shard_boundaries_and_shuffle_by_seed(tmp_path):
    X, y = _data(n=1000)
    channel = StreamingChannel("train", _shards(tmp_path, X, y))
    assert (channel.num_records, channel.feature_dim) == (1000, 6)
    sizes = [b.num_records for b in channel.batches(128)]
    assert sizes == [128] * 7 + [104]
    ordered = np.concatenate([b.features for b in channel.batches(128)])
    np.testing.assert_array_equal(ordered, X)
    first = np.concatenate(
        [b.labels for b in channel.batches(100, shuffle=True, seed=1)]
    )
    again = np.concatenate(
        [b.labels for b in channel.batches(100, shuffle=True, seed=1)]
    )
    other = np.concatenate(
        [b.labels for b in channel.batches(100, shuffle=True, seed=2)]
    )
    assert first.tolist() == again.tolist() != other.tolist()
    assert sorted(first.tolist()) == sorted(y.tolist())


def test_streamed_sample_equals_the_in_memory_sample(tmp_path):
    X, y = _data(n=900)
    channel = StreamingChannel("train", _shards(tmp_path, X, y))
    memory = as_channel("train", (X, y))
    np.testing.assert_array_equal(
        channel.sample(200, 5).features, memory.sample(200, 5).features
    )


def test_streamed_channel_names_the_shard_with_a_bad_label(tmp_path):
    X, y = _data(n=300)
    y[250] = 7
    channel = StreamingChannel("train", _shards(tmp_path, X, y, num_shards=3))
    from lodgepole._types import PredictorType

    with pytest.raises(DataFormatError, match=r"row 50: label must be.*matrix_2\.pbr"):
        channel.check_labels(PredictorType.MULTICLASS, 3)


_PROBE = textwrap.dedent(
    """
    import json, sys
    import lodgepole
    from lodgepole.data.files import read_files

    def status(key):
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024

    folder, budget = sys.argv[1], int(sys.argv[2])
    val_X, val_y = read_files(folder + "/validation.csv")
    hp = {"predictor_type": "multiclass_classifier", "num_classes": 7, "epochs": 2,
          "num_models": 1}
    lodgepole.train(hp, (val_X, val_y))  # load every code path first
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak-RSS counter (VmHWM) to the current RSS
    before = status("VmRSS")
    lodgepole.train(hp, folder + "/train/*.pbr", (val_X, val_y), memory_budget=budget)
    print(json.dumps(status("VmHWM") - before))
    """
)


def test_streaming_training_peak_memory_stays_under_budget(tmp_path):
    """Train on files 5x the memory budget; peak RSS grows by < budget + allowance.

    The growth is measured from the RSS just before training, after resetting
    the kernel's peak-RSS counter (Linux ``/proc/self/clear_refs``).
    """
    from lodgepole import datasets
    from lodgepole.formats.csv import encode_csv

    data = datasets.covtype_like(200_000, seed=1)
    record_set(
        data.features,
        data.labels,
        location=str(tmp_path),
        num_shards=40,
        prefix="train",
    )
    (tmp_path / "validation.csv").write_bytes(
        encode_csv(data.features[:2000], data.labels[:2000])
    )
    file_bytes = sum(p.stat().st_size for p in (tmp_path / "train").glob("*.pbr"))
    budget = file_bytes // 5
    # Fixed costs whatever the data size: two decoded shards (2.6 MB), the
    # 10,000-record scaler sample and its float64 statistics (about 8 MB), the
    # 20,000-record sample the final train metrics use (about 10 MB), slack.
    allowance = 24 * 1024**2

    def growth(limit: int) -> int:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, str(tmp_path), str(limit)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(json.loads(out.strip().splitlines()[-1]))

    assert file_bytes > 40 * 1024**2
    streamed = growth(budget)
    assert streamed < budget + allowance, (streamed, budget)
    # The same run loading the channel whole grows by more than the files:
    # this is what the budget protects against.
    assert growth(10 * file_bytes) > file_bytes


def test_record_set_folder_over_the_budget_streams_its_shards(tmp_path):
    from lodgepole.data.files import total_size

    X, y = _data(n=600)
    rs = record_set(X, y, location=str(tmp_path), num_shards=4, prefix="rs")
    shard_bytes = sum(p.stat().st_size for p in (tmp_path / "rs").glob("*.pbr"))
    assert total_size([rs.s3_data]) == shard_bytes
    channel = as_channel("train", str(tmp_path / "rs"), budget=shard_bytes - 1)
    assert isinstance(channel, StreamingChannel)
    assert len(channel.shards) == 4
    np.testing.assert_array_equal(
        np.concatenate([b.features for b in channel.batches(250)]), X
    )
