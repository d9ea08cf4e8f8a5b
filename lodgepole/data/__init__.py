"""Channels: named sources of training, validation and test records."""

from lodgepole.data.memory import InMemoryChannel, as_channel

__all__ = ["InMemoryChannel", "as_channel"]
