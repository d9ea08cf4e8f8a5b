"""record_set writes the SDK's sharded layout; files and manifests train like arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from lodgepole import train
from lodgepole.data import RecordSet, read_record_set, record_set
from lodgepole.exceptions import DataFormatError


def _data(n=103, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    return X, y


def test_record_set_writes_sdk_layout_and_manifest(tmp_path):
    X, y = _data()
    rs = record_set(
        X,
        y,
        channel="validation",
        location=str(tmp_path),
        num_shards=12,
        prefix="LinearLearner-test",
    )
    folder = tmp_path / "LinearLearner-test"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [".amazon.manifest"] + [f"matrix_{i:02d}.pbr" for i in range(12)]
    manifest = json.loads((folder / ".amazon.manifest").read_text())
    assert manifest[0] == {"prefix": str(folder) + "/"}
    assert manifest[1:] == [f"matrix_{i:02d}.pbr" for i in range(12)]
    assert (rs.num_records, rs.feature_dim, rs.channel) == (103, 5, "validation")
    assert (rs.s3_data_type, rs.distribution) == ("ManifestFile", "ShardedByS3Key")
    assert rs.location == str(folder) + "/"
    # Contiguous blocks of 103 // 12 = 8 records, the last takes the remainder.
    first, _ = read_record_set(str(folder / ".amazon.manifest"))
    np.testing.assert_array_equal(first, X)
    last = folder / "matrix_11.pbr"
    from lodgepole.formats.recordio import decode_records

    tail, labels = decode_records(last.read_bytes())
    np.testing.assert_array_equal(tail, X[88:])
    np.testing.assert_array_equal(labels, y[88:])


def test_record_set_round_trips_sparse_features(tmp_path):
    X = sp.random(40, 30, density=0.1, format="csr", random_state=1, dtype=np.float32)
    y = np.arange(40, dtype=np.float32) % 3
    rs = record_set(X, y, location=str(tmp_path), num_shards=3)
    features, labels = read_record_set(rs)
    assert sp.issparse(features)
    np.testing.assert_array_equal(features.toarray(), X.toarray())
    np.testing.assert_array_equal(labels, y)


def test_record_set_rejects_bad_arguments(tmp_path):
    X, y = _data(n=4)
    with pytest.raises(DataFormatError, match="one label per record"):
        record_set(X, y[:3], location=str(tmp_path))
    with pytest.raises(DataFormatError, match=r"num_shards must be in \[1, 4\]"):
        record_set(X, y, location=str(tmp_path), num_shards=5)


def test_read_record_set_rejects_a_file_that_is_not_a_manifest(tmp_path):
    bad = tmp_path / "m.manifest"
    bad.write_text("{not json")
    with pytest.raises(DataFormatError, match="not a readable record-set manifest"):
        read_record_set(str(bad))


def test_train_from_record_sets_gives_the_in_memory_model(tmp_path):
    X, y = _data(n=3000)
    hp = {
        "predictor_type": "binary_classifier",
        "epochs": 2,
        "num_models": 2,
        "mini_batch_size": 100,
    }
    train_set = record_set(X[:2500], y[:2500], location=str(tmp_path), num_shards=3)
    validation_set = record_set(
        X[2500:], y[2500:], channel="validation", location=str(tmp_path / "v")
    )
    from_files = train(hp, train_set, validation_set)
    in_memory = train(hp, (X[:2500], y[:2500]), (X[2500:], y[2500:]))
    np.testing.assert_array_equal(from_files.model.weights, in_memory.model.weights)
    assert isinstance(train_set, RecordSet)


def test_record_set_shard_size_sets_records_per_shard(tmp_path):
    X, y = _data(n=100)
    rs = record_set(X, y, location=str(tmp_path), shard_size=30, prefix="s")
    shards = sorted((tmp_path / "s").glob("*.pbr"))
    assert [p.name for p in shards] == ["matrix_0.pbr", "matrix_1.pbr", "matrix_2.pbr"]
    from lodgepole.formats.recordio import decode_records

    sizes = [decode_records(p.read_bytes())[0].shape[0] for p in shards]
    assert sizes == [33, 33, 34]  # 100 // 30 = 3 even blocks, as the SDK splits
    assert rs.num_records == 100
    with pytest.raises(DataFormatError, match="not both"):
        record_set(X, y, location=str(tmp_path), shard_size=30, num_shards=2)
