"""Channels: named sources of training, validation and test records."""

from lodgepole.data.memory import InMemoryChannel, as_channel
from lodgepole.data.record_set import RecordSet, read_record_set, record_set

__all__ = [
    "InMemoryChannel",
    "RecordSet",
    "as_channel",
    "read_record_set",
    "record_set",
]
