"""Process helpers shared by the tests that start servers."""

from __future__ import annotations

import subprocess
from pathlib import Path


def children(pid: int | None) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def terminate(process: subprocess.Popen[bytes]) -> bytes:
    """SIGTERM ``process`` (SIGKILL after 10 s); its remaining stderr."""
    process.terminate()
    try:
        _, stderr = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate(timeout=10)
    return stderr or b""
