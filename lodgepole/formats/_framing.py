"""RecordIO framing: split bytes into record payloads and frame them back.

A RecordIO file is a run of frames: a 4-byte magic number, a 4-byte length
word whose top 3 bits are a continuation flag, the payload, and zero padding
to a multiple of 4 bytes (shared/SPEC.md section 5). This layer knows nothing
of the protobuf records inside; :mod:`lodgepole.formats.recordio` re-exports
its public names.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from lodgepole.exceptions import DataFormatError

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_MAX_LENGTH = 1 << 29  # payloads must be shorter than this
_LENGTH_MASK = _MAX_LENGTH - 1
_HEADER = struct.Struct("<II")


def _where(source: str, index: int, offset: int) -> str:
    return f"{source!r}, record {index}, byte offset {offset}"


def _padding(length: int) -> int:
    return -length % 4


def write_frames(payloads: Iterable[bytes]) -> bytes:
    """Frame payloads as RecordIO, the way the SageMaker SDK writes them.

    Every payload becomes one frame with continuation flag 0, its length in
    the length word and zero padding to a multiple of 4 bytes. Payloads are
    not scanned for the magic word (the length alone delimits them).

    Parameters
    ----------
    payloads : iterable of bytes
        Serialized records, each shorter than 2**29 bytes.

    Returns
    -------
    bytes
        The frames, concatenated. Cost: one copy of the payloads.

    Raises
    ------
    DataFormatError
        If a payload is 2**29 bytes or longer.

    Examples
    --------
    >>> write_frames([b"abc"]).hex(" ")
    '0a 23 d7 ce 03 00 00 00 61 62 63 00'
    """
    parts: list[bytes] = []
    offset = 0
    for index, payload in enumerate(payloads):
        length = len(payload)
        if length >= _MAX_LENGTH:
            raise DataFormatError(
                f"{_where('<output>', index, offset)}: expected a payload shorter "
                f"than 2**29 bytes, found {length!r} bytes. Split the record."
            )
        pad = _padding(length)
        parts += [_HEADER.pack(MAGIC, length), payload, b"\0" * pad]
        offset += 8 + length + pad
    return b"".join(parts)


def _frame_error(source: str, index: int, offset: int, message: str) -> None:
    raise DataFormatError(f"{_where(source, index, offset)}: {message}")


def _read_frame(data: bytes, pos: int, index: int, source: str) -> tuple[int, int]:
    """Check the frame at ``pos``; return (cflag, payload length)."""
    if len(data) - pos < 8:
        _frame_error(
            source,
            index,
            pos,
            f"truncated header: expected 8 bytes, found {len(data) - pos!r}",
        )
    magic, lrec = _HEADER.unpack_from(data, pos)
    if magic != MAGIC:
        _frame_error(
            source,
            index,
            pos,
            f"expected magic number {MAGIC:#010x} (bytes 0a 23 d7 ce), "
            f"found {magic:#010x}; this is not a RecordIO file or it is corrupt",
        )
    cflag, length = lrec >> 29, lrec & _LENGTH_MASK
    if cflag > 3:
        _frame_error(source, index, pos, f"expected cflag 0-3, found {cflag!r}")
    pad = _padding(length)
    available = len(data) - pos - 8
    if available < length + pad:
        _frame_error(
            source,
            index,
            pos,
            f"truncated payload: expected {length!r} bytes plus {pad!r} padding, "
            f"found {available!r}",
        )
    padding = data[pos + 8 + length : pos + 8 + length + pad]
    if padding.count(0) != pad:
        _frame_error(
            source, index, pos, f"expected zero padding, found {bytes(padding)!r}"
        )
    return cflag, length


def _scan_frames(data: bytes, source: str) -> tuple[list[bytes], list[int]]:
    """Split ``data`` into payloads (multi-part records joined) and offsets."""
    payloads: list[bytes] = []
    offsets: list[int] = []
    parts: list[bytes] = []
    pos = 0
    end = len(data)
    while pos < end:
        index = len(payloads)
        cflag, length = _read_frame(data, pos, index, source)
        payload = bytes(data[pos + 8 : pos + 8 + length])
        if cflag == 0 or cflag == 1:
            if parts:
                _frame_error(
                    source,
                    index,
                    pos,
                    f"expected cflag 2 or 3 continuing the record at byte offset "
                    f"{offsets[-1]!r}, found {cflag!r}",
                )
            offsets.append(pos)
        elif not parts:
            _frame_error(
                source,
                index,
                pos,
                f"expected cflag 0 or 1 at the start of a record, found {cflag!r}",
            )
        if cflag == 0:
            payloads.append(payload)
        else:
            parts.append(payload)
            if cflag == 3:
                payloads.append(_MAGIC_BYTES.join(parts))
                parts = []
        pos += 8 + length + _padding(length)
    if parts:
        _frame_error(
            source,
            len(payloads),
            offsets[-1],
            "truncated multi-part record: expected a last part (cflag 3), "
            "found the end of the data",
        )
    return payloads, offsets


def read_frames(data: bytes, *, source: str = "<bytes>") -> list[bytes]:
    """Split RecordIO bytes into record payloads.

    Checks the magic number of every frame, reads the 29-bit length and the
    3-bit continuation flag, checks the zero padding and joins multi-part
    records (flags 1, 2, 3), putting back the magic word between parts as
    the dmlc reader does. The data may end only at a frame boundary.

    Parameters
    ----------
    data : bytes
        The whole file or object.
    source : str, default "<bytes>"
        Name of the file or object, used in error messages.

    Returns
    -------
    list of bytes
        One payload per record. Cost: one copy of the data, one Python step
        per frame.

    Raises
    ------
    DataFormatError
        On a bad magic number, a truncated header or payload, nonzero
        padding, or a broken multi-part sequence; the message names the
        source, the record index and the byte offset.

    Examples
    --------
    >>> read_frames(write_frames([b"abc", b""]))
    [b'abc', b'']
    """
    payloads, _ = _scan_frames(data, source)
    return payloads
