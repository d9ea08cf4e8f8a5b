"""Fuzzing ``decode_csv`` with arbitrary bytes, CSV-like text and mutated bodies.

A result must be finite float32 features of shape (rows, D) with one label
per row (or None for inference), D equal to ``feature_dim`` when given;
anything else must be rejected with DataFormatError. The one-line fast path
and the chunked parser must agree: a body and the same body followed by
blank lines (which only the chunked parser reads) decode alike.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.csv import decode_csv, encode_csv
from tests.fuzz._support import decode_or_reject, fuzz_settings, mutated

_options = st.fixed_dictionaries(
    {"has_labels": st.booleans(), "feature_dim": st.none() | st.integers(0, 5)}
)

_CSV_ALPHABET = "0123456789,,,.-+eE \r\n\n\tinfaINFAN_x\ufeff\u0660"


def _decode(data: bytes | str, options: dict[str, object]) -> object:
    """Decode; check a result is well-formed; return it or the error."""
    result = decode_or_reject(lambda: decode_csv(data, **options))  # type: ignore[arg-type]
    if isinstance(result, DataFormatError):
        return result
    features, labels = result
    assert isinstance(features, np.ndarray)
    assert features.dtype == np.float32 and features.ndim == 2
    assert features.flags.c_contiguous
    assert features.shape[0] >= 1
    assert np.isfinite(features).all()
    if options["feature_dim"] is not None:
        assert features.shape[1] == options["feature_dim"]
    if options["has_labels"]:
        assert isinstance(labels, np.ndarray)
        assert labels.dtype == np.float32
        assert labels.shape == (features.shape[0],)
        assert np.isfinite(labels).all()
    else:
        assert labels is None
    return result


def _check(data: bytes, options: dict[str, object]) -> None:
    one = _decode(data, options)
    # Trailing blank lines send the body through the chunked parser.
    full = _decode(data + b"\n\n", options)
    if isinstance(one, DataFormatError) or isinstance(full, DataFormatError):
        assert isinstance(one, DataFormatError) == isinstance(full, DataFormatError)
        return
    np.testing.assert_array_equal(one[0], full[0])  # type: ignore[index]
    np.testing.assert_array_equal(one[1], full[1])  # type: ignore[index]


@fuzz_settings()
@given(data=st.binary(max_size=200), options=_options)
def test_arbitrary_bytes(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


@fuzz_settings()
@given(text=st.text(_CSV_ALPHABET, max_size=120), options=_options)
def test_csv_like_text(text: str, options: dict[str, object]) -> None:
    _check(text.encode("utf-8"), options)
    _decode(text, options)  # str input is encoded by the decoder itself


_finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def _encoded(draw: st.DrawFn) -> bytes:
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    values = draw(st.lists(_finite32, min_size=rows * cols, max_size=rows * cols))
    features = np.array(values, dtype=np.float32).reshape(rows, cols)
    labels = draw(st.none() | st.lists(_finite32, min_size=rows, max_size=rows))
    return encode_csv(features, None if labels is None else np.array(labels))


@fuzz_settings(scale=2)
@given(data=mutated(_encoded()), options=_options)
def test_mutated_bodies(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


@fuzz_settings()
@given(
    features=st.integers(1, 4).flatmap(
        lambda cols: st.lists(
            st.lists(_finite32, min_size=cols, max_size=cols), min_size=1, max_size=4
        )
    ),
    labelled=st.booleans(),
)
def test_encoded_bodies_round_trip(features: list[list[float]], labelled: bool) -> None:
    X = np.array(features, dtype=np.float32)
    y = X[:, 0].copy() if labelled else None
    decoded, labels = decode_csv(encode_csv(X, y), has_labels=labelled)
    np.testing.assert_array_equal(decoded, X)
    if labelled:
        np.testing.assert_array_equal(labels, y)
