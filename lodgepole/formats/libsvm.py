"""LIBSVM / svmlight text: one ``label index:value ...`` line per record.

Records are sparse: each line holds a label, then the non-zero features as
``index:value`` pairs in strictly increasing index order, and optionally a
comment after ``#``. Indices are one-based by default, as in LIBSVM's own
tools; zero-based files are detected or can be requested.

Examples
--------
>>> features, labels = decode_libsvm(b"1 1:0.5 3:2  # first\\n0 2:-1\\n")
>>> features.toarray().tolist(), labels.tolist()
([[0.5, 0.0, 2.0], [0.0, -1.0, 0.0]], [1.0, 0.0])
>>> encode_libsvm(features, labels)
b'1 1:0.5 3:2\\n0 2:-1\\n'
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse
from numpy.typing import ArrayLike

from lodgepole.exceptions import DataFormatError
from lodgepole.formats._text import _integer_text, _parse_numbers, _shortest_text

__all__ = ["decode_libsvm", "encode_libsvm"]

logger = logging.getLogger(__name__)

_BOM = b"\xef\xbb\xbf"
_HASH, _COLON, _NEWLINE, _SPACE = 35, 58, 10, 32
_WHITESPACE = (9, 10, 11, 12, 13, 32)


def decode_libsvm(
    data: bytes | str,
    *,
    source: str = "<bytes>",
    feature_dim: int | None = None,
    zero_based: bool | str = "auto",
) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """Parse svmlight text into a float32 CSR matrix and float32 labels.

    Parameters
    ----------
    data
        The whole text; ``str`` is encoded as UTF-8. Blank lines, comment-only
        lines, CRLF endings and a UTF-8 byte order mark are accepted.
    source
        Name of the file or request, used in error messages.
    feature_dim
        Number of feature columns; by default the largest index plus one.
    zero_based
        Whether indices start at 0 (True) or 1 (False). ``"auto"`` reads the
        file as one-based unless an index 0 occurs, like scikit-learn.

    Returns
    -------
    features : scipy.sparse.csr_matrix
        ``(rows, feature_dim)`` float32 with sorted column indices; explicit
        ``index:0`` pairs are kept as stored zeros.
    labels : numpy.ndarray
        ``(rows,)`` float32.

    Raises
    ------
    DataFormatError
        If a pair is malformed, a ``qid:`` pair occurs (ranking files are not
        supported), a label or value is not a number or beyond the float32
        range, an index is out of range, or the indices of a line are not
        strictly increasing (unsorted or duplicate). Messages name the line,
        the token and its byte offset.

    Notes
    -----
    Cost: the whole text is held in memory and tokenised with numpy in a few
    passes; memory peaks at roughly 30 bytes per input byte.

    Examples
    --------
    >>> X, y = decode_libsvm("2 0:1.5 4:1\\n", zero_based="auto")
    >>> X.shape, X.indices.tolist(), y.tolist()
    ((1, 5), [0, 4], [2.0])
    """
    buf = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    a = np.frombuffer(buf[len(_BOM) if buf.startswith(_BOM) else 0 :], np.uint8)
    base = len(buf) - a.size
    a = _blank_comments(a)
    tokens = _Tokens(a, base, source)
    if tokens.first.size == 0:
        raise DataFormatError(
            f"{source!r}: the LIBSVM text holds no records; expected lines of "
            "'label index:value ...'."
        )

    labels = tokens.parse_labels()
    rows, indices, values = tokens.parse_pairs()
    indices = _shift_indices(indices, tokens, zero_based)
    _check_order(rows, indices, tokens)
    num_columns = _check_range(indices, feature_dim, tokens)

    indptr = np.searchsorted(rows, np.arange(labels.size + 1))
    features = scipy.sparse.csr_matrix(
        (values.astype(np.float32), indices.astype(np.int32), indptr),
        shape=(labels.size, num_columns),
    )
    logger.debug("libsvm decoded source=%s rows=%d", source, labels.size)
    return features, labels.astype(np.float32)


def encode_libsvm(
    features: ArrayLike | scipy.sparse.spmatrix | scipy.sparse.sparray,
    labels: ArrayLike,
    *,
    zero_based: bool = False,
) -> bytes:
    """Write features and labels as svmlight text.

    Parameters
    ----------
    features
        ``(rows, feature_dim)`` sparse or dense matrix, converted to float32.
        Only stored entries of a sparse matrix and non-zeros of a dense one
        are written.
    labels
        ``(rows,)`` labels.
    zero_based
        Write indices from 0 instead of LIBSVM's usual 1.

    Returns
    -------
    bytes
        One line per record ending in ``\\n``, values in the fewest digits
        that read back as the same float32.

    Raises
    ------
    DataFormatError
        If the shapes disagree or a value is NaN or infinite.

    Notes
    -----
    Cost: vectorised; numpy's shortest float32 formatting takes about 1 us
    per stored non-integral value. The feature width is not recorded, so pass
    ``feature_dim`` when decoding if the last columns may be empty.

    Examples
    --------
    >>> encode_libsvm([[0.0, 2.5], [1e-45, 0.0]], [1, -1], zero_based=True)
    b'1 1:2.5\\n-1 0:1e-45\\n'
    """
    matrix = scipy.sparse.csr_matrix(features, dtype=np.float32)
    matrix.sum_duplicates()
    column = np.asarray(labels, dtype=np.float32).reshape(-1)
    if column.size != matrix.shape[0]:
        raise DataFormatError(
            f"labels has {column.size} values but features has "
            f"{matrix.shape[0]} rows; expected one label per row."
        )
    for name, array in (("labels", column), ("features", matrix.data)):
        if not np.isfinite(array).all():
            raise DataFormatError(
                f"{name} contain NaN or infinity; expected finite values."
            )

    if column.size == 0:
        return b""
    offset = 0 if zero_based else 1
    indices = _integer_text(matrix.indices.astype(np.int64) + offset)
    pairs = _cells_to_bytes(
        [b" ", indices, b":", _shortest_text(matrix.data)], matrix.nnz
    )
    heads = _cells_to_bytes([b"\n", _shortest_text(column)], column.size)
    rows = np.repeat(np.arange(column.size), np.diff(matrix.indptr))
    slots = np.zeros(
        (matrix.nnz + column.size, max(pairs.shape[1], heads.shape[1])), np.uint8
    )
    slots[matrix.indptr[:-1] + np.arange(column.size), : heads.shape[1]] = heads
    slots[np.arange(matrix.nnz) + rows + 1, : pairs.shape[1]] = pairs
    flat = slots.reshape(-1)
    return flat[flat != 0].tobytes()[1:] + b"\n"


def _cells_to_bytes(pieces: list[bytes | np.ndarray], count: int) -> np.ndarray:
    """Lay fixed pieces and NUL-padded ``S`` columns side by side as uint8 rows."""
    columns = [
        np.ascontiguousarray(piece).view(np.uint8).reshape(count, piece.itemsize)
        if isinstance(piece, np.ndarray)
        else np.tile(np.frombuffer(piece, np.uint8), (count, 1))
        for piece in pieces
    ]
    return np.concatenate(columns, axis=1)


def _blank_comments(a: np.ndarray) -> np.ndarray:
    """Return a copy of ``a`` with every ``#`` comment replaced by spaces."""
    if not (a == _HASH).any():
        return a
    position = np.arange(a.size)
    last_hash = np.maximum.accumulate(np.where(a == _HASH, position, -1))
    last_newline = np.maximum.accumulate(np.where(a == _NEWLINE, position, -1))
    return np.where(last_hash > last_newline, np.uint8(_SPACE), a)


class _Tokens:
    """Whitespace-separated tokens of a text, with their lines and offsets."""

    def __init__(self, a: np.ndarray, base: int, source: str):
        self.a, self.base, self.source = a, base, source
        space = np.isin(a, _WHITESPACE)
        edges = np.diff(np.concatenate(([True], space, [True])).astype(np.int8))
        self.starts = np.flatnonzero(edges == -1)
        self.ends = np.flatnonzero(edges == 1)
        newlines = np.flatnonzero(a == _NEWLINE)
        self.lines = np.searchsorted(newlines, self.starts) + 1
        first = np.ones(self.starts.size, dtype=bool)
        first[1:] = self.lines[1:] != self.lines[:-1]
        self.first = np.flatnonzero(first)
        colons = np.flatnonzero(a == _COLON)
        self.colon_token = np.searchsorted(self.starts, colons, side="right") - 1
        self.colon_count = np.bincount(self.colon_token, minlength=self.starts.size)
        self.colons = colons

    def text(self, token: int) -> str:
        raw = self.a[self.starts[token] : self.ends[token]].tobytes()
        text = raw.decode("utf-8", "replace")
        return text if len(text) <= 40 else text[:40] + "..."

    def fail(self, token: int, problem: str, expected: str) -> None:
        raise DataFormatError(
            f"{self.source!r}, line {self.lines[token]}, byte offset "
            f"{self.base + self.starts[token]}: token {self.text(token)!r} "
            f"{problem}; expected {expected}."
        )

    def parse_labels(self) -> np.ndarray:
        first = self.first
        labels, bad = _parse_numbers(self.a, self.starts[first], self.ends[first])
        if bad >= 0:
            self.fail(first[bad], "is not a numeric label", "a finite number first")
        labels, bad = _to_float32(labels)
        if bad >= 0:
            self.fail(
                first[bad], "is beyond the float32 range", "a finite float32 label"
            )
        return labels

    def parse_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pair = np.ones(self.starts.size, dtype=bool)
        pair[self.first] = False
        pair = np.flatnonzero(pair)
        wrong = pair[self.colon_count[pair] != 1]
        if wrong.size:
            self._fail_pair(wrong[0])
        colon_at = np.empty(self.starts.size, dtype=np.intp)
        colon_at[self.colon_token] = self.colons
        colon_at = colon_at[pair]

        index, bad = _parse_numbers(self.a, self.starts[pair], colon_at)
        if bad < 0:
            integral = (index == np.floor(index)) & (index >= 0) & (index < 2**31)
            bad = int(np.argmin(integral)) if not integral.all() else -1
        if bad >= 0:
            self._fail_pair(pair[bad])
        values, bad = _parse_numbers(self.a, colon_at + 1, self.ends[pair])
        if bad >= 0:
            self.fail(
                pair[bad], "has a value that is not a finite number", "'index:value'"
            )
        values, bad = _to_float32(values)
        if bad >= 0:
            self.fail(
                pair[bad],
                "has a value beyond the float32 range",
                "'index:value' with a finite float32 value",
            )
        rows = np.searchsorted(self.first, pair, side="right") - 1
        return rows, index.astype(np.int64), values

    def _fail_pair(self, token: int) -> None:
        if self.text(token).startswith("qid:"):
            self.fail(
                token,
                "is a query id",
                "no 'qid:' pairs (ranking files are not supported)",
            )
        self.fail(token, "is not a pair", "'index:value' with an integer index >= 0")


def _to_float32(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Round float64 values to float32; also the first that overflows, or -1."""
    with np.errstate(over="ignore"):
        rounded = values.astype(np.float32)
    overflow = np.flatnonzero(~np.isfinite(rounded))
    return rounded, int(overflow[0]) if overflow.size else -1


def _shift_indices(
    indices: np.ndarray, tokens: _Tokens, zero_based: bool | str
) -> np.ndarray:
    if zero_based not in (True, False, "auto"):
        raise DataFormatError(
            f"zero_based must be True, False or 'auto'; got {zero_based!r}."
        )
    if zero_based is True:
        return indices
    if zero_based == "auto":
        one_based = indices.size == 0 or indices.min() > 0
        return indices - 1 if one_based else indices
    if indices.size and indices.min() == 0:
        token = _pair_tokens(tokens)[int(np.argmin(indices))]
        tokens.fail(token, "has index 0", "one-based indices (or zero_based=True)")
    return indices - 1


def _pair_tokens(tokens: _Tokens) -> np.ndarray:
    pair = np.ones(tokens.starts.size, dtype=bool)
    pair[tokens.first] = False
    return np.flatnonzero(pair)


def _check_order(rows: np.ndarray, indices: np.ndarray, tokens: _Tokens) -> None:
    same_row = rows[1:] == rows[:-1]
    wrong = np.flatnonzero(same_row & (indices[1:] <= indices[:-1]))
    if wrong.size:
        token = _pair_tokens(tokens)[wrong[0] + 1]
        tokens.fail(
            token,
            "repeats or precedes the index before it",
            "strictly increasing indices within a line",
        )


def _check_range(indices: np.ndarray, feature_dim: int | None, tokens: _Tokens) -> int:
    if feature_dim is None:
        return int(indices.max()) + 1 if indices.size else 0
    wrong = np.flatnonzero(indices >= feature_dim)
    if wrong.size:
        tokens.fail(
            _pair_tokens(tokens)[wrong[0]],
            f"has column {indices[wrong[0]]} (zero-based)",
            f"columns below feature_dim={feature_dim}",
        )
    return feature_dim
