"""Fixed byte layouts of dense RecordIO-protobuf records, and the fast decoder.

A record made only of dense tensors has the same bytes in every frame except
the tensor values. :class:`_Layout` builds that frame once as a template, fills
it with rows of values (the dense encoders) or checks that frames match it;
:func:`_decode_fast` uses it to read same-width dense float32 records through
numpy views without parsing any protobuf. The Record schema constants (value
oneof field numbers and dtypes, map field numbers) live here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import DecodeError

from lodgepole.exceptions import DataFormatError
from lodgepole.formats._framing import (
    _HEADER,
    _LENGTH_MASK,
    _MAX_LENGTH,
    MAGIC,
    _padding,
    _where,
)
from lodgepole.formats.record_pb2 import Record

# Value oneof field numbers (SPEC section 5.2) and their numpy dtypes.
_TENSOR_FIELDS = {"float32_tensor": 2, "float64_tensor": 3, "int32_tensor": 7}
_TENSOR_DTYPES = {
    "float32_tensor": np.dtype("<f4"),
    "float64_tensor": np.dtype("<f8"),
    "int32_tensor": np.dtype("<i4"),
}
_FEATURES_FIELD = 1
_LABEL_FIELD = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def _entry_prefix(map_field: int, key: str, tensor_field: int, nbytes: int) -> bytes:
    """Bytes of one map entry holding a dense tensor, up to its values."""
    values_head = b"\x0a" + _varint(nbytes) if nbytes else b""
    tensor_len = len(values_head) + nbytes
    value_head = bytes([tensor_field << 3 | 2]) + _varint(tensor_len)
    value_len = len(value_head) + tensor_len
    key_bytes = key.encode()
    entry_head = b"\x0a" + _varint(len(key_bytes)) + key_bytes
    entry_head += b"\x12" + _varint(value_len)
    entry_len = len(entry_head) + value_len
    field_head = bytes([map_field << 3 | 2]) + _varint(entry_len)
    return field_head + entry_head + value_head + values_head


@dataclass(frozen=True)
class _Layout:
    """The frame of a record made of dense tensors, with its values zeroed."""

    template: np.ndarray  # uint8, one whole frame
    slots: tuple[tuple[int, int], ...]  # (offset, nbytes) of each tensor's values

    @classmethod
    def build(cls, entries: Sequence[tuple[int, str, str, int]]) -> _Layout:
        """Lay out entries (map field, key, tensor kind, count), in order."""
        pieces = []  # (prefix bytes, number of value bytes after it)
        for map_field, key, kind, count in entries:
            nbytes = count * _TENSOR_DTYPES[kind].itemsize
            prefix = _entry_prefix(map_field, key, _TENSOR_FIELDS[kind], nbytes)
            pieces.append((prefix, nbytes))
        length = sum(len(prefix) + nbytes for prefix, nbytes in pieces)
        if length >= _MAX_LENGTH:
            raise DataFormatError(
                f"{_where('<output>', 0, 0)}: expected a payload shorter than "
                f"2**29 bytes, found {length!r} bytes. Use fewer features."
            )

        template = np.zeros(8 + length + _padding(length), dtype=np.uint8)
        template[:8] = np.frombuffer(_HEADER.pack(MAGIC, length), dtype=np.uint8)
        slots = []
        pos = 8
        for prefix, nbytes in pieces:
            template[pos : pos + len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
            pos += len(prefix)
            slots.append((pos, nbytes))
            pos += nbytes
        return cls(template, tuple(slots))

    @property
    def frame_size(self) -> int:
        return self.template.size

    def fill(self, columns: Sequence[np.ndarray]) -> bytes:
        """Frames for rows of ``columns`` (one 2-D little-endian array a slot)."""
        n = columns[0].shape[0]
        out = np.empty((n, self.frame_size), dtype=np.uint8)
        out[:] = self.template
        for (start, nbytes), column in zip(self.slots, columns, strict=True):
            out[:, start : start + nbytes] = column.view(np.uint8).reshape(n, nbytes)
        return out.tobytes()

    def match(self, frames: np.ndarray) -> bool:
        """Whether every row of ``frames`` has this layout's fixed bytes."""
        start = 0
        for offset, nbytes in (*self.slots, (self.frame_size, 0)):
            if offset > start and not np.array_equal(
                frames[:, start:offset],
                np.broadcast_to(
                    self.template[start:offset], (len(frames), offset - start)
                ),
            ):
                return False
            start = offset + nbytes
        return True


def _decode_fast(
    data: bytes, require_labels: bool, feature_dim: int | None
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Decode same-width dense float32 records with numpy, or return None."""
    if len(data) < 8:
        return None
    magic, lrec = _HEADER.unpack_from(data, 0)
    length = lrec & _LENGTH_MASK
    if magic != MAGIC or lrec >> 29 or len(data) < 8 + length:
        return None
    try:
        first = Record.FromString(data[8 : 8 + length])
    except DecodeError:
        return None
    value = first.features.get("values")
    if value is None or value.WhichOneof("value") != "float32_tensor":
        return None
    width = len(value.float32_tensor.values)
    has_label = "values" in first.label
    if width == 0 or (feature_dim is not None and width != feature_dim):
        return None
    if require_labels and not has_label:
        return None

    entries = [(_FEATURES_FIELD, "values", "float32_tensor", width)]
    if has_label:
        entries.append((_LABEL_FIELD, "values", "float32_tensor", 1))
    layout = _Layout.build(entries)
    num_records, rest = divmod(len(data), layout.frame_size)
    if rest:
        return None
    frames = np.frombuffer(data, dtype=np.uint8).reshape(num_records, -1)
    if not layout.match(frames):
        return None

    def column(slot: tuple[int, int]) -> np.ndarray:
        start, nbytes = slot
        return frames[:, start : start + nbytes].view("<f4").astype(np.float32)

    labels = column(layout.slots[1]).reshape(-1) if has_label else None
    return column(layout.slots[0]), labels
