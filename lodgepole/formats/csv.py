"""``text/csv``: label-first dense rows without a header (SPEC §4.2, §6.1).

Training CSV has the label in the first column and ``feature_dim`` feature
columns after it; inference CSV has the feature columns only. Every cell must
be a finite decimal number. Parameters of the content type (``label_size``,
``charset``) are the caller's to strip. Inference responses
(`encode_predictions_csv`) print numbers as the JSON responses do.

Examples
--------
>>> features, labels = decode_csv(b"1,0.5,2\\n0,-1,3e2\\n")
>>> features.tolist(), labels.tolist()
([[0.5, 2.0], [-1.0, 300.0]], [1.0, 0.0])
>>> encode_csv(features, labels)
b'1,0.5,2\\n0,-1,300\\n'
"""

from __future__ import annotations

import logging
import math
import re

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.exceptions import DataFormatError
from lodgepole.formats._predictions import _prediction_arrays
from lodgepole.formats._text import _join_cells, _parse_numbers, _shortest_text

__all__ = ["CONTENT_TYPE", "decode_csv", "encode_csv", "encode_predictions_csv"]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/csv"

_BOM = b"\xef\xbb\xbf"
# One-line bodies of plain decimals (an inference request for one record)
# skip the chunked parser, whose fixed cost is about 150 us.
_ONE_LINE_LIMIT = 8192
_PLAIN_CELL = re.compile(rb"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_CHUNK_BYTES = 1 << 18
_ENCODE_CELLS = 1 << 21
_NEWLINE, _CR, _COMMA = 10, 13, 44


def decode_csv(
    data: bytes | str,
    *,
    has_labels: bool = True,
    source: str = "<bytes>",
    feature_dim: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse label-first CSV into float32 features and labels.

    Parameters
    ----------
    data
        The whole CSV body; ``str`` is encoded as UTF-8. A UTF-8 byte order
        mark, CRLF line endings, a missing or present final newline and blank
        lines are accepted.
    has_labels
        Whether the first column is the label (training, SPEC §4.2) or every
        column is a feature (inference, SPEC §6.1).
    source
        Name of the file or request, used in error messages.
    feature_dim
        Expected number of feature columns; by default the first row decides.

    Returns
    -------
    features : numpy.ndarray
        ``(rows, feature_dim)`` float32, C-contiguous.
    labels : numpy.ndarray or None
        ``(rows,)`` float32, or None when ``has_labels`` is false.

    Raises
    ------
    DataFormatError
        If the body is empty, a row has the wrong number of columns, or a cell
        is not a finite number. The message names the line, row, column and
        byte offset.

    Notes
    -----
    Cost: the whole body is held in memory and parsed with numpy in chunks of
    about 256 KB straight into the float32 result, so peak memory is the body
    plus the result plus a few MB of scratch; no per-row Python runs. Plain
    decimals of up to 15 digits take the vectorised path (about as fast as
    ``pandas.read_csv`` on integer-valued tables, a third of its speed on
    fractional ones); other cells (exponents, longer mantissas, surrounding
    spaces) are parsed one by one with :class:`float`. Each cell is rounded
    correctly to float64, then to float32, as numpy and pandas do. Values
    beyond the float32 range are errors; values below its smallest subnormal
    become zero.

    Examples
    --------
    >>> features, labels = decode_csv("0,1.5,-2\\r\\n1,0,7\\r\\n", feature_dim=2)
    >>> features.dtype.name, features.shape, labels.tolist()
    ('float32', (2, 2), [0.0, 1.0])
    >>> decode_csv(b"1,2\\n3,4", has_labels=False)[0].tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    # Limitation: a CSV shard is parsed whole in memory, so one larger than RAM
    # fails with MemoryError; split big files first (data.Channel streams
    # shard by shard).
    buf = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    start = len(_BOM) if buf.startswith(_BOM) else 0
    num_columns = None if feature_dim is None else feature_dim + int(has_labels)
    context = _Context(source, has_labels, feature_dim)

    if len(buf) - start <= _ONE_LINE_LIMIT:
        one = _one_plain_line(buf[start:], num_columns, has_labels)
        if one is not None:
            return one
    features, labels = _decode_chunks(buf, start, num_columns, context)
    if features is None:
        raise DataFormatError(
            f"{source!r}: the CSV body is empty; expected at least one row of "
            "comma-separated numbers."
        )
    logger.debug("csv decoded source=%s rows=%d", source, features.shape[0])
    return features, labels


def _one_plain_line(
    line: bytes, num_columns: int | None, has_labels: bool
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Decode a one-line body of plain decimals; None means: use the full path.

    Anything unusual (more lines, CR, another cell syntax, a wrong width, a
    value out of float32 range) returns None, and the full parser decides and
    words any error, so both paths accept the same bodies with equal values
    (each cell is rounded correctly to float64, then to float32).
    """
    if line.endswith(b"\n"):
        line = line[:-1]
    if b"\n" in line or b"\r" in line or not line:
        return None
    cells = line.split(b",")
    if num_columns is not None and len(cells) != num_columns:
        return None
    if has_labels and len(cells) < 2:
        return None
    match = _PLAIN_CELL.fullmatch
    if not all(match(cell) for cell in cells):
        return None
    with np.errstate(over="ignore"):
        values = np.array(list(map(float, cells)), dtype=np.float64).astype(np.float32)
    if not np.isfinite(values).all():
        return None
    if has_labels:
        return values[1:].reshape(1, -1).copy(), values[:1].copy()
    return values.reshape(1, -1), None


def encode_csv(features: ArrayLike, labels: ArrayLike | None = None) -> bytes:
    """Write float32 features (and labels first, if given) as CSV without header.

    Parameters
    ----------
    features
        ``(rows, feature_dim)`` dense matrix, converted to float32.
    labels
        ``(rows,)`` labels written as the first column, or None for inference
        CSV.

    Returns
    -------
    bytes
        One line per row ending in ``\\n``; each value in the fewest significant
        digits that read back as the same float32.

    Raises
    ------
    DataFormatError
        If the shapes disagree or a value is NaN or infinite.

    Notes
    -----
    Cost: vectorised; numpy's shortest float32 formatting takes about 1 us
    per non-integral cell, integral cells are much cheaper.

    Examples
    --------
    >>> encode_csv([[0.1, -0.0], [1e-45, 3e38]], [1, 0])
    b'1,0.1,-0\\n0,1e-45,3e+38\\n'
    """
    table = np.asarray(features, dtype=np.float32)
    if table.ndim != 2:
        raise DataFormatError(f"features must be 2-D; got shape {table.shape!r}.")
    if labels is not None:
        column = np.asarray(labels, dtype=np.float32).reshape(-1)
        if column.shape[0] != table.shape[0]:
            raise DataFormatError(
                f"labels has {column.shape[0]} values but features has "
                f"{table.shape[0]} rows; expected one label per row."
            )
        table = np.column_stack([column, table])
    if not np.isfinite(table).all():
        row, col = np.argwhere(~np.isfinite(table))[0]
        raise DataFormatError(
            f"row {row}, column {col}: CSV cannot carry {table[row, col].item()!r}; "
            "expected finite values."
        )
    if table.size == 0:
        return b""

    step = max(1, _ENCODE_CELLS // table.shape[1])
    return b"".join(
        _join_cells(_shortest_text(table[i : i + step]), b",", b"\n")
        for i in range(0, table.shape[0], step)
    )


def _finite_text(value: float) -> str:
    if not math.isfinite(value):
        raise DataFormatError(
            "a score or predicted_label is NaN or inf; expected finite predictions."
        )
    return repr(value)


def encode_predictions_csv(
    score: ArrayLike, predicted_label: ArrayLike | None
) -> bytes:
    """Encode predictions as a ``text/csv`` response body, one line per row.

    Unlike `encode_csv`, which writes float32 values in their shortest float32
    form (``1``, ``0.1``), this prints them as the JSON responses of
    :mod:`lodgepole.formats.json` do: as the shortest round-trip double of
    the float32 value widened to float64 (``1.0``, ``0.10000000149011612``).

    Parameters
    ----------
    score
        ``(n,)`` scores, or ``(n, K)`` per-class scores for multiclass.
    predicted_label
        ``(n,)`` labels, or None for a regressor.

    Returns
    -------
    bytes
        Lines ``<predicted_label>,<score>`` (binary),
        ``<predicted_label>,<score_0>,...,<score_K-1>`` (multiclass),
        ``<label_0>,...,<label_K-1>,<score_0>,...,<score_K-1>`` (multilabel)
        or ``<score>`` (regressor), each ending with ``\\n``.

    Raises
    ------
    DataFormatError
        If a number is NaN or inf, or the shapes disagree.

    Notes
    -----
    Cost: one Python step per number, about 0.3 us.

    Examples
    --------
    >>> import numpy as np
    >>> encode_predictions_csv(np.array([41.5, 2.0]), None)
    b'41.5\\n2.0\\n'
    >>> encode_predictions_csv(np.array([0.75]), np.array([1.0]))
    b'1.0,0.75\\n'
    >>> encode_predictions_csv(np.array([[0.5, 0.25, 0.25]]), np.array([0]))
    b'0.0,0.5,0.25,0.25\\n'
    """
    scores, labels = _prediction_arrays(score, predicted_label)
    rows = (scores.reshape(-1, 1) if scores.ndim == 1 else scores).tolist()
    if labels is not None:
        heads = (labels.reshape(-1, 1) if labels.ndim == 1 else labels).tolist()
        rows = [[*head, *row] for head, row in zip(heads, rows, strict=True)]
    lines = [",".join(map(_finite_text, row)) + "\n" for row in rows]
    return "".join(lines).encode("ascii")


class _Context:
    """What error messages need to know about the body being decoded."""

    def __init__(self, source: str, has_labels: bool, feature_dim: int | None):
        self.source = source
        self.has_labels = has_labels
        self.feature_dim = feature_dim
        self.rows_before = 0

    def describe_columns(self, expected: int) -> str:
        if self.feature_dim is not None:
            label = "label + " if self.has_labels else ""
            return f"{expected} columns ({label}feature_dim={self.feature_dim})"
        return f"{expected} columns (as in the first row)"


def _decode_chunks(
    buf: bytes, start: int, num_columns: int | None, context: _Context
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Decode chunk by chunk straight into preallocated features and labels."""
    max_rows = buf.count(b"\n", start) + 1
    features = labels = None
    line, rows = 1, 0
    for chunk_start, chunk_end in _chunks(buf, start):
        block = _decode_chunk(buf, chunk_start, chunk_end, line, num_columns, context)
        line += buf.count(b"\n", chunk_start, chunk_end)
        if block.shape[0] == 0:
            continue
        if features is None:
            num_columns = block.shape[1]
            width = num_columns - int(context.has_labels)
            features = np.empty((max_rows, width), dtype=np.float32)
            if context.has_labels:
                labels = np.empty(max_rows, dtype=np.float32)
        end = rows + block.shape[0]
        if labels is not None:
            labels[rows:end] = block[:, 0]
        features[rows:end] = block[:, int(context.has_labels) :]
        rows = context.rows_before = end
    if features is None or rows == max_rows:
        return features, labels
    return features[:rows], None if labels is None else labels[:rows]


def _chunks(buf: bytes, start: int) -> list[tuple[int, int]]:
    """Split ``buf[start:]`` into spans of about 256 KB that end after a newline."""
    spans = []
    while start < len(buf):
        end = buf.find(b"\n", start + _CHUNK_BYTES)
        end = len(buf) if end < 0 else end + 1
        spans.append((start, end))
        start = end
    return spans


def _decode_chunk(
    buf: bytes,
    begin: int,
    end: int,
    first_line: int,
    num_columns: int | None,
    context: _Context,
) -> np.ndarray:
    """Parse whole lines ``buf[begin:end]`` into a float32 (rows, columns) block."""
    a = np.frombuffer(buf, dtype=np.uint8, count=end - begin, offset=begin)
    cells = _Cells(a, begin, first_line)
    if cells.counts.size == 0:
        return np.empty((0, 0), dtype=np.float32)

    expected = int(cells.counts[0] if num_columns is None else num_columns)
    wrong = np.flatnonzero(cells.counts != expected)
    if wrong.size:
        line = wrong[0]
        raise DataFormatError(
            f"{context.source!r}, line {cells.line_numbers[line]} (row "
            f"{context.rows_before + line}, byte offset {cells.line_offset(line)}): "
            f"expected {context.describe_columns(expected)}, "
            f"got {cells.counts[line]}."
        )

    values, bad = _parse_numbers(a, cells.starts, cells.ends)
    if bad < 0:
        with np.errstate(over="ignore"):
            values = values.astype(np.float32)
        overflow = np.flatnonzero(~np.isfinite(values))
        bad = int(overflow[0]) if overflow.size else -1
    if bad >= 0:
        _raise_bad_cell(a, cells, bad, expected, context)
    return values.reshape(-1, expected)


class _Cells:
    """Where each cell and line of a chunk of whole lines starts and ends.

    Blank lines are dropped; a ``\\r`` before a line's ``\\n`` is not part of
    its last cell.
    """

    def __init__(self, a: np.ndarray, begin: int, first_line: int):
        self.begin = begin
        seps = np.flatnonzero((a == _COMMA) | (a == _NEWLINE))
        line_last = np.searchsorted(seps, np.flatnonzero(a == _NEWLINE))
        if a[-1] != _NEWLINE:
            seps = np.append(seps, a.size)
            line_last = np.append(line_last, seps.size - 1)
        self.starts = np.empty_like(seps)
        self.starts[0] = 0
        self.starts[1:] = seps[:-1] + 1
        self.ends = seps

        last_start, last_end = self.starts[line_last], self.ends[line_last]
        has_cr = (last_end > last_start) & (a[np.maximum(last_end - 1, 0)] == _CR)
        self.ends[line_last[has_cr]] -= 1
        self.counts = np.diff(line_last, prepend=-1)
        self.line_numbers = first_line + np.arange(line_last.size)
        self.line_last = line_last
        blank = (self.counts == 1) & (self.ends[line_last] == self.starts[line_last])
        if blank.any():
            self._drop_blank_lines(blank)

    def _drop_blank_lines(self, blank: np.ndarray) -> None:
        keep = np.ones(self.starts.size, dtype=bool)
        keep[self.line_last[blank]] = False
        self.starts, self.ends = self.starts[keep], self.ends[keep]
        self.counts = self.counts[~blank]
        self.line_numbers = self.line_numbers[~blank]
        self.line_last = np.cumsum(self.counts) - 1

    def line_offset(self, line: int) -> int:
        """Byte offset in the body where the ``line``-th kept line starts."""
        first_cell = self.line_last[line] - self.counts[line] + 1
        return self.begin + int(self.starts[first_cell])


def _raise_bad_cell(
    a: np.ndarray, cells: _Cells, bad: int, num_columns: int, context: _Context
) -> None:
    row, column = divmod(bad, num_columns)
    text = a[cells.starts[bad] : cells.ends[bad]].tobytes()
    text = text.decode("utf-8", "replace")
    shown = text if len(text) <= 40 else text[:40] + "..."
    what = "label" if context.has_labels and column == 0 else "feature"
    problem = "not finite" if _is_non_finite(text) else "not a number"
    problem = "beyond the float32 range" if _is_too_large(text) else problem
    raise DataFormatError(
        f"{context.source!r}, line {cells.line_numbers[row]} (row "
        f"{context.rows_before + row}), column {column} ({what}), byte offset "
        f"{cells.begin + cells.starts[bad]}: cell {shown!r} is {problem}; "
        "expected a finite decimal number."
    )


def _is_non_finite(text: str) -> bool:
    try:
        return not np.isfinite(float(text))
    except ValueError:
        return False


def _is_too_large(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return bool(np.isfinite(value) and abs(value) > float(np.finfo(np.float32).max))
