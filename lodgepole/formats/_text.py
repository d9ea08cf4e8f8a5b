"""Vectorised decimal text: parse number cells and format float32 values.

Shared by the text formats (:mod:`lodgepole.formats.csv` and
:mod:`lodgepole.formats.libsvm`). The parser reads cells given as byte spans of
a uint8 array, plain decimals of up to 15 digits with 64-bit word arithmetic
and anything else with :class:`float`; the formatter writes each float32 in
the fewest digits that read back as the same value, as NUL-padded ``S`` cells.

Examples
--------
>>> import numpy as np
>>> a = np.frombuffer(b"1.5,-20,3e2", dtype=np.uint8)
>>> values, bad = _parse_numbers(a, np.array([0, 4, 8]), np.array([3, 7, 11]))
>>> values.tolist(), bad
([1.5, -20.0, 300.0], -1)
>>> cells = _shortest_text(values.astype(np.float32).reshape(1, 3))
>>> _join_cells(cells, b",", b"\\n")
b'1.5,-20,300\\n'
"""

from __future__ import annotations

import numpy as np

_PARSE_CELLS = 1 << 17
_MINUS, _PLUS, _DOT, _ZERO = 45, 43, 46, 48
# Up to 15 digits stay below 2**53: a float64 holds them exactly, and one
# division by an exact power of ten then rounds correctly.
_MAX_FAST_DIGITS = 15
_POW10 = 10.0 ** np.arange(_MAX_FAST_DIGITS + 1)
_POW10_INT = np.array([10**k for k in range(17)], dtype=np.uint64)
_U8 = np.uint64
# By digit count n in 0..8: two shifts (each below 64 bits) that drop the
# bytes past the run, and the ASCII zeros that fill the bytes they free.
_SHIFT_A = np.array([min(32, 8 * (8 - n)) for n in range(9)], dtype=np.uint64)
_SHIFT_B = np.array([8 * (8 - n) - min(32, 8 * (8 - n)) for n in range(9)], _U8)
_PAD = np.array(
    [int.from_bytes(b"0" * (8 - n) + bytes(n), "little") for n in range(9)],
    dtype=np.uint64,
)


def _parse_numbers(
    a: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, int]:
    """Parse the decimal cells ``a[starts[i]:ends[i]]`` to float64.

    ``starts`` and ``ends`` must be increasing. Returns the values and the
    index of the first cell that is not a finite number, or -1. Works in
    cache-sized batches of cells; see :func:`_parse_batch`.
    """
    values = np.empty(starts.size, dtype=np.float64)
    for low in range(0, starts.size, _PARSE_CELLS):
        high = min(low + _PARSE_CELLS, starts.size)
        base, top = int(starts[low]), int(ends[high - 1])
        values[low:high], bad = _parse_batch(
            a[base:top], starts[low:high] - base, ends[low:high] - base
        )
        if bad >= 0:
            return values, low + bad
    return values, -1


def _parse_batch(
    a: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, int]:
    """Parse one batch of cells, as :func:`_parse_numbers` describes.

    One-character cells are read directly, plain decimals of up to 15 digits
    with word arithmetic, anything else with :class:`float`.
    """
    padded = np.zeros(a.size + 16, dtype=np.uint8)
    padded[: a.size] = a
    digit = padded[starts] - np.uint8(_ZERO)
    values = digit.astype(np.float64)
    slow = digit >= 10
    other = np.flatnonzero(ends - starts != 1)
    if other.size:
        values[other], slow[other] = _parse_words(padded, starts[other], ends[other])
    return values, _parse_slow_cells(a, starts, ends, values, slow)


def _parse_words(
    a: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``[sign]digits[.digits]`` cells with 64-bit word arithmetic (SWAR).

    The digits before and after the dot are two runs of up to 16 characters,
    each loaded as one or two little-endian words, checked and combined in
    three multiply steps. Returns the values and a mask of the cells left for
    :class:`float`: exponents, more than 15 digits, anything else.
    """
    words = np.ndarray((a.size - 8,), dtype="<u8", buffer=a, strides=(1,))
    first = a[starts]
    negative = first == _MINUS
    digits_from = starts + (negative | (first == _PLUS))

    dots = np.flatnonzero(a == _DOT)
    cell = np.searchsorted(ends, dots, side="right")
    inside = cell < ends.size
    inside[inside] &= dots[inside] >= digits_from[cell[inside]]
    dots, cell = dots[inside], cell[inside]
    dot_at = ends.copy()
    dot_at[cell] = dots

    mantissa, ok = _parse_run(words, digits_from, dot_at - digits_from)
    fraction = np.zeros(starts.size, dtype=np.intp)
    if cell.size:
        fraction[cell] = ends[cell] - dots - 1
        part, part_ok = _parse_run(words, dots + 1, fraction[cell])
        mantissa[cell] = (
            mantissa[cell] * _POW10_INT[np.minimum(fraction[cell], 16)] + part
        )
        ok[cell] &= part_ok
        ok[cell[1:][cell[1:] == cell[:-1]]] = False  # two dots in one cell
    digits = ends - digits_from - (dot_at < ends)
    ok &= (digits > 0) & (digits <= _MAX_FAST_DIGITS)

    values = mantissa.astype(np.float64)
    if cell.size:
        values /= _POW10[np.minimum(fraction, _MAX_FAST_DIGITS)]
    np.negative(values, out=values, where=negative)
    return values, ~ok


def _parse_run(
    words: np.ndarray, starts: np.ndarray, count: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Read runs of ``count`` (0 to 16) ASCII digits as unsigned integers."""
    ok = (count >= 0) & (count <= 16)
    count = np.clip(count, 0, 16)
    low_count = np.minimum(count, 8)
    value, low_ok = _eight_digits(words[starts + count - low_count], low_count)
    ok &= low_ok
    high = np.flatnonzero(count > 8)
    if high.size:
        high_value, high_ok = _eight_digits(words[starts[high]], count[high] - 8)
        value[high] += high_value * _U8(10**8)
        ok[high] &= high_ok
    return value, ok


def _eight_digits(word: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value and validity of the first ``count`` (0 to 8) bytes of each word."""
    word = ((word << _SHIFT_A[count]) << _SHIFT_B[count]) | _PAD[count]
    high = word & _U8(0xF0F0F0F0F0F0F0F0)
    carried = ((word + _U8(0x0606060606060606)) & _U8(0xF0F0F0F0F0F0F0F0)) >> _U8(4)
    is_digits = (high | carried) == _U8(0x3333333333333333)
    # The first digit sits in the low byte; combine pairs, quads, then octets.
    word = word - _U8(0x3030303030303030)
    word = (word * _U8(10) + (word >> _U8(8))) & _U8(0x00FF00FF00FF00FF)
    word = (word * _U8(100) + (word >> _U8(16))) & _U8(0x0000FFFF0000FFFF)
    word = (word * _U8(10000) + (word >> _U8(32))) & _U8(0xFFFFFFFF)
    return word, is_digits


def _parse_slow_cells(
    a: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    values: np.ndarray,
    slow: np.ndarray,
) -> int:
    """Parse the ``slow`` cells with :class:`float`; return the first bad one."""
    for i in np.flatnonzero(slow):
        cell = a[starts[i] : ends[i]].tobytes()
        try:
            value = float(cell) if b"_" not in cell else float("nan")
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            return int(i)
        values[i] = value
    return -1


def _shortest_text(values: np.ndarray) -> np.ndarray:
    """Format float32 values with the fewest digits that read back exactly.

    Returns fixed-width ASCII (``S``) cells padded with NUL bytes, which
    :func:`_join_cells` drops: integers below 2**24 without a decimal point,
    everything else in numpy's shortest float32 representation.
    """
    negative_zero = np.signbit(values) & (values == 0)
    integral = (values == np.trunc(values)) & (np.abs(values) < 2**24)
    integral &= ~negative_zero
    if integral.all():
        return _integer_text(values.astype(np.int64))
    out = np.empty(values.shape, dtype="S16")
    out[integral] = _integer_text(values[integral].astype(np.int64))
    other = ~integral
    out[other] = values[other].astype("U16").astype("S16")
    out[negative_zero] = b"-0"
    return out


def _integer_text(values: np.ndarray) -> np.ndarray:
    """Decimal text of integers, right-aligned after NUL padding, digit by digit."""
    magnitude = np.abs(values)
    width = len(str(int(magnitude.max()))) if values.size else 1
    text = np.zeros((*values.shape, width + 1), dtype=np.uint8)
    rest = magnitude.copy()
    length = np.ones(values.shape, dtype=np.intp)
    for k in range(width):
        text[..., width - k] = np.where((rest > 0) | (k == 0), rest % 10 + _ZERO, 0)
        if k:
            length += rest > 0
        rest //= 10
    negative = np.nonzero(values < 0)
    text[(*negative, width - length[negative])] = _MINUS
    return text.view(f"S{width + 1}").reshape(values.shape)


def _join_cells(cells: np.ndarray, separator: bytes, terminator: bytes) -> bytes:
    """Join a 2-D array of NUL-padded cells into lines, dropping the padding."""
    rows, columns = cells.shape
    width = cells.dtype.itemsize
    grid = np.zeros((rows, columns, width + 1), dtype=np.uint8)
    grid[:, :, :width] = (
        np.ascontiguousarray(cells).view(np.uint8).reshape(rows, columns, width)
    )
    grid[:, :, width] = ord(separator)
    grid[:, -1, width] = ord(terminator)
    flat = grid.reshape(-1)
    return flat[flat != 0].tobytes()
