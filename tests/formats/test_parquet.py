from __future__ import annotations

import builtins
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.parquet import read_parquet, write_parquet

awkward_float32 = st.sampled_from([-0.0, 1e-45, 3.4028235e38, -3.4028235e38, 0.1])
values = st.floats(width=32, allow_nan=False, allow_infinity=False) | awkward_float32


def table_bytes(table: pa.Table) -> io.BytesIO:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return io.BytesIO(sink.getvalue())


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(st.integers(0, 8), st.integers(0, 5)).flatmap(
        lambda shape: hnp.arrays(np.float32, (shape[0], shape[1] + 1), elements=values)
    )
)
def test_parquet_round_trip(table: np.ndarray) -> None:
    sink = io.BytesIO()
    write_parquet(sink, table[:, 1:], table[:, 0])
    features, labels, names = read_parquet(io.BytesIO(sink.getvalue()))
    assert features.dtype == np.float32 and features.flags.c_contiguous
    assert features.shape == table[:, 1:].shape
    np.testing.assert_array_equal(features.view(np.uint32), table[:, 1:].view("u4"))
    np.testing.assert_array_equal(labels.view(np.uint32), table[:, 0].view("u4"))
    assert names == tuple(f"feature_{j}" for j in range(table.shape[1] - 1))


def test_write_parquet_stores_label_first_as_float32(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    write_parquet(path, [[1, 2]], [5], feature_names=["a", "b"], label_name="y")
    schema = pq.read_schema(path)
    assert schema.names == ["y", "a", "b"]
    assert all(field.type == pa.float32() for field in schema)
    assert [p.name for p in tmp_path.iterdir()] == ["train.parquet"]


def test_read_parquet_label_by_name_and_position() -> None:
    table = pa.table({"x": [1, 2], "target": [0.5, 1.5], "z": [3, 4]})
    features, labels, names = read_parquet(table_bytes(table), label_column="target")
    np.testing.assert_array_equal(features, [[1, 3], [2, 4]])
    np.testing.assert_array_equal(labels, [0.5, 1.5])
    assert names == ("x", "z")
    _, labels, names = read_parquet(table_bytes(table), label_column=-1)
    np.testing.assert_array_equal(labels, [3, 4])
    assert names == ("x", "target")


def test_read_parquet_missing_label_column() -> None:
    table = pa.table({"a": [1.0], "b": [2.0]})
    with pytest.raises(
        DataFormatError,
        match=r"'t\.parquet': label column 'label' not found; the table has columns "
        r"\['a', 'b'\]",
    ):
        read_parquet(table_bytes(table), label_column="label", source="t.parquet")
    with pytest.raises(DataFormatError, match=r"label column 2 not found"):
        read_parquet(table_bytes(table), label_column=2)


def test_read_parquet_rejects_non_numeric_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"label": [1.0], "colour": ["red"]}), path)
    with pytest.raises(
        DataFormatError, match=r"bad\.parquet', column 'colour': type 'string' is not"
    ):
        read_parquet(path)


def test_read_parquet_rejects_nulls_naming_column_and_row() -> None:
    table = pa.table({"label": [1.0, 0.0, 1.0], "f": pa.array([1.0, None, None])})
    with pytest.raises(DataFormatError, match=r"column 'f', row 1: null value"):
        read_parquet(table_bytes(table))


def test_read_parquet_rejects_nan() -> None:
    table = pa.table({"label": [1.0, float("nan")]})
    with pytest.raises(DataFormatError, match=r"column 'label', row 1: value nan"):
        read_parquet(table_bytes(table))


def test_write_parquet_rejects_bad_names_and_shapes() -> None:
    with pytest.raises(DataFormatError, match=r"2 unique names"):
        write_parquet(io.BytesIO(), np.zeros((1, 2)), [0], feature_names=["a", "a"])
    with pytest.raises(DataFormatError, match=r"2 unique names"):
        write_parquet(io.BytesIO(), np.zeros((1, 2)), [0], feature_names=["label", "a"])
    with pytest.raises(DataFormatError, match=r"do not match"):
        write_parquet(io.BytesIO(), np.zeros((2, 2)), [0])


def test_missing_pyarrow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("pyarrow"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(ImportError, match=r"pip install 'lodgepole\[parquet\]'"):
        read_parquet(io.BytesIO())
