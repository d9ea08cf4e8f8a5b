"""Fuzzing ``decode_libsvm`` with arbitrary bytes, LIBSVM-like text and
mutated bodies written by ``encode_libsvm``.

A result must be a float32 CSR matrix with strictly increasing column
indices in every row, finite values, one finite float32 label per row and
``feature_dim`` columns when given; anything else must be rejected with
DataFormatError.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.libsvm import decode_libsvm, encode_libsvm
from tests.fuzz._support import decode_or_reject, fuzz_settings, mutated

_options = st.fixed_dictionaries(
    {
        "feature_dim": st.none() | st.integers(0, 8),
        "zero_based": st.sampled_from([True, False, "auto"]),
    }
)

_LIBSVM_ALPHABET = "0123456789::: \t\n\r#.-+eEqid\x0b\x0cnaf"


def _check(data: bytes | str, options: dict[str, object]) -> None:
    result = decode_or_reject(lambda: decode_libsvm(data, **options))  # type: ignore[arg-type]
    if isinstance(result, DataFormatError):
        return
    features, labels = result
    assert isinstance(features, sp.csr_matrix)
    features.check_format(full_check=True)
    assert features.dtype == np.float32
    assert features.shape[0] >= 1
    assert np.isfinite(features.data).all()
    for row in range(features.shape[0]):
        columns = features.indices[features.indptr[row] : features.indptr[row + 1]]
        assert (np.diff(columns) > 0).all()
    if options["feature_dim"] is not None:
        assert features.shape[1] == options["feature_dim"]
    assert isinstance(labels, np.ndarray)
    assert labels.dtype == np.float32
    assert labels.shape == (features.shape[0],)
    assert np.isfinite(labels).all()


@fuzz_settings()
@given(data=st.binary(max_size=200), options=_options)
def test_arbitrary_bytes(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


@fuzz_settings(scale=2)
@given(text=st.text(_LIBSVM_ALPHABET, max_size=120), options=_options)
def test_libsvm_like_text(text: str, options: dict[str, object]) -> None:
    _check(text, options)


_finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def _encoded(draw: st.DrawFn) -> bytes:
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    values = draw(st.lists(_finite32, min_size=rows * cols, max_size=rows * cols))
    mask = draw(st.lists(st.booleans(), min_size=rows * cols, max_size=rows * cols))
    dense = np.array(values, dtype=np.float32) * np.array(mask)
    labels = draw(st.lists(_finite32, min_size=rows, max_size=rows))
    return encode_libsvm(
        dense.reshape(rows, cols), labels, zero_based=draw(st.booleans())
    )


@fuzz_settings(scale=2)
@given(data=mutated(_encoded()), options=_options)
def test_mutated_bodies(data: bytes, options: dict[str, object]) -> None:
    _check(data, options)


@pytest.mark.parametrize(
    "text",
    ["1 2147483647:1\n", "1 2147483648:1\n", "0 0:1 2147483647:2\n", "1 1e9:1\n"],
)
def test_huge_indices_stay_sparse(text: str) -> None:
    """A tiny line naming a huge column makes a sparse matrix or an error,
    never a dense allocation."""
    result = decode_or_reject(lambda: decode_libsvm(text))
    if not isinstance(result, DataFormatError):
        features, _ = result
        assert features.nnz <= 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e100 1:2\n", r"line 1, byte offset 0: token '1e100' is beyond the float32"),
        ("1 1:2\n0 3:-1e39\n", r"line 2, byte offset 8: token '3:-1e39' has a value "),
    ],
)
def test_float32_overflow_is_rejected(text: str, message: str) -> None:
    """Found by fuzzing: these became inf (with a RuntimeWarning) before."""
    with pytest.raises(DataFormatError, match=message):
        decode_libsvm(text)


def test_largest_float32_is_accepted() -> None:
    features, labels = decode_libsvm("3.4028235e38 1:-3.4028235e38\n")
    assert labels.tolist() == [float(np.finfo(np.float32).max)]
    assert features.data.tolist() == [-float(np.finfo(np.float32).max)]
