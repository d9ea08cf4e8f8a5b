"""Tests for the streaming RecordIO reader, ``iter_frames``.

The streaming reader must agree with the whole-buffer ``read_frames`` on every
input: the same payloads, or the same DataFormatError message.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lodgepole.exceptions import DataFormatError
from lodgepole.formats._framing import _stream_records
from lodgepole.formats.recordio import iter_frames, read_frames, write_frames
from tests._streams import Trickle

MAGIC = bytes.fromhex("0a23d7ce")


def _frame(payload: bytes, cflag: int = 0) -> bytes:
    header = MAGIC + struct.pack("<I", cflag << 29 | len(payload))
    return header + payload + b"\0" * (-len(payload) % 4)


def _multipart(parts: list[bytes]) -> bytes:
    flags = [1] + [2] * (len(parts) - 2) + [3]
    return b"".join(_frame(p, f) for p, f in zip(parts, flags, strict=True))


def _outcome(read: Callable[[], list[bytes]]) -> list[bytes] | str:
    """The payloads read, or the message of the DataFormatError raised."""
    try:
        return read()
    except DataFormatError as err:
        return f"error: {err}"


def _streamed(data: bytes, block_size: int) -> list[bytes]:
    records = _stream_records(io.BytesIO(data), "<bytes>", block_size=block_size)
    return [payload for _, payload in records]


_payloads = st.lists(st.binary(max_size=40), max_size=6)
_records = st.lists(
    st.one_of(
        _payloads.map(lambda ps: b"".join(_frame(p) for p in ps)),
        st.lists(st.binary(max_size=9), min_size=2, max_size=4).map(_multipart),
    ),
    max_size=5,
)


def test_iter_frames_reads_single_and_multipart_records() -> None:
    data = _frame(b"abc") + _multipart([b"abcd", b"efgh", b"ij"]) + _frame(b"")
    expected = [b"abc", b"abcd" + MAGIC + b"efgh" + MAGIC + b"ij", b""]
    assert list(iter_frames(io.BytesIO(data))) == expected
    assert read_frames(data) == expected


def test_iter_frames_yields_one_record_at_a_time() -> None:
    data = _frame(b"good") + b"this is not a frame"
    records = iter_frames(io.BytesIO(data), source="part.pbr")
    assert next(records) == b"good"
    with pytest.raises(DataFormatError, match=r"'part\.pbr', record 1, byte offset 12"):
        next(records)


@settings(max_examples=80, deadline=None)
@given(_records, st.integers(1, 64), st.data())
def test_stream_agrees_with_whole_buffer_on_any_damage(
    records: list[bytes], block_size: int, data: st.DataObject
) -> None:
    whole = b"".join(records)
    damage = data.draw(st.sampled_from(["none", "cut", "flip"]))
    if damage == "cut" and whole:
        whole = whole[: data.draw(st.integers(0, len(whole) - 1))]
    elif damage == "flip" and whole:
        at = data.draw(st.integers(0, len(whole) - 1))
        value = data.draw(st.integers(0, 255))
        whole = whole[:at] + bytes([value]) + whole[at + 1 :]
    expected = _outcome(lambda: read_frames(whole))
    assert _outcome(lambda: _streamed(whole, block_size)) == expected


@pytest.mark.parametrize("step", [1, 3, 1000])
def test_short_reads_of_a_raw_stream_are_joined(step: int) -> None:
    payloads = [bytes(range(n)) for n in (0, 5, 17, 200)]
    data = write_frames(payloads) + _multipart([b"ab", b"cd"])
    got = list(iter_frames(Trickle(data, step)))  # type: ignore[arg-type]
    assert got == [*payloads, b"ab" + MAGIC + b"cd"]


def test_truncated_payload_names_record_and_offset() -> None:
    data = write_frames([b"abc", b"defgh"])[:-5]
    with pytest.raises(
        DataFormatError,
        match=r"'t\.pbr', record 1, byte offset 12: truncated payload: expected 5 "
        r"bytes plus 3 padding, found 3",
    ):
        list(iter_frames(io.BytesIO(data), source="t.pbr"))


def test_huge_length_is_an_error_without_allocating_it() -> None:
    claimed = (1 << 29) - 1
    data = _frame(b"ok") + MAGIC + struct.pack("<I", claimed) + bytes(100)
    tracemalloc.start()
    try:
        with pytest.raises(
            DataFormatError,
            match=rf"record 1, byte offset 12: truncated payload: expected {claimed} "
            r"bytes plus 1 padding, found 100",
        ):
            list(iter_frames(io.BytesIO(data)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_length_above_max_length_is_refused_before_reading() -> None:
    data = _frame(b"ok") + _frame(bytes(64))
    handle = io.BytesIO(data)
    records = iter_frames(handle, source="m.pbr", max_length=16)
    assert next(records) == b"ok"
    with pytest.raises(
        DataFormatError,
        match=r"'m\.pbr', record 1, byte offset 12: expected a payload of at most "
        r"16 bytes, found a length of 64",
    ):
        next(records)
    assert list(iter_frames(io.BytesIO(data), max_length=64)) == [b"ok", bytes(64)]


def test_max_length_applies_to_each_part_of_a_multipart_record() -> None:
    data = _multipart([bytes(8), bytes(8), bytes(40)])
    with pytest.raises(DataFormatError, match=r"record 0, byte offset 32: .*at most 8"):
        list(iter_frames(io.BytesIO(data), max_length=8))
