"""Is a process still running? Shared by the endpoint registry and the jobs store.

Both record the process id of something that outlives the Python process
that started it (a server, a training run) and later ask whether it is still
there. :func:`running` answers with ``os.kill(pid, 0)`` and, on Linux, the
process state in ``/proc`` (a zombie has exited); :func:`start_time` gives
the kernel's start time of a process, so a recycled process id can be told
apart from the one recorded.

Examples
--------
>>> import os
>>> running(os.getpid())
True
>>> start_time(os.getpid()) == start_time(os.getpid())
True
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["running", "start_time", "stat_fields"]


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name, or None.

    Field 0 is the state letter, field 19 the start time in clock ticks.
    None when there is no ``/proc`` or no such process.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), else None."""
    fields = stat_fields(pid)
    return None if fields is None else fields[19]


def running(pid: int | None) -> bool:
    """True while ``pid`` exists and has not exited (zombies count as gone).

    Without ``/proc`` only ``os.kill(pid, 0)`` is asked. A process of
    another user counts as running.
    """
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc/self/stat").exists():
        return True
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")
