"""RecordIO framing: split bytes into record payloads and frame them back.

A RecordIO file is a run of frames: a 4-byte magic number, a 4-byte length
word whose top 3 bits are a continuation flag, the payload, and zero padding
to a multiple of 4 bytes (shared/SPEC.md section 5). `read_frames` splits a
whole buffer and `iter_frames` reads a stream in blocks; both run the same
frame checks and join multi-part records the same way, so they give the same
payloads and the same error messages. This layer knows nothing of the
protobuf records inside; :mod:`lodgepole.formats.recordio` re-exports its
public names.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from typing import IO, NoReturn

from lodgepole.exceptions import DataFormatError

MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", MAGIC)
_MAX_LENGTH = 1 << 29  # payloads must be shorter than this
_LENGTH_MASK = _MAX_LENGTH - 1
_HEADER = struct.Struct("<II")
_BLOCK_SIZE = 1 << 20  # bytes read from a stream at a time


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


def _frame_error(source: str, index: int, offset: int, message: str) -> NoReturn:
    raise DataFormatError(f"{_where(source, index, offset)}: {message}")


def _check_header(
    header: bytes, offset: int, index: int, source: str
) -> tuple[int, int]:
    """Check the 8 header bytes of the frame at ``offset``; return (cflag, length)."""
    if len(header) < 8:
        _frame_error(
            source,
            index,
            offset,
            f"truncated header: expected 8 bytes, found {len(header)!r}",
        )
    magic, lrec = _HEADER.unpack_from(header)
    if magic != MAGIC:
        _frame_error(
            source,
            index,
            offset,
            f"expected magic number {MAGIC:#010x} (bytes 0a 23 d7 ce), "
            f"found {magic:#010x}; this is not a RecordIO file or it is corrupt",
        )
    cflag, length = lrec >> 29, lrec & _LENGTH_MASK
    if cflag > 3:
        _frame_error(source, index, offset, f"expected cflag 0-3, found {cflag!r}")
    return cflag, length


def _check_size(
    length: int, available: int, offset: int, index: int, source: str
) -> None:
    """Check that ``available`` bytes after the header hold payload and padding."""
    pad = _padding(length)
    if available < length + pad:
        _frame_error(
            source,
            index,
            offset,
            f"truncated payload: expected {length!r} bytes plus {pad!r} padding, "
            f"found {available!r}",
        )


def _check_padding(padding: bytes, offset: int, index: int, source: str) -> None:
    if padding.count(0) != len(padding):
        _frame_error(
            source, index, offset, f"expected zero padding, found {bytes(padding)!r}"
        )


def _read_frame(data: bytes, pos: int, index: int, source: str) -> tuple[int, int]:
    """Check the frame at ``pos``; return (cflag, payload length)."""
    cflag, length = _check_header(data[pos : pos + 8], pos, index, source)
    _check_size(length, len(data) - pos - 8, pos, index, source)
    end = pos + 8 + length
    _check_padding(data[end : end + _padding(length)], pos, index, source)
    return cflag, length


# A frame reader takes (byte offset, record index) and returns the frame there
# as (cflag, payload, frame size in bytes), or None at the end of the data.
_FrameAt = Callable[[int, int], tuple[int, bytes, int] | None]


def _join_records(frame_at: _FrameAt, source: str) -> Iterator[tuple[int, bytes]]:
    """Yield (byte offset, payload) per record, joining multi-part records."""
    parts: list[bytes] = []
    index = 0
    start = 0  # byte offset of the record being read
    pos = 0
    while (frame := frame_at(pos, index)) is not None:
        cflag, payload, size = frame
        if cflag == 0 or cflag == 1:
            if parts:
                _frame_error(
                    source,
                    index,
                    pos,
                    f"expected cflag 2 or 3 continuing the record at byte offset "
                    f"{start!r}, found {cflag!r}",
                )
            start = pos
        elif not parts:
            _frame_error(
                source,
                index,
                pos,
                f"expected cflag 0 or 1 at the start of a record, found {cflag!r}",
            )
        if cflag == 0:
            yield start, payload
            index += 1
        else:
            parts.append(payload)
            if cflag == 3:
                yield start, _MAGIC_BYTES.join(parts)
                index += 1
                parts = []
        pos += size
    if parts:
        _frame_error(
            source,
            index,
            start,
            "truncated multi-part record: expected a last part (cflag 3), "
            "found the end of the data",
        )


def _scan_frames(data: bytes, source: str) -> tuple[list[bytes], list[int]]:
    """Split ``data`` into payloads (multi-part records joined) and offsets."""

    def frame_at(pos: int, index: int) -> tuple[int, bytes, int] | None:
        if pos >= len(data):
            return None
        cflag, length = _read_frame(data, pos, index, source)
        payload = bytes(data[pos + 8 : pos + 8 + length])
        return cflag, payload, 8 + length + _padding(length)

    payloads: list[bytes] = []
    offsets: list[int] = []
    for offset, payload in _join_records(frame_at, source):
        offsets.append(offset)
        payloads.append(payload)
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


class _Blocks:
    """Hands out byte runs of any size from a binary stream read in blocks."""

    def __init__(self, handle: IO[bytes], block_size: int) -> None:
        self.handle = handle
        self.block_size = block_size
        self.block = b""
        self.pos = 0

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes, or fewer at the end of the stream."""
        end = self.pos + size
        if end <= len(self.block):
            run = self.block[self.pos : end]
            self.pos = end
            return run

        pieces = [self.block[self.pos :]]
        need = size - len(pieces[0])
        self.block, self.pos = b"", 0
        while need > 0:
            block = self.handle.read(self.block_size)
            if not block:
                break
            if len(block) > need:
                pieces.append(block[:need])
                self.block, self.pos = block, need
                break
            pieces.append(block)
            need -= len(block)
        return b"".join(pieces)


def _stream_records(
    handle: IO[bytes],
    source: str,
    max_length: int | None = None,
    block_size: int = _BLOCK_SIZE,
) -> Iterator[tuple[int, bytes]]:
    """Yield (byte offset, payload) per record of a stream; see `iter_frames`."""
    blocks = _Blocks(handle, block_size)

    def frame_at(pos: int, index: int) -> tuple[int, bytes, int] | None:
        header = blocks.take(8)
        if not header:
            return None
        cflag, length = _check_header(header, pos, index, source)
        if max_length is not None and length > max_length:
            _frame_error(
                source,
                index,
                pos,
                f"expected a payload of at most {max_length!r} bytes, found a "
                f"length of {length!r}; the file is corrupt or not RecordIO",
            )
        pad = _padding(length)
        # Read in blocks: a corrupt length costs at most the bytes really left.
        body = blocks.take(length + pad)
        _check_size(length, len(body), pos, index, source)
        _check_padding(body[length:], pos, index, source)
        return cflag, body[:length] if pad else body, 8 + length + pad

    return _join_records(frame_at, source)


def iter_frames(
    handle: IO[bytes], *, source: str = "<stream>", max_length: int | None = None
) -> Iterator[bytes]:
    """Yield the record payloads of a RecordIO stream, one record at a time.

    The streaming form of `read_frames`: same checks, same joining of
    multi-part records, same error messages (source, record index, byte
    offset from where reading started).

    Parameters
    ----------
    handle : binary file object
        Read from its current position to its end with ``read``.
    source : str, default "<stream>"
        Name of the file or object, used in error messages.
    max_length : int, optional
        Largest payload length accepted in one frame; by default the
        format's limit, 2**29 - 1 bytes.

    Yields
    ------
    bytes
        One payload per record.

    Raises
    ------
    DataFormatError
        As `read_frames`, raised when the reader reaches the bad frame; also
        when a frame claims more than ``max_length`` bytes.

    Notes
    -----
    Cost: the stream is read in blocks of 1 MiB, so memory is one block plus
    the record being read (twice its size while it is assembled). A length
    word claiming more bytes than the stream holds is reported as a truncated
    payload after reading what is there, never allocating the claimed size.

    Examples
    --------
    >>> import io
    >>> list(iter_frames(io.BytesIO(write_frames([b"abc", b""]))))
    [b'abc', b'']
    """
    for _, payload in _stream_records(handle, source, max_length):
        yield payload
