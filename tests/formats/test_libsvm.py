from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.libsvm import decode_libsvm, encode_libsvm

awkward_float32 = st.sampled_from(
    [-0.0, 1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 0.1, 16777217.0]
)
values = st.floats(width=32, allow_nan=False, allow_infinity=False) | awkward_float32


@st.composite
def sparse_tables(draw: st.DrawFn) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    rows, columns = draw(st.integers(1, 10)), draw(st.integers(1, 8))
    mask = draw(hnp.arrays(np.bool_, (rows, columns)))
    dense = draw(hnp.arrays(np.float32, (rows, columns), elements=values))
    coo = scipy.sparse.coo_matrix(
        (dense[mask], np.nonzero(mask)), shape=(rows, columns), dtype=np.float32
    )
    labels = draw(hnp.arrays(np.float32, rows, elements=values))
    return coo.tocsr(), labels


def assert_same_csr(left: scipy.sparse.csr_matrix, right: scipy.sparse.csr_matrix):
    assert left.shape == right.shape
    np.testing.assert_array_equal(left.indptr, right.indptr)
    np.testing.assert_array_equal(left.indices, right.indices)
    np.testing.assert_array_equal(left.data.view(np.uint32), right.data.view("u4"))


# --- exact bytes ---------------------------------------------------------------


def test_encode_libsvm_writes_one_based_pairs() -> None:
    features = scipy.sparse.csr_matrix(
        np.array([[0, 0.5, 0], [0, 0, 0], [2, 0, -1e-45]], dtype=np.float32)
    )
    body = encode_libsvm(features, [1, 0, -1])
    assert body == b"1 2:0.5\n0\n-1 1:2 3:-1e-45\n"


def test_encode_libsvm_zero_based_from_dense() -> None:
    assert encode_libsvm([[3.0, 0.0]], [2], zero_based=True) == b"2 0:3\n"


def test_decode_libsvm_reads_fixture_bytes() -> None:
    body = (
        b"\xef\xbb\xbf# header comment\r\n"
        b"1 1:0.5 4:-2e1 # trailing\r\n"
        b"\n"
        b"  -1\t2:3  \r\n"
        b"0 3:0\n"
    )
    features, labels = decode_libsvm(body)
    assert features.dtype == np.float32 and labels.dtype == np.float32
    np.testing.assert_array_equal(
        features.toarray(),
        [[0.5, 0, 0, -20], [0, 3, 0, 0], [0, 0, 0, 0]],
    )
    assert features.nnz == 4  # the explicit 3:0 stays a stored zero
    np.testing.assert_array_equal(labels, [1, -1, 0])


def test_decode_libsvm_auto_detects_zero_based() -> None:
    features, _ = decode_libsvm(b"1 0:1 2:2\n", zero_based="auto")
    assert features.shape == (1, 3)
    np.testing.assert_array_equal(features.indices, [0, 2])


def test_decode_libsvm_feature_dim_widens_matrix() -> None:
    features, _ = decode_libsvm(b"1 1:1\n", feature_dim=5)
    assert features.shape == (1, 5)


def test_decode_libsvm_matches_sklearn_loader() -> None:
    rng = np.random.default_rng(1)
    dense = rng.normal(size=(40, 12)) * (rng.random((40, 12)) < 0.3)
    labels = rng.integers(0, 3, size=40)
    sink = io.BytesIO()
    dump_svmlight_file(dense, labels, sink, zero_based=False)
    body = sink.getvalue()
    expected_x, expected_y = load_svmlight_file(io.BytesIO(body), n_features=12)
    features, decoded = decode_libsvm(body, feature_dim=12)
    np.testing.assert_array_equal(features.toarray(), expected_x.toarray().astype("f4"))
    np.testing.assert_array_equal(decoded, expected_y.astype(np.float32))


def test_sklearn_loader_reads_encoded_bytes() -> None:
    features = scipy.sparse.random(30, 9, density=0.3, format="csr", random_state=2)
    labels = np.arange(30) % 4
    body = encode_libsvm(features, labels)
    loaded_x, loaded_y = load_svmlight_file(io.BytesIO(body), n_features=9)
    np.testing.assert_array_equal(
        loaded_x.toarray().astype("f4"), features.astype("f4").toarray()
    )
    np.testing.assert_array_equal(loaded_y, labels)


# --- round trips -----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(sparse_tables(), st.booleans())
def test_libsvm_round_trip(
    table: tuple[scipy.sparse.csr_matrix, np.ndarray], zero_based: bool
) -> None:
    features, labels = table
    body = encode_libsvm(features, labels, zero_based=zero_based)
    decoded, decoded_labels = decode_libsvm(
        body, feature_dim=features.shape[1], zero_based=zero_based
    )
    assert_same_csr(decoded, features)
    np.testing.assert_array_equal(decoded_labels.view(np.uint32), labels.view("u4"))


@settings(max_examples=100, deadline=None)
@given(sparse_tables(), st.data())
def test_decode_libsvm_truncated_raises_only_data_format_error(
    table: tuple[scipy.sparse.csr_matrix, np.ndarray], data: st.DataObject
) -> None:
    body = encode_libsvm(*table)
    cut = data.draw(st.integers(0, len(body) - 1))
    try:
        features, labels = decode_libsvm(body[:cut], feature_dim=table[0].shape[1])
    except DataFormatError:
        return
    assert features.shape[0] == labels.shape[0]


# --- errors ---------------------------------------------------------------------


def test_decode_libsvm_rejects_malformed_pair_with_line_and_token() -> None:
    with pytest.raises(
        DataFormatError,
        match=r"'a\.svm', line 2, byte offset 12: token '3' is not a pair; "
        r"expected 'index:value'",
    ):
        decode_libsvm(b"1 1:2 2:3\n0 3\n", source="a.svm")


@pytest.mark.parametrize("token", [b":5", b"1.5:2", b"-1:2", b"a:1", b"1:2:3"])
def test_decode_libsvm_rejects_bad_index(token: bytes) -> None:
    with pytest.raises(DataFormatError, match=r"is not a pair"):
        decode_libsvm(b"1 " + token + b"\n")


def test_decode_libsvm_rejects_non_numeric_value() -> None:
    with pytest.raises(DataFormatError, match=r"token '2:x' has a value that is not"):
        decode_libsvm(b"1 2:x\n")


def test_decode_libsvm_rejects_qid() -> None:
    with pytest.raises(DataFormatError, match=r"'qid:3' is a query id; expected no"):
        decode_libsvm(b"1 qid:3 1:0.5\n")


def test_decode_libsvm_rejects_non_numeric_label() -> None:
    with pytest.raises(
        DataFormatError, match=r"line 2, byte offset 6: token 'spam' is not a numeric"
    ):
        decode_libsvm(b"1 1:1\nspam 1:1\n")


def test_decode_libsvm_rejects_line_without_label() -> None:
    with pytest.raises(DataFormatError, match=r"token '1:0.5' is not a numeric label"):
        decode_libsvm(b"1:0.5 2:1\n")


def test_decode_libsvm_rejects_index_beyond_feature_dim() -> None:
    with pytest.raises(
        DataFormatError,
        match=r"token '5:1' has column 4 \(zero-based\); expected columns below "
        r"feature_dim=4",
    ):
        decode_libsvm(b"1 1:1 5:1\n", feature_dim=4)


@pytest.mark.parametrize("line", [b"1 3:1 2:1\n", b"1 2:1 2:5\n"])
def test_decode_libsvm_rejects_unsorted_or_duplicate_indices(line: bytes) -> None:
    with pytest.raises(DataFormatError, match=r"strictly increasing indices"):
        decode_libsvm(line)


def test_decode_libsvm_rejects_index_zero_when_one_based() -> None:
    with pytest.raises(DataFormatError, match=r"token '0:1' has index 0"):
        decode_libsvm(b"1 0:1\n", zero_based=False)


def test_decode_libsvm_rejects_bad_zero_based_option() -> None:
    with pytest.raises(DataFormatError, match=r"zero_based must be True, False"):
        decode_libsvm(b"1 1:1\n", zero_based="yes")


@pytest.mark.parametrize("body", [b"", b"# only a comment\n", b"\n \n"])
def test_decode_libsvm_rejects_empty_input(body: bytes) -> None:
    with pytest.raises(DataFormatError, match=r"holds no records"):
        decode_libsvm(body)


def test_decode_libsvm_rejects_non_finite_value() -> None:
    with pytest.raises(DataFormatError, match=r"'1:nan' has a value"):
        decode_libsvm(b"1 1:nan\n")


def test_encode_libsvm_rejects_mismatched_labels() -> None:
    with pytest.raises(DataFormatError, match=r"labels has 2 values but features"):
        encode_libsvm(np.eye(3), [1, 2])


def test_encode_libsvm_rejects_non_finite() -> None:
    with pytest.raises(DataFormatError, match=r"features contain NaN"):
        encode_libsvm([[np.inf]], [1])


def test_decode_libsvm_parses_in_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from lodgepole.formats import _text

    monkeypatch.setattr(_text, "_PARSE_CELLS", 3)
    body = b"".join(b"%d 1:%d.5 7:-%d\n" % (i, i, i) for i in range(20))
    features, labels = decode_libsvm(body)
    expected_x, expected_y = load_svmlight_file(io.BytesIO(body))
    np.testing.assert_array_equal(features.toarray(), expected_x.toarray())
    np.testing.assert_array_equal(labels, expected_y)
    with pytest.raises(DataFormatError, match=r"line 21, byte offset \d+: token '1:x'"):
        decode_libsvm(body + b"3 1:x\n")
