"""Channels and record sets on S3, against a real S3 server (moto) on 127.0.0.1.

No client is mocked: s3fs talks HTTP to ``python -m moto.server`` started by
the ``s3_endpoint`` fixture (tests/conftest.py). Each test uses its own
bucket, so tests share the server but no data.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import numpy as np
import pytest

from lodgepole import train
from lodgepole.data import RecordSet, read_record_set, record_set
from lodgepole.data.convert import convert
from lodgepole.data.files import list_shards, read_files
from lodgepole.exceptions import DataFormatError
from lodgepole.formats.csv import encode_csv
from lodgepole.formats.recordio import decode_records, encode_records

HYPERPARAMETERS = {
    "predictor_type": "binary_classifier",
    "epochs": 2,
    "num_models": 2,
    "mini_batch_size": 100,
}


def _data(n: int = 600, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] > 0).astype(np.float32)
    return X, y


@pytest.fixture
def bucket(s3_endpoint: str, foreign_connections: list[Any]) -> tuple[Any, str]:
    """A fresh, empty bucket; returns the s3fs filesystem and the bucket name."""
    import fsspec

    fs = fsspec.filesystem("s3")
    name = f"lodgepole-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    return fs, name


def _upload_csv_shards(fs: Any, folder: str, X: np.ndarray, y: np.ndarray) -> None:
    for index, rows in enumerate(np.array_split(np.arange(len(y)), 3)):
        fs.pipe(f"{folder}/part-{index}.csv", encode_csv(X[rows], y[rows]))


def test_record_set_on_s3_reads_back_and_trains_like_in_memory(bucket):
    fs, name = bucket
    X, y = _data(n=900)
    location = f"s3://{name}/prefix/"
    train_set = record_set(
        X[:700], y[:700], location=location, num_shards=3, prefix="LL-train"
    )
    validation_set = record_set(
        X[700:], y[700:], channel="validation", location=location, prefix="LL-val"
    )

    assert train_set.s3_data == f"s3://{name}/prefix/LL-train/.amazon.manifest"
    assert train_set.location == f"s3://{name}/prefix/LL-train/"
    keys = sorted(fs.ls(f"{name}/prefix/LL-train", detail=False))
    assert [k.rsplit("/", 1)[1] for k in keys] == [
        ".amazon.manifest",
        "matrix_0.pbr",
        "matrix_1.pbr",
        "matrix_2.pbr",
    ]
    manifest = json.loads(fs.cat(f"{name}/prefix/LL-train/.amazon.manifest"))
    assert manifest == [
        {"prefix": f"s3://{name}/prefix/LL-train/"},
        "matrix_0.pbr",
        "matrix_1.pbr",
        "matrix_2.pbr",
    ]
    # Shards hold contiguous blocks, in order, byte-identical to a local encode.
    assert fs.cat(f"{name}/prefix/LL-train/matrix_1.pbr") == encode_records(
        X[233:466], y[233:466]
    )

    features, labels = read_record_set(train_set)
    np.testing.assert_array_equal(features, X[:700])
    np.testing.assert_array_equal(labels, y[:700])
    # The folder URL is read through its manifest.
    features, labels = read_files(train_set.location)
    np.testing.assert_array_equal(features, X[:700])

    from_s3 = train(HYPERPARAMETERS, train_set, validation_set)
    in_memory = train(HYPERPARAMETERS, (X[:700], y[:700]), (X[700:], y[700:]))
    np.testing.assert_array_equal(from_s3.model.weights, in_memory.model.weights)
    np.testing.assert_array_equal(from_s3.model.bias, in_memory.model.bias)
    assert isinstance(validation_set, RecordSet)


def test_csv_shards_on_s3_read_as_folder_and_as_glob(bucket):
    fs, name = bucket
    X, y = _data(n=90)
    _upload_csv_shards(fs, f"{name}/csv", X, y)
    fs.pipe(f"{name}/csv/.hidden", b"not data")

    shards = [f"s3://{name}/csv/part-{i}.csv" for i in range(3)]
    assert list_shards(f"s3://{name}/csv/") == shards
    assert list_shards(f"s3://{name}/csv/part-*.csv") == shards
    for url in (f"s3://{name}/csv/", f"s3://{name}/csv/part-*.csv", shards):
        features, labels = read_files(url)
        np.testing.assert_array_equal(features, X)
        np.testing.assert_array_equal(labels, y)
    features, labels = read_files(f"s3://{name}/csv/part-[12].csv")
    np.testing.assert_array_equal(features, X[30:])


def test_train_from_s3_folder_urls(bucket):
    fs, name = bucket
    X, y = _data(n=800, seed=1)
    _upload_csv_shards(fs, f"{name}/train", X[:600], y[:600])
    fs.pipe(f"{name}/validation/part-0.pbr", encode_records(X[600:], y[600:]))

    from_s3 = train(HYPERPARAMETERS, f"s3://{name}/train/", f"s3://{name}/validation/")
    in_memory = train(HYPERPARAMETERS, (X[:600], y[:600]), (X[600:], y[600:]))
    np.testing.assert_array_equal(from_s3.model.weights, in_memory.model.weights)
    assert from_s3.metrics["validation"] == in_memory.metrics["validation"]


def test_convert_from_s3_to_a_local_file(bucket, tmp_path):
    fs, name = bucket
    X, y = _data(n=60)
    _upload_csv_shards(fs, f"{name}/csv", X, y)
    target = tmp_path / "all.pbr"

    assert convert(f"s3://{name}/csv/", target) == (60, 4)
    features, labels = decode_records(target.read_bytes())
    np.testing.assert_array_equal(features, X)
    np.testing.assert_array_equal(labels, y)


@pytest.mark.parametrize("suffix", ["pbr", "parquet", "libsvm"])
def test_convert_from_local_to_s3(bucket, tmp_path, suffix):
    if suffix == "parquet":
        pytest.importorskip("pyarrow")
    _, name = bucket
    X, y = _data(n=40)
    local = tmp_path / "in.pbr"
    local.write_bytes(encode_records(X, y))
    assert convert(local, f"s3://{name}/out/data.{suffix}") == (40, 4)
    features, labels = read_files(f"s3://{name}/out/data.{suffix}")
    dense = features.toarray() if hasattr(features, "toarray") else features
    np.testing.assert_array_equal(dense, X)
    np.testing.assert_array_equal(labels, y)


@pytest.mark.parametrize(
    "path",
    [
        "no-such-bucket-{uuid}/train/",
        "no-such-bucket-{uuid}/train/part-0.csv",
        "{bucket}/missing/",
        "{bucket}/missing.csv",
        "{bucket}/missing-*.csv",
    ],
)
def test_unreadable_url_raises_data_format_error_naming_it(bucket, path):
    _, name = bucket
    url = "s3://" + path.format(bucket=name, uuid=uuid.uuid4().hex[:8])
    expected = re.escape(f"no data found at '{url}' (no such file or folder)")
    with pytest.raises(DataFormatError, match=expected):
        read_files(url)
    with pytest.raises(DataFormatError, match=expected):
        train(HYPERPARAMETERS, url)


@pytest.mark.parametrize("where", ["no-such-bucket-{uuid}", "{bucket}"])
def test_missing_manifest_raises_data_format_error_naming_it(bucket, where):
    _, name = bucket
    url = "s3://" + where.format(bucket=name, uuid=uuid.uuid4().hex[:8])
    url += "/LL/.amazon.manifest"
    expected = re.escape(f"'{url}' is not a readable record-set manifest")
    with pytest.raises(DataFormatError, match=expected):
        read_record_set(url)


def test_manifest_listing_a_missing_shard_names_the_shard(bucket):
    fs, name = bucket
    X, y = _data(n=20)
    rs = record_set(X, y, location=f"s3://{name}/", num_shards=2, prefix="LL")
    fs.rm(f"{name}/LL/matrix_1.pbr")
    with pytest.raises(
        DataFormatError, match=re.escape(f"s3://{name}/LL/matrix_1.pbr")
    ):
        read_record_set(rs)
