"""Channels: named sources of training, validation and test records.

:func:`as_channel` turns arrays, DataFrames, sparse matrices, files, folders,
globs, URLs and record sets into a :class:`Channel`: in memory when the data
fits the memory budget, streamed shard by shard otherwise.
"""

from lodgepole.data.channel import Channel
from lodgepole.data.memory import InMemoryChannel, as_channel, memory_budget
from lodgepole.data.record_set import RecordSet, read_record_set, record_set
from lodgepole.data.stream import StreamingChannel

__all__ = [
    "Channel",
    "InMemoryChannel",
    "RecordSet",
    "StreamingChannel",
    "as_channel",
    "memory_budget",
    "read_record_set",
    "record_set",
]
