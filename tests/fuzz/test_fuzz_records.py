"""Fuzzing Record protobuf decoding: ``decode_records``, fast and general paths.

Inputs: arbitrary bytes, arbitrary payloads in well-formed frames, mutated
bodies written by ``encode_records`` (dense float32 for the numpy fast
path; float64, int32 and sparse for the general path) and Record messages
built field by field with random keys, shapes and values. The decoder must
return float32 features with one row per record (and labels to match) or
raise DataFormatError; whenever the fast path accepts a body, the general
path must decode it to the same arrays.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from lodgepole.exceptions import DataFormatError
from lodgepole.formats._recordio_layout import _decode_fast
from lodgepole.formats.record_pb2 import Record
from lodgepole.formats.recordio import (
    _decode_general,
    decode_records,
    encode_records,
    read_frames,
    write_frames,
)
from tests.fuzz._support import decode_or_reject, frame, fuzz_settings, mutated

_PEAK_LIMIT = 10 * 2**20

_options = st.fixed_dictionaries(
    {
        "require_labels": st.booleans(),
        "feature_dim": st.none() | st.integers(0, 6),
        "float32_only": st.booleans(),
    }
)


def _check(data: bytes, options: dict[str, object]) -> None:
    """Decode ``data``; check a result is well-formed and both paths agree."""
    result = decode_or_reject(lambda: decode_records(data, **options))  # type: ignore[arg-type]
    if isinstance(result, DataFormatError):
        return
    X, y = result
    num_records = len(read_frames(data))
    assert X.dtype == np.float32
    assert X.ndim == 2 and X.shape[0] == num_records
    if options["feature_dim"] is not None:
        assert X.shape[1] == options["feature_dim"]
    if sp.issparse(X):
        assert isinstance(X, sp.csr_matrix)
        X.check_format(full_check=True)
        assert X.has_sorted_indices
    else:
        assert isinstance(X, np.ndarray)
    if options["require_labels"]:
        assert y is not None
    if y is not None:
        assert isinstance(y, np.ndarray)
        assert y.dtype == np.float32 and y.shape == (num_records,)

    fast = _decode_fast(data, options["require_labels"], options["feature_dim"])  # type: ignore[arg-type]
    if fast is not None:
        general = _decode_general(
            data,
            "<bytes>",
            options["require_labels"],  # type: ignore[arg-type]
            options["feature_dim"],  # type: ignore[arg-type]
            options["float32_only"],  # type: ignore[arg-type]
        )
        np.testing.assert_array_equal(fast[0], general[0])
        assert (fast[1] is None) == (general[1] is None)
        if fast[1] is not None:
            np.testing.assert_array_equal(fast[1], general[1])


_finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def _encoded(draw: st.DrawFn) -> bytes:
    """A body made by encode_records: dense of any dtype, or sparse."""
    rows = draw(st.integers(1, 4))
    cols = draw(st.integers(1, 4))
    values = np.array(
        draw(st.lists(_finite32, min_size=rows * cols, max_size=rows * cols)),
        dtype=np.float32,
    ).reshape(rows, cols)
    kind = draw(st.sampled_from(["float32", "float32", "float64", "int32", "sparse"]))
    if kind == "sparse":
        features: object = sp.csr_matrix(values * (values > 0))
    elif kind == "int32":
        features = np.clip(values, -1e6, 1e6).astype(np.int32)
    else:
        features = values.astype(kind)
    labels = None
    if draw(st.booleans()):
        labels = np.array(draw(st.lists(_finite32, min_size=rows, max_size=rows)))
    return encode_records(features, labels)  # type: ignore[arg-type]


@fuzz_settings()
@given(data=st.binary(max_size=256), options=_options)
def test_arbitrary_bytes(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


@fuzz_settings()
@given(payloads=st.lists(st.binary(max_size=64), max_size=4), options=_options)
def test_arbitrary_payloads_in_good_frames(
    payloads: list[bytes], options: dict[str, object]
) -> None:
    """Good framing, so every payload reaches the protobuf parser."""
    _check(write_frames(payloads), options)


@fuzz_settings(scale=3)
@given(data=mutated(_encoded(), recordio=True), options=_options)
def test_mutated_encoded_records(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


@fuzz_settings()
@given(data=_encoded(), options=_options)
def test_valid_encoded_records(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


_u64 = st.one_of(
    st.integers(0, 8),
    st.sampled_from([2**31 - 1, 2**31, 2**32, 2**53, 2**63 - 1, 2**63, 2**64 - 1]),
    st.integers(0, 2**64 - 1),
)
_any32 = st.floats(width=32)


@st.composite
def _tensor_fields(draw: st.DrawFn) -> dict[str, list[object]]:
    kind = draw(st.sampled_from(["float32_tensor", "float64_tensor", "int32_tensor"]))
    number = {
        "float32_tensor": _any32,
        "float64_tensor": st.floats(),
        "int32_tensor": st.integers(-(2**31), 2**31 - 1),
    }[kind]
    return {
        "kind": [kind],
        "values": draw(st.lists(number, max_size=4)),
        "keys": draw(st.lists(_u64, max_size=4)),
        "shape": draw(st.lists(_u64, max_size=3)),
    }


def _set_value(value: object, fields: dict[str, list[object]]) -> None:
    tensor = getattr(value, fields["kind"][0])
    tensor.SetInParent()
    tensor.values.extend(fields["values"])
    tensor.keys.extend(fields["keys"])
    tensor.shape.extend(fields["shape"])


@st.composite
def _built_records(draw: st.DrawFn) -> bytes:
    """Records with random tensor types, keys, shapes and values, field by field."""
    payloads = []
    for _ in range(draw(st.integers(1, 4))):
        record = Record()
        if draw(st.integers(0, 9)):  # mostly present
            _set_value(record.features["values"], draw(_tensor_fields()))
        if draw(st.booleans()):
            _set_value(record.label["values"], draw(_tensor_fields()))
        if draw(st.integers(0, 9)) == 0:
            record.features["other"].bytes.value.append(b"x")
        payload = record.SerializeToString()
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
            # Raw map entries: any key bytes (proto2 strings are unchecked).
            key = draw(st.binary(max_size=8) | st.just(b"values"))
            tensor = _field(2, _field(1, draw(st.binary(max_size=12))))
            entry = _field(1, key) + _field(2, tensor)
            payload += _field(draw(st.sampled_from([1, 2])), entry)
        payloads.append(payload)
    return write_frames(payloads)


@fuzz_settings(scale=3)
@given(data=_built_records(), options=_options)
def test_built_records(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


# ----------------------------------------------------- bounded memory on lies


def _record_with(shape: list[int], keys: list[int], values: list[float]) -> bytes:
    record = Record()
    tensor = record.features["values"].float32_tensor
    tensor.SetInParent()
    tensor.shape.extend(shape)
    tensor.keys.extend(keys)
    tensor.values.extend(values)
    return record.SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes([*out, value])


def _field(number: int, body: bytes) -> bytes:
    """A length-delimited protobuf field, its length stated truthfully."""
    return bytes([number << 3 | 2]) + _varint(len(body)) + body


def _features_entry(tensor: bytes) -> bytes:
    """features["values"].float32_tensor holding the given tensor bytes."""
    return _field(1, _field(1, b"values") + _field(2, _field(2, tensor)))


_LIARS = {
    # A packed float field whose length varint claims 2**29 - 1 bytes.
    "packed values claim 2**29-1 bytes": frame(
        _features_entry(b"\x0a" + _varint(2**29 - 1) + b"\0" * 8)
    ),
    # A packed keys field claiming 2**32 varints' worth of bytes.
    "packed keys claim 2**32 bytes": frame(
        _features_entry(b"\x12" + _varint(2**32) + b"\x01" * 8)
    ),
    # The map entry itself claims 2**29 - 1 bytes.
    "map entry claims 2**29-1 bytes": frame(bytes.fromhex("0affffff01") + b"\0" * 8),
    # Sparse rows wider than 2**31 columns (shape 2**63 raised OverflowError
    # from scipy before the width limit).
    "shape 2**64-1": frame(_record_with([2**64 - 1], [0], [1.0])),
    "shape 2**63, no values": frame(_record_with([2**63], [], [])),
    "shape 2**40, no values": frame(_record_with([2**40], [], [])),
    "dense shape [1, 2**62]": frame(_record_with([1, 2**62], [], [1.0])),
    "frame claims 2**29-1": bytes.fromhex("0a23d7ce") + b"\xff\xff\xff\x1f" + b"\0" * 8,
}


@pytest.mark.parametrize("name", sorted(_LIARS))
def test_tiny_input_claiming_huge_size_allocates_little(name: str) -> None:
    data = _LIARS[name]
    assert len(data) < 64
    tracemalloc.start()
    try:
        result = decode_or_reject(lambda: decode_records(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < _PEAK_LIMIT
    assert isinstance(result, DataFormatError)


@pytest.mark.parametrize("field", [1, 2])
def test_map_key_not_utf8_is_rejected(field: int) -> None:
    """Found by atheris: a non-UTF-8 map key (proto2 strings are unchecked)
    beside another key made the error message itself raise TypeError."""
    tensor = _field(2, _field(1, b"\0\0\x80?"))  # float32_tensor [1.0]
    entries = _field(field, _field(1, b"") + _field(2, tensor))
    entries += _field(field, _field(1, b"val\xf5es") + _field(2, tensor))
    if field == 2:  # features present, the label missing
        entries = _features_entry(_field(1, b"\0\0\x80?")) + entries
    with pytest.raises(DataFormatError, match=r"keys \['', b'val\\xf5es'\]"):
        decode_records(frame(entries), require_labels=True)


def test_no_records_with_require_labels_gives_empty_labels() -> None:
    """Found by fuzzing: an empty training body returned labels None."""
    X, y = decode_records(b"", require_labels=True, feature_dim=3)
    assert X.shape == (0, 3) and X.dtype == np.float32
    assert y is not None and y.shape == (0,) and y.dtype == np.float32
    assert decode_records(b"")[1] is None  # inference: no labels asked for
