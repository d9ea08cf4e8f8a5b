"""Channels from files, folders, globs and URLs; conversion between formats."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lodgepole import train
from lodgepole.cli import main
from lodgepole.data.convert import convert
from lodgepole.data.files import content_type_of, list_shards, read_files
from lodgepole.exceptions import DataFormatError


def _write_csv(path, X, y):
    rows = [
        ",".join(repr(float(v)) for v in [label, *row])
        for row, label in zip(X, y, strict=True)
    ]
    path.write_text("\n".join(rows) + "\n")


def _data(n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = np.round(rng.normal(size=(n, d)), 3).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    return X, y


def test_read_files_concatenates_a_folder_of_csv_shards_in_name_order(tmp_path):
    X, y = _data()
    _write_csv(tmp_path / "part-1.csv", X[30:], y[30:])
    _write_csv(tmp_path / "part-0.csv", X[:30], y[:30])
    (tmp_path / ".hidden.csv").write_text("not,data\n")
    features, labels = read_files(str(tmp_path))
    np.testing.assert_array_equal(features, X)
    np.testing.assert_array_equal(labels, y)
    globbed, _ = read_files(str(tmp_path / "part-*.csv"))
    np.testing.assert_array_equal(globbed, X)
    listed, _ = read_files([str(tmp_path / "part-0.csv"), str(tmp_path / "part-1.csv")])
    np.testing.assert_array_equal(listed, X)


def test_content_type_from_name_or_explicit():
    assert content_type_of("x.parquet") == "application/x-parquet"
    assert content_type_of("x.svm") == "text/libsvm"
    assert content_type_of("matrix_3") == "application/x-recordio-protobuf"
    with pytest.raises(DataFormatError, match="unsupported content type 'text/plain'"):
        content_type_of("x.csv", "text/plain")


def test_list_shards_names_a_missing_location(tmp_path):
    with pytest.raises(DataFormatError, match=r"no data found at .*nowhere"):
        list_shards(str(tmp_path / "nowhere"))


def test_read_files_rejects_shards_of_different_widths(tmp_path):
    X, y = _data()
    _write_csv(tmp_path / "a.csv", X, y)
    _write_csv(tmp_path / "b.csv", X[:, :3], y)
    with pytest.raises(
        DataFormatError, match=r"disagree on the feature count: \[3, 4\]"
    ):
        read_files(str(tmp_path))


def test_train_accepts_paths_for_every_channel(tmp_path):
    X, y = _data(n=600)
    _write_csv(tmp_path / "train.csv", X[:500], y[:500])
    _write_csv(tmp_path / "validation.csv", X[500:], y[500:])
    hp = {
        "predictor_type": "binary_classifier",
        "epochs": 2,
        "num_models": 2,
        "mini_batch_size": 50,
    }
    result = train(hp, str(tmp_path / "train.csv"), str(tmp_path / "validation.csv"))
    reference = train(hp, (X[:500], y[:500]), (X[500:], y[500:]))
    np.testing.assert_array_equal(result.model.weights, reference.model.weights)


@pytest.mark.parametrize("middle", ["data.pbr", "data.libsvm", "data.parquet"])
def test_convert_round_trips_through_every_format(tmp_path, middle):
    if middle.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    X, y = _data()
    _write_csv(tmp_path / "in.csv", X, y)
    assert convert(tmp_path / "in.csv", tmp_path / middle) == (60, 4)
    convert(tmp_path / middle, tmp_path / "out.csv")
    features, labels = read_files(str(tmp_path / "out.csv"))
    np.testing.assert_array_equal(features, X)
    np.testing.assert_array_equal(labels, y)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_convert_sparse_libsvm_to_recordio_stays_sparse(tmp_path):
    (tmp_path / "in.libsvm").write_text("1 1:0.5 7:2\n0 3:1.5\n")
    convert(tmp_path / "in.libsvm", tmp_path / "out.pbr")
    features, labels = read_files(str(tmp_path / "out.pbr"))
    assert sp.issparse(features)
    assert labels.tolist() == [1.0, 0.0]


def test_cli_convert(tmp_path, capsys):
    X, y = _data()
    _write_csv(tmp_path / "in.csv", X, y)
    code = main(["convert", str(tmp_path / "in.csv"), str(tmp_path / "out.pbr")])
    assert code == 0
    assert "Wrote 60 records of 4 features" in capsys.readouterr().out
    bad = main(["convert", str(tmp_path / "missing.csv"), str(tmp_path / "x.pbr")])
    assert bad == 2


def test_training_files_must_hold_float32_tensors(tmp_path):
    from lodgepole.formats.recordio import encode_records

    (tmp_path / "x.pbr").write_bytes(
        encode_records(np.ones((3, 2), dtype=np.float64), np.zeros(3))
    )
    with pytest.raises(DataFormatError, match="float32"):
        read_files(str(tmp_path / "x.pbr"))
