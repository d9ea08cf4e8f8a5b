"""Stream doubles shared by the tests of the streaming readers."""

from __future__ import annotations

import io


class Trickle(io.RawIOBase):
    """A raw, unseekable stream that returns at most ``step`` bytes a read,
    like a pipe or a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.pos = 0
        self.step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), self.step, len(self.data) - self.pos)
        buffer[:size] = self.data[self.pos : self.pos + size]
        self.pos += size
        return size
