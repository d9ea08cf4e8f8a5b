from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lodgepole.exceptions import DataFormatError
from lodgepole.formats import csv as csv_format
from lodgepole.formats.csv import CONTENT_TYPE, decode_csv, encode_csv

finite_float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
awkward_float32 = st.sampled_from(
    [
        -0.0,
        1e-45,
        -1.4e-45,
        1.1754942e-38,
        1.17549435e-38,
        3.4028235e38,
        -3.4028235e38,
        0.1,
        16777217.0,
        123456.79,
        2.5e-8,
    ]
)


def tables(min_rows: int = 1) -> st.SearchStrategy[np.ndarray]:
    shapes = st.tuples(st.integers(min_rows, 12), st.integers(1, 6))
    return shapes.flatmap(
        lambda shape: hnp.arrays(
            np.float32, shape, elements=finite_float32 | awkward_float32
        )
    )


def test_content_type_is_text_csv() -> None:
    assert CONTENT_TYPE == "text/csv"


# --- exact bytes -----------------------------------------------------------


def test_encode_csv_writes_label_first_with_shortest_digits() -> None:
    body = encode_csv([[0.1, 2.0, -0.0], [1e-45, 3.4028235e38, 0.5]], [1, 0])
    assert body == b"1,0.1,2,-0\n0,1e-45,3.4028235e+38,0.5\n"


def test_encode_csv_without_labels_writes_features_only() -> None:
    assert encode_csv(np.array([[1.5, -2.0]], dtype=np.float32)) == b"1.5,-2\n"


def test_decode_csv_reads_fixture_bytes_exactly() -> None:
    features, labels = decode_csv(b"1,0.25,-3,1e-3\n0,+7,.5,6.\n")
    assert features.dtype == np.float32 and labels.dtype == np.float32
    assert features.flags.c_contiguous and labels.flags.c_contiguous
    np.testing.assert_array_equal(
        features, np.array([[0.25, -3, 1e-3], [7, 0.5, 6]], dtype=np.float32)
    )
    np.testing.assert_array_equal(labels, [1, 0])


@pytest.mark.parametrize(
    "body",
    [
        b"1,2,3\n4,5,6\n",
        b"1,2,3\n4,5,6",
        b"1,2,3\r\n4,5,6\r\n",
        b"\xef\xbb\xbf1,2,3\n4,5,6\n",
        b"1,2,3\n\n4,5,6\n\n",
        "1,2,3\n4,5,6\n",
    ],
)
def test_decode_csv_accepts_line_ending_variants(body: bytes | str) -> None:
    features, labels = decode_csv(body)
    np.testing.assert_array_equal(features, [[2, 3], [5, 6]])
    np.testing.assert_array_equal(labels, [1, 4])


def test_decode_csv_without_labels_returns_none() -> None:
    features, labels = decode_csv(b"1,2\n3,4\n", has_labels=False, feature_dim=2)
    assert labels is None
    np.testing.assert_array_equal(features, [[1, 2], [3, 4]])


def test_decode_csv_negative_zero_keeps_sign() -> None:
    features, _ = decode_csv(b"0,-0,-0.0,0\n")
    assert np.signbit(features[0]).tolist() == [True, True, False]


def test_decode_csv_matches_pandas_on_mixed_numbers() -> None:
    rng = np.random.default_rng(0)
    table = rng.normal(scale=1e3, size=(300, 5)).astype(np.float32)
    table[:, 1] = np.round(table[:, 1])
    body = encode_csv(table[:, 1:], table[:, 0])
    expected = pd.read_csv(io.BytesIO(body), header=None, dtype=np.float64)
    features, labels = decode_csv(body)
    np.testing.assert_array_equal(features, expected.to_numpy()[:, 1:].astype("f4"))
    np.testing.assert_array_equal(labels, table[:, 0])


def test_decode_csv_spans_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_format, "_CHUNK_BYTES", 7)
    table = np.arange(60, dtype=np.float32).reshape(20, 3) / 4
    features, labels = decode_csv(encode_csv(table[:, 1:], table[:, 0]))
    np.testing.assert_array_equal(features, table[:, 1:])
    np.testing.assert_array_equal(labels, table[:, 0])


# --- round trips -------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(tables(min_rows=1))
def test_csv_round_trip_with_labels(table: np.ndarray) -> None:
    features, labels = decode_csv(encode_csv(table[:, 1:], table[:, 0]))
    if table.shape[1] > 1:
        np.testing.assert_array_equal(features.view(np.uint32), table[:, 1:].view("u4"))
    np.testing.assert_array_equal(labels.view(np.uint32), table[:, 0].view(np.uint32))


@settings(max_examples=100, deadline=None)
@given(tables(min_rows=1))
def test_csv_round_trip_without_labels(table: np.ndarray) -> None:
    features, labels = decode_csv(encode_csv(table), has_labels=False)
    assert labels is None
    np.testing.assert_array_equal(features.view(np.uint32), table.view(np.uint32))


@settings(max_examples=100, deadline=None)
@given(tables(min_rows=2), st.data())
def test_decode_csv_reads_any_chunk_boundary(
    table: np.ndarray, data: st.DataObject
) -> None:
    body = encode_csv(table)
    chunk = data.draw(st.integers(1, len(body)))
    original = csv_format._CHUNK_BYTES
    csv_format._CHUNK_BYTES = chunk
    try:
        features, _ = decode_csv(body, has_labels=False)
    finally:
        csv_format._CHUNK_BYTES = original
    np.testing.assert_array_equal(features.view(np.uint32), table.view(np.uint32))


@settings(max_examples=100, deadline=None)
@given(tables(min_rows=2), st.data())
def test_decode_csv_truncated_raises_only_data_format_error(
    table: np.ndarray, data: st.DataObject
) -> None:
    body = encode_csv(table)
    cut = data.draw(st.integers(0, len(body) - 1))
    try:
        features, _ = decode_csv(
            body[:cut], has_labels=False, feature_dim=table.shape[1]
        )
    except DataFormatError:
        return
    # A cut at a line end or inside the last number still parses.
    assert features.shape[1] == table.shape[1]


# --- errors --------------------------------------------------------------------


def test_decode_csv_rejects_wrong_column_count_with_line_and_offset() -> None:
    body = b"1,2,3\n4,5,6\n7,8\n"
    with pytest.raises(
        DataFormatError,
        match=r"'shard\.csv', line 3 \(row 2, byte offset 12\): expected 3 columns "
        r"\(label \+ feature_dim=2\), got 2",
    ):
        decode_csv(body, source="shard.csv", feature_dim=2)


def test_decode_csv_rejects_row_unlike_the_first_without_feature_dim() -> None:
    with pytest.raises(DataFormatError, match=r"line 2 .*expected 3 columns \(as in"):
        decode_csv(b"1,2,3\n4,5,6,7\n")


def test_decode_csv_rejects_feature_dim_mismatch_on_first_line() -> None:
    with pytest.raises(DataFormatError, match=r"line 1 .*feature_dim=54\), got 3"):
        decode_csv(b"1,2,3\n", feature_dim=54)


def test_decode_csv_rejects_non_numeric_cell_with_row_and_column() -> None:
    with pytest.raises(
        DataFormatError,
        match=r"'x\.csv', line 2 \(row 1\), column 2 \(feature\), byte offset 10: "
        r"cell 'abc' is not a number",
    ):
        decode_csv(b"1,2,3\n4,5,abc\n", source="x.csv")


def test_decode_csv_truncates_long_bad_cell_text() -> None:
    with pytest.raises(DataFormatError, match=r"cell 'x{40}\.\.\.' is not a number"):
        decode_csv(b"1," + b"x" * 100 + b"\n")


def test_decode_csv_rejects_bad_label() -> None:
    with pytest.raises(DataFormatError, match=r"column 0 \(label\).*'yes'"):
        decode_csv(b"yes,1\n")


@pytest.mark.parametrize("cell", [b"nan", b"inf", b"-Infinity", b"NaN"])
def test_decode_csv_rejects_non_finite_cells(cell: bytes) -> None:
    with pytest.raises(DataFormatError, match=r"is not finite"):
        decode_csv(b"1,2\n0," + cell + b"\n")


@pytest.mark.parametrize("cell", [b"", b"-", b".", b"1.2.3", b"1_000", b"--1", b"0x10"])
def test_decode_csv_rejects_malformed_numbers(cell: bytes) -> None:
    with pytest.raises(DataFormatError, match=r"is not a number"):
        decode_csv(b"1," + cell + b"\n")


@pytest.mark.parametrize("body", [b"", b"\n\n", b"\xef\xbb\xbf", "\r\n"])
def test_decode_csv_rejects_empty_input(body: bytes | str) -> None:
    with pytest.raises(DataFormatError, match=r"'in\.csv': the CSV body is empty"):
        decode_csv(body, source="in.csv")


def test_encode_csv_rejects_non_finite_values() -> None:
    with pytest.raises(DataFormatError, match=r"row 0, column 2: .*nan"):
        encode_csv([[1.0, np.nan]], [0])


def test_encode_csv_rejects_label_count_mismatch() -> None:
    with pytest.raises(
        DataFormatError, match=r"labels has 1 values but features has 2"
    ):
        encode_csv(np.zeros((2, 2)), [1])


def test_encode_csv_rejects_one_dimensional_features() -> None:
    with pytest.raises(DataFormatError, match=r"features must be 2-D"):
        encode_csv(np.zeros(3))


def test_decode_csv_rejects_value_beyond_float32_range() -> None:
    with pytest.raises(DataFormatError, match=r"'1e39' is beyond the float32 range"):
        decode_csv(b"1,2\n0,1e39\n")


decimal_text = st.builds(
    lambda sign, whole, dot, part: sign + whole + dot + part,
    st.sampled_from(["", "-", "+"]),
    st.text("0123456789", max_size=18),
    st.sampled_from(["", "."]),
    st.text("0123456789", max_size=18),
).filter(lambda text: any(c.isdigit() for c in text))


@settings(max_examples=300, deadline=None)
@given(st.lists(decimal_text, min_size=1, max_size=20))
def test_decode_csv_plain_decimals_match_python_float(cells: list[str]) -> None:
    body = ",".join(cells).encode() + b"\n"
    features, _ = decode_csv(body, has_labels=False)
    expected = np.array([float(cell) for cell in cells]).astype(np.float32)
    np.testing.assert_array_equal(features[0].view(np.uint32), expected.view("u4"))


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        (b".5", 0.5),
        (b"5.", 5.0),
        (b"-.25", -0.25),
        (b"123456789012345", 123456789012345.0),
        (b"1234567890123456789", 1234567890123456789.0),
        (b"0.000000000000000000001", 1e-21),
        (b"00000000000000000012.5", 12.5),
        (b"1.5E+3", 1500.0),
        (b" 7", 7.0),
    ],
)
def test_decode_csv_reads_edge_case_numbers(cell: bytes, value: float) -> None:
    features, _ = decode_csv(b"0," + cell + b",1\n")
    assert features[0, 0] == np.float32(value)
