"""RecordIO-protobuf: exact bytes of SPEC section 5.3, round trips and errors.

The files under ``fixtures/`` were built by hand from the byte tables of
shared/SPEC.md section 5 (one field at a time, not with the encoder):

- ``dense_labelled.pbr``: features [[1.5, 2, 0], [0.25, -1, 3]], labels [0, 2]
- ``sparse_labelled.pbr``: rows [0, 0, 7, 0, 0] and [1, 0, 0, 0, 2], labels 1
- ``multiclass_response.pbr``: score [0.1, 0.2, 0.7], predicted_label 2
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lodgepole.exceptions import DataFormatError
from lodgepole.formats import recordio
from lodgepole.formats.record_pb2 import Record
from lodgepole.formats.recordio import (
    CONTENT_TYPE,
    decode_records,
    encode_prediction_records,
    encode_records,
    read_frames,
    write_frames,
)

FIXTURES = Path(__file__).parent / "fixtures"
MAGIC = bytes.fromhex("0a23d7ce")

DENSE_X = np.array([[1.5, 2.0, 0.0], [0.25, -1.0, 3.0]], dtype=np.float32)
DENSE_Y = np.array([0.0, 2.0], dtype=np.float32)
SPARSE_X = np.array([[0, 0, 7, 0, 0], [1, 0, 0, 0, 2]], dtype=np.float32)


def _frame(payload: bytes, cflag: int = 0) -> bytes:
    header = MAGIC + struct.pack("<I", cflag << 29 | len(payload))
    return header + payload + b"\0" * (-len(payload) % 4)


def _general(data: bytes, **kwargs: object) -> tuple[object, object]:
    """Decode through the protobuf path only."""
    return recordio._decode_general(
        data,
        "<bytes>",
        bool(kwargs.get("require_labels", False)),
        kwargs.get("feature_dim"),
        False,
    )


def _record(**tensors: tuple[str, str, dict[str, list[float]]]) -> Record:
    """A Record from {name: (map, tensor kind, fields)}."""
    record = Record()
    for map_key, (map_name, kind, fields) in tensors.items():
        tensor = getattr(getattr(record, map_name)[map_key], kind)
        tensor.SetInParent()
        for field, items in fields.items():
            getattr(tensor, field).extend(items)
    return record


def _file(*records: Record) -> bytes:
    return write_frames(r.SerializeToString() for r in records)


def _dmlc_frames(payload: bytes) -> bytes:
    """Frame a payload as the dmlc writer does: split at aligned magic words."""
    cuts = [i for i in range(0, len(payload) - 3, 4) if payload[i : i + 4] == MAGIC]
    if not cuts:
        return _frame(payload)
    bounds = [0, *cuts]
    ends = [*cuts, len(payload)]
    parts = [
        payload[b + (4 if k else 0) : e]
        for k, (b, e) in enumerate(zip(bounds, ends, strict=True))
    ]
    flags = [1] + [2] * (len(parts) - 2) + [3]
    return b"".join(_frame(p, f) for p, f in zip(parts, flags, strict=True))


# ------------------------------------------------------------ verified bytes


def test_content_type() -> None:
    assert CONTENT_TYPE == "application/x-recordio-protobuf"


def test_dense_fixture_encodes_and_decodes_exactly() -> None:
    expected = (FIXTURES / "dense_labelled.pbr").read_bytes()
    assert len(expected) == 112
    assert encode_records(DENSE_X, DENSE_Y) == expected
    for X, y in (decode_records(expected), _general(expected)):
        np.testing.assert_array_equal(X, DENSE_X)
        np.testing.assert_array_equal(y, DENSE_Y)
        assert X.dtype == np.float32 and y.dtype == np.float32


def test_dense_fixture_equals_the_protobuf_runtime_bytes() -> None:
    records = [
        _record(
            values=("features", "float32_tensor", {"values": row.tolist()}),
        )
        for row in DENSE_X
    ]
    for record, label in zip(records, DENSE_Y, strict=True):
        record.label["values"].float32_tensor.values.append(float(label))
    assert _file(*records) == encode_records(DENSE_X, DENSE_Y)


def test_unlabelled_row_payload_is_28_bytes() -> None:
    data = encode_records(DENSE_X[:1])
    assert data[4:8] == struct.pack("<I", 28)
    assert data[8:] == (FIXTURES / "dense_labelled.pbr").read_bytes()[8:36]
    X, y = decode_records(data)
    np.testing.assert_array_equal(X, DENSE_X[:1])
    assert y is None


def test_sparse_fixture_encodes_and_decodes_exactly() -> None:
    expected = (FIXTURES / "sparse_labelled.pbr").read_bytes()
    assert struct.unpack_from("<I", expected, 4)[0] == 46
    assert expected[54:56] == b"\0\0"  # two padding bytes after 46
    assert struct.unpack_from("<I", expected, 60)[0] == 51
    assert expected[-1:] == b"\0"  # one padding byte after 51
    assert encode_records(sp.csr_matrix(SPARSE_X), np.ones(2)) == expected
    X, y = decode_records(expected)
    assert sp.isspmatrix_csr(X) and X.dtype == np.float32
    np.testing.assert_array_equal(X.toarray(), SPARSE_X)
    np.testing.assert_array_equal(y, [1.0, 1.0])


def test_float64_features_use_field_3() -> None:
    data = encode_records(DENSE_X.astype(np.float64)[:1])
    assert data[8:] == bytes.fromhex(
        "0a 26 0a 06 76616c756573 12 1c 1a 1a 0a 18"
        "000000000000f83f 0000000000000040 0000000000000000"
    )
    X, _ = decode_records(data)
    np.testing.assert_array_equal(X, DENSE_X[:1])
    assert X.dtype == np.float32


def test_int_features_use_int32_tensor() -> None:
    X_int = np.array([[1, -2, 300]], dtype=np.int64)
    record = Record.FromString(read_frames(encode_records(X_int))[0])
    assert record.features["values"].WhichOneof("value") == "int32_tensor"
    X, _ = decode_records(encode_records(X_int.astype(np.int32)))
    np.testing.assert_array_equal(X, X_int)


def test_multiclass_response_record() -> None:
    expected = (FIXTURES / "multiclass_response.pbr").read_bytes()
    assert struct.unpack_from("<I", expected, 4)[0] == 56
    data = encode_prediction_records(np.array([[0.1, 0.2, 0.7]]), np.array([2]))
    assert data == expected
    record = Record.FromString(read_frames(data)[0])
    assert len(record.features) == 0
    assert list(record.label["score"].float32_tensor.values) == pytest.approx(
        [0.1, 0.2, 0.7]
    )
    assert list(record.label["predicted_label"].float32_tensor.values) == [2.0]


def test_regression_response_has_only_a_score() -> None:
    data = encode_prediction_records(np.array([41.7, -1.0]), None)
    records = [Record.FromString(p) for p in read_frames(data)]
    assert [sorted(r.label) for r in records] == [["score"], ["score"]]
    assert records[1].label["score"].float32_tensor.values[0] == -1.0


# ------------------------------------------------------------------ framing


def test_multipart_record_is_joined_with_the_magic_word() -> None:
    payload = b"abcd" + MAGIC + b"efgh" + MAGIC + b"ij"
    data = _dmlc_frames(payload)
    flags = [struct.unpack_from("<I", data, o + 4)[0] >> 29 for o in (0, 12, 24)]
    assert flags == [1, 2, 3]
    assert read_frames(data + _frame(b"z")) == [payload, b"z"]


def test_empty_data_decodes_to_no_records() -> None:
    X, y = decode_records(b"", feature_dim=4)
    assert X.shape == (0, 4) and X.dtype == np.float32 and y is None
    assert read_frames(b"") == []


def test_unpacked_encoding_is_accepted() -> None:
    # features["values"] = [1.0, 2.0] with one tag per value (not packed).
    tensor = b"\x0d" + struct.pack("<f", 1.0) + b"\x0d" + struct.pack("<f", 2.0)
    value = b"\x12" + bytes([len(tensor)]) + tensor
    entry = b"\x0a\x06values\x12" + bytes([len(value)]) + value
    X, _ = decode_records(_frame(b"\x0a" + bytes([len(entry)]) + entry))
    np.testing.assert_array_equal(X, [[1.0, 2.0]])


def test_unsorted_keys_and_mixed_dense_sparse_rows_give_sorted_csr() -> None:
    sparse = _record(
        values=(
            "features",
            "float32_tensor",
            {"values": [5.0, 3.0], "keys": [3, 0], "shape": [4]},
        )
    )
    dense = _record(values=("features", "float32_tensor", {"values": [0, 1, 0, 2]}))
    X, y = decode_records(_file(sparse, dense))
    assert sp.isspmatrix_csr(X) and X.has_sorted_indices
    np.testing.assert_array_equal(X.toarray(), [[3, 0, 0, 5], [0, 1, 0, 2]])
    assert y is None


def test_float32_only_passes_float32() -> None:
    X, _ = decode_records(encode_records(DENSE_X), float32_only=True)
    np.testing.assert_array_equal(X, DENSE_X)


# ------------------------------------------------------------------- errors


def test_write_refuses_payloads_of_2_29_bytes() -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return 1 << 29

    with pytest.raises(DataFormatError, match=r"record 1, byte offset 12: .*2\*\*29"):
        write_frames([b"abc", Huge()])


def test_bad_magic_names_record_and_offset() -> None:
    data = bytearray((FIXTURES / "dense_labelled.pbr").read_bytes())
    data[56] = 0x0B
    with pytest.raises(
        DataFormatError,
        match=r"'train\.pbr', record 1, byte offset 56: expected magic number "
        r"0xced7230a .*found 0xced7230b",
    ):
        decode_records(bytes(data), source="train.pbr")


@pytest.mark.parametrize(
    ("cut", "match"),
    [
        (60, r"record 1, byte offset 56: truncated header: expected 8 bytes, found 4"),
        (100, r"record 1, byte offset 56: truncated payload: expected 48 bytes"),
    ],
)
def test_truncation_is_an_error(cut: int, match: str) -> None:
    data = (FIXTURES / "dense_labelled.pbr").read_bytes()[:cut]
    with pytest.raises(DataFormatError, match=match):
        decode_records(data)


def test_missing_padding_is_a_truncation() -> None:
    data = (FIXTURES / "sparse_labelled.pbr").read_bytes()[:-1]
    with pytest.raises(DataFormatError, match=r"record 1, .*plus 1 padding, found 51"):
        decode_records(data)


def test_nonzero_padding_is_an_error() -> None:
    data = _frame(b"abc")[:-1] + b"\x07"
    with pytest.raises(DataFormatError, match=r"expected zero padding, found b'\\x07'"):
        read_frames(data)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ([2], r"record 0, byte offset 0: expected cflag 0 or 1 .*found 2"),
        ([3], r"record 0, byte offset 0: expected cflag 0 or 1 .*found 3"),
        ([1, 0], r"record 0, byte offset 12: expected cflag 2 or 3 .*found 0"),
        ([1, 2], r"record 0, byte offset 0: truncated multi-part record"),
        ([5], r"record 0, byte offset 0: expected cflag 0-3, found 5"),
    ],
)
def test_bad_continuation_flags(flags: list[int], match: str) -> None:
    data = b"".join(_frame(b"abcd", f) for f in flags)
    with pytest.raises(DataFormatError, match=match):
        read_frames(data)


def test_unparsable_record() -> None:
    data = encode_records(DENSE_X[:1]) + _frame(b"\xff\xff\xff")
    with pytest.raises(
        DataFormatError, match=r"record 1, byte offset 36: expected a Record protobuf"
    ):
        decode_records(data)


def test_missing_features_values() -> None:
    record = _record(other=("features", "float32_tensor", {"values": [1.0]}))
    with pytest.raises(
        DataFormatError,
        match=r"record 0, .*expected features\['values'\], .*\['other'\]",
    ):
        decode_records(_file(record))


def test_bytes_tensor_is_refused() -> None:
    record = Record()
    record.features["values"].bytes.value.append(b"x")
    with pytest.raises(DataFormatError, match=r"float32, float64 or int32 .*'bytes'"):
        decode_records(_file(record))


def test_width_differing_from_record_0() -> None:
    data = encode_records(DENSE_X) + encode_records(DENSE_X[:, :2])
    with pytest.raises(
        DataFormatError,
        match=r"record 2, byte offset 72: expected 3 features .*found 2",
    ):
        decode_records(data)


def test_width_differing_from_feature_dim() -> None:
    with pytest.raises(DataFormatError, match=r"record 0, .*expected 4 features"):
        decode_records(encode_records(DENSE_X), feature_dim=4)


def test_tensor_type_differing_from_record_0() -> None:
    data = encode_records(DENSE_X[:1]) + encode_records(DENSE_X[:1].astype(np.float64))
    with pytest.raises(
        DataFormatError,
        match=r"record 1, byte offset 36: expected 'float32_tensor' like record 0, "
        r"found 'float64_tensor'",
    ):
        decode_records(data)


def test_float32_only_refuses_float64() -> None:
    with pytest.raises(DataFormatError, match=r"training accepts only float32"):
        decode_records(encode_records(DENSE_X.astype(np.float64)), float32_only=True)


def test_missing_label_when_required() -> None:
    with pytest.raises(
        DataFormatError,
        match=r"'s', record 0, byte offset 0: expected label\['values'\]",
    ):
        decode_records(encode_records(DENSE_X), source="s", require_labels=True)


def test_labels_on_some_records_only() -> None:
    data = encode_records(DENSE_X, DENSE_Y) + encode_records(DENSE_X)
    with pytest.raises(DataFormatError, match=r"record 2, .*found none"):
        decode_records(data)


def test_label_with_two_values() -> None:
    record = _record(
        values=("features", "float32_tensor", {"values": [1.0]}),
    )
    record.label["values"].float32_tensor.values.extend([1.0, 2.0])
    with pytest.raises(DataFormatError, match=r"expected label\['values'\] to be one"):
        decode_records(_file(record))


def _sparse_record(keys: list[int], shape: list[int] | None) -> Record:
    fields: dict[str, list[float]] = {"values": [1.0] * len(keys), "keys": keys}
    if shape is not None:
        fields["shape"] = shape
    return _record(values=("features", "float32_tensor", fields))


@pytest.mark.parametrize(
    ("record", "match"),
    [
        (
            _sparse_record([1, 5], [5]),
            r"expected sparse keys < shape\[0\] = 5, .*key 5",
        ),
        (
            _sparse_record([2, 2], [5]),
            r"expected unique sparse keys, found key 2 twice",
        ),
        (_sparse_record([1], None), r"sparse tensor \(keys given\) without shape"),
        (_sparse_record([1], [2, 5]), r"expected a vector shape \[D\], found \[2, 5\]"),
    ],
)
def test_bad_sparse_tensors(record: Record, match: str) -> None:
    good = _sparse_record([0], [5])
    with pytest.raises(DataFormatError, match=r"record 1, byte offset 36: " + match):
        decode_records(_file(good, record))


def test_keys_and_values_of_different_lengths() -> None:
    record = _record(
        values=(
            "features",
            "float32_tensor",
            {"values": [1.0], "keys": [0, 1], "shape": [3]},
        )
    )
    with pytest.raises(DataFormatError, match=r"found 2 keys and 1 values"):
        decode_records(_file(record))


@pytest.mark.parametrize(
    ("features", "labels", "match"),
    [
        (np.zeros((2, 2), dtype=np.float16), None, r"found 'float16'"),
        (np.zeros(3, dtype=np.float32), None, r"2-D array .*found shape \(3,\)"),
        (np.zeros((2, 2), dtype=np.float32), np.zeros(3), r"2 values .*\(3,\)"),
        (np.array([[2**40]]), None, r"must fit int32"),
    ],
)
def test_encode_errors(features: np.ndarray, labels: object, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        encode_records(features, labels)


def test_encoding_a_record_of_2_29_bytes_is_refused() -> None:
    features = np.broadcast_to(np.float64(0), (1, 1 << 26))  # 8 bytes * 2**26
    with pytest.raises(DataFormatError, match=r"record 0, byte offset 0: .*2\*\*29"):
        encode_records(features)


def test_prediction_shape_error() -> None:
    with pytest.raises(DataFormatError, match=r"score: expected shape"):
        encode_prediction_records(np.zeros((1, 2, 3)), None)


# --------------------------------------------------------------- properties

_FLOATS32 = st.floats(width=32, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b + MAGIC * (len(b) % 3))))
def test_frames_round_trip(payloads: list[bytes]) -> None:
    data = write_frames(payloads)
    assert len(data) % 4 == 0
    assert read_frames(data) == payloads
    dmlc = b"".join(_dmlc_frames(p) for p in payloads)
    assert read_frames(dmlc) == payloads


_dense = hnp.arrays(
    np.float32,
    st.tuples(st.integers(0, 6), st.integers(1, 40)),
    elements=st.floats(width=32),
)


@settings(max_examples=60, deadline=None)
@given(_dense, st.booleans())
def test_dense_round_trip_on_both_paths(X: np.ndarray, labelled: bool) -> None:
    y = np.arange(X.shape[0], dtype=np.float32) if labelled else None
    data = encode_records(X, y)
    width = X.shape[1]
    fast = decode_records(data, feature_dim=width)
    general = _general(data, feature_dim=width)
    assert fast[0].tobytes() == X.tobytes()  # bitwise, NaN payloads included
    for F, labels in (fast, general):
        assert F.dtype == np.float32 and F.shape == X.shape
        np.testing.assert_array_equal(F, X)
        np.testing.assert_array_equal(labels, y)
    expected = _file(*(Record.FromString(p) for p in read_frames(data)))
    assert expected == data  # the numpy layout is the protobuf runtime's


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(0, 5), st.integers(1, 12)),
        elements=st.floats(allow_nan=False, width=64),
    ),
    hnp.arrays(
        np.int64,
        st.tuples(st.integers(0, 5), st.integers(1, 12)),
        elements=st.integers(-(2**31), 2**31 - 1),
    ),
)
def test_float64_and_int_round_trip(X64: np.ndarray, Xint: np.ndarray) -> None:
    X, _ = decode_records(encode_records(X64), feature_dim=X64.shape[1])
    with np.errstate(over="ignore"):  # beyond float32 range: inf
        np.testing.assert_array_equal(X, X64.astype(np.float32))
    X, _ = decode_records(encode_records(Xint), feature_dim=Xint.shape[1])
    np.testing.assert_array_equal(X, Xint.astype(np.float32))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 6), st.integers(1, 30)),
        elements=st.one_of(st.just(0.0), _FLOATS32),
    ),
    st.none() | st.lists(_FLOATS32, min_size=6, max_size=6),
)
def test_sparse_round_trip(X: np.ndarray, labels: list[float] | None) -> None:
    y = None if labels is None else np.array(labels[: X.shape[0]], dtype=np.float32)
    data = encode_records(sp.coo_matrix(X), y)
    F, decoded = decode_records(data, require_labels=y is not None)
    assert sp.isspmatrix_csr(F) and F.dtype == np.float32
    np.testing.assert_array_equal(F.toarray(), X)
    np.testing.assert_array_equal(decoded, y)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_truncation_raises_data_format_error_only(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in FIXTURES.glob("*.pbr"))))
    whole = (FIXTURES / name).read_bytes()
    boundaries = {0}
    pos = 0
    while pos < len(whole):
        pos += 8 + struct.unpack_from("<I", whole, pos + 4)[0]
        pos += -pos % 4
        boundaries.add(pos)
    cut = data.draw(st.integers(0, len(whole) - 1))
    if cut in boundaries:
        features, _ = decode_records(whole[:cut])  # a shorter, valid file
        assert features.shape[0] == sorted(boundaries).index(cut)
    else:
        with pytest.raises(DataFormatError, match=r"record \d+, byte offset \d+"):
            decode_records(whole[:cut])
