"""Shared pieces of the decoder fuzz suites: settings, mutations, outcome checks.

Every suite runs :func:`fuzz_settings` examples per test: 100 by default,
so the whole directory stays well under a minute on two cores. Set
``LODGEPOLE_FUZZ_EXAMPLES`` to run more (``LODGEPOLE_FUZZ_EXAMPLES=20000
python -m pytest tests/fuzz`` for a long local run). Hypothesis's example
database is off, so nothing is written into the repository; a failure prints
the ``@reproduce_failure`` blob and the shrunk input instead.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from lodgepole.exceptions import DataFormatError

__all__ = [
    "DEFAULT_EXAMPLES",
    "MAGIC_BYTES",
    "decode_or_reject",
    "examples",
    "frame",
    "frame_offsets",
    "fuzz_settings",
    "mutated",
]

DEFAULT_EXAMPLES = 100
_ENV = "LODGEPOLE_FUZZ_EXAMPLES"
MAGIC_BYTES = bytes.fromhex("0a23d7ce")

T = TypeVar("T")


def examples(scale: float = 1.0) -> int:
    """Examples per test: ``LODGEPOLE_FUZZ_EXAMPLES`` (default 100) times scale."""
    raw = os.environ.get(_ENV, str(DEFAULT_EXAMPLES))
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(
            f"{_ENV}={raw!r}: expected a positive integer number of examples"
        ) from None
    if count < 1:
        raise ValueError(f"{_ENV}={raw!r}: expected a positive integer, found {count}")
    return max(1, round(count * scale))


def fuzz_settings(scale: float = 1.0) -> settings:
    """Hypothesis settings of every fuzz test.

    A 2 s deadline per example turns a decoder that hangs (or goes quadratic
    on a small input) into a failure; the database is off so no
    ``.hypothesis`` directory appears in the repository.
    """
    return settings(
        max_examples=examples(scale),
        deadline=2000,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def decode_or_reject(decode: Callable[[], T]) -> T | DataFormatError:
    """Run a decoder; return its result or the DataFormatError it raised.

    Any other exception propagates and fails the test: a decoder must reject
    bad input only with DataFormatError, with a message saying what is wrong.
    """
    try:
        return decode()
    except DataFormatError as err:
        message = str(err)
        assert message.strip(), f"DataFormatError with an empty message: {err!r}"
        return err


def frame(payload: bytes, cflag: int = 0) -> bytes:
    """One RecordIO frame, written by hand (independent of write_frames)."""
    header = MAGIC_BYTES + struct.pack("<I", cflag << 29 | len(payload))
    return header + payload + b"\0" * (-len(payload) % 4)


def frame_offsets(data: bytes) -> list[int]:
    """Byte offsets of the frame headers of well-formed RecordIO ``data``."""
    offsets = []
    pos = 0
    while pos + 8 <= len(data):
        offsets.append(pos)
        length = struct.unpack_from("<I", data, pos + 4)[0] & ((1 << 29) - 1)
        pos += 8 + length + (-length % 4)
    return offsets


_HUGE_LENGTHS = st.one_of(
    st.sampled_from([2**29 - 1, 2**29, 2**31, 2**32 - 1, 2**28, 2**20]),
    st.integers(0, 2**32 - 1),
)


@st.composite
def mutated(
    draw: Any, valid: st.SearchStrategy[bytes], recordio: bool = False
) -> bytes:
    """A valid encoded body with 1-4 random edits applied.

    Edits: flip bits of a byte, insert random bytes, delete a run, truncate,
    duplicate a slice elsewhere; for RecordIO also overwrite a frame's length
    word (up to 2**32 - 1) or flip its continuation flag bits.
    """
    data = bytearray(draw(valid))
    kinds = ["flip", "insert", "delete", "truncate", "duplicate"]
    if recordio:
        kinds += ["length", "cflag"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(kinds))
        size = len(data)
        if kind == "flip" and size:
            at = draw(st.integers(0, size - 1))
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            at = draw(st.integers(0, size))
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and size:
            at = draw(st.integers(0, size - 1))
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[draw(st.integers(0, size)) :]
        elif kind == "duplicate" and size:
            start = draw(st.integers(0, size - 1))
            piece = bytes(data[start : start + draw(st.integers(1, 64))])
            at = draw(st.integers(0, size))
            data[at:at] = piece
        elif kind in ("length", "cflag"):
            offsets = frame_offsets(bytes(data))
            if not offsets:
                continue
            at = draw(st.sampled_from(offsets)) + 4
            if kind == "length":
                data[at : at + 4] = struct.pack("<I", draw(_HUGE_LENGTHS))
            else:
                word = struct.unpack_from("<I", data, at)[0]
                flipped = word ^ (draw(st.integers(1, 7)) << 29)
                data[at : at + 4] = struct.pack("<I", flipped)
    return bytes(data)
