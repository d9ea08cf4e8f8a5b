"""Fuzzing RecordIO framing: ``read_frames`` and the streaming ``iter_frames``.

On any input both readers must return payloads or raise DataFormatError,
agree with each other (same payloads or the same message) however the
stream delivers its bytes, and never allocate the size a corrupt length word
claims.
"""

from __future__ import annotations

import io
import itertools
import struct
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.recordio import iter_frames, read_frames, write_frames
from tests._streams import Trickle
from tests.fuzz._support import (
    MAGIC_BYTES,
    decode_or_reject,
    frame,
    fuzz_settings,
    mutated,
)

_PEAK_LIMIT = 10 * 2**20  # bytes; a claimed length may never be allocated


def _outcome(read: Callable[[], list[bytes]]) -> list[bytes] | str:
    result = decode_or_reject(read)
    return f"error: {result}" if isinstance(result, DataFormatError) else result


def _check_readers_agree(data: bytes, step: int) -> list[bytes] | str:
    """Run every reader on ``data``; check the outcome is well-formed and shared."""
    whole = _outcome(lambda: read_frames(data))
    if isinstance(whole, list):
        assert all(type(p) is bytes for p in whole)
        # Each payload comes out of a frame of 8 header bytes at least.
        assert sum(len(p) + 8 for p in whole) <= len(data)
    streamed = _outcome(lambda: list(iter_frames(io.BytesIO(data), source="<bytes>")))
    assert streamed == whole
    trickled = _outcome(
        lambda: list(iter_frames(Trickle(data, step), source="<bytes>"))
    )
    assert trickled == whole
    return whole


def _records(draw: st.DrawFn) -> list[bytes]:
    return draw(st.lists(st.binary(max_size=40), max_size=6))


@st.composite
def _valid_recordio(draw: st.DrawFn) -> bytes:
    """Frames of random payloads, some records split in several parts."""
    pieces = []
    for payload in _records(draw):
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
        if not cuts:
            pieces.append(write_frames([payload]))
            continue
        bounds = [0, *cuts, len(payload)]
        parts = [payload[a:b] for a, b in itertools.pairwise(bounds)]
        flags = [1] + [2] * (len(parts) - 2) + [3]
        pieces += [frame(p, f) for p, f in zip(parts, flags, strict=True)]
    return b"".join(pieces)


@fuzz_settings()
@given(data=st.binary(max_size=256), step=st.integers(1, 16))
def test_arbitrary_bytes(data: bytes, step: int) -> None:
    _check_readers_agree(data, step)


@fuzz_settings()
@given(
    lrec=st.integers(0, 2**32 - 1),
    tail=st.binary(max_size=64),
    step=st.integers(1, 16),
)
def test_arbitrary_bytes_after_magic(lrec: int, tail: bytes, step: int) -> None:
    """Past the magic number: any length word, cflag and payload bytes."""
    _check_readers_agree(MAGIC_BYTES + struct.pack("<I", lrec) + tail, step)


@fuzz_settings(scale=2)
@given(data=mutated(_valid_recordio(), recordio=True), step=st.integers(1, 16))
def test_mutated_frames(data: bytes, step: int) -> None:
    _check_readers_agree(data, step)


@fuzz_settings()
@given(payloads=st.lists(st.binary(max_size=40), max_size=6), step=st.integers(1, 9))
def test_valid_frames_round_trip(payloads: list[bytes], step: int) -> None:
    assert _check_readers_agree(write_frames(payloads), step) == payloads


@fuzz_settings()
@given(
    data=mutated(_valid_recordio(), recordio=True),
    max_length=st.integers(0, 64),
)
def test_max_length(data: bytes, max_length: int) -> None:
    """With ``max_length`` the stream yields only payloads that short, or rejects."""
    result = decode_or_reject(
        lambda: list(iter_frames(io.BytesIO(data), max_length=max_length))
    )
    if isinstance(result, list):
        assert result == read_frames(data)
        # A multi-part record is longer than its parts; parts are bounded.
        assert all(len(p) <= max_length or MAGIC_BYTES in p for p in result)


# ----------------------------------------------------- bounded memory on lies

_HUGE = 2**29 - 1  # the largest length a frame can claim

_LIARS = {
    "claims 2**29-1": MAGIC_BYTES + struct.pack("<I", _HUGE) + b"abcd",
    "claims 2**29-1, cflag 1": MAGIC_BYTES + struct.pack("<I", 1 << 29 | _HUGE),
    "second frame claims 2**29-1": frame(b"ok")
    + MAGIC_BYTES
    + struct.pack("<I", _HUGE)
    + b"x" * 20,
    "last part claims 2**29-1": frame(b"head", 1)
    + MAGIC_BYTES
    + struct.pack("<I", 3 << 29 | _HUGE),
    "length word all ones": MAGIC_BYTES + b"\xff\xff\xff\xff" + b"\0" * 32,
}


def _peak(run: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match=r"truncated|cflag"):
            run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", sorted(_LIARS))
def test_tiny_input_claiming_huge_length_allocates_little(name: str) -> None:
    data = _LIARS[name]
    assert len(data) < 64
    assert _peak(lambda: read_frames(data)) < _PEAK_LIMIT
    assert _peak(lambda: list(iter_frames(io.BytesIO(data)))) < _PEAK_LIMIT
    assert _peak(lambda: list(iter_frames(Trickle(data, 3)))) < _PEAK_LIMIT


def test_huge_claim_in_a_real_file_allocates_little(tmp_path: object) -> None:
    """A buffered file reads in 1 MiB blocks, never the 512 MiB claimed."""
    path = tmp_path / "liar.rec"  # type: ignore[operator]
    path.write_bytes(_LIARS["claims 2**29-1"] + b"\0" * 2 * 2**20)
    with path.open("rb") as handle:
        assert _peak(lambda: list(iter_frames(handle))) < _PEAK_LIMIT
