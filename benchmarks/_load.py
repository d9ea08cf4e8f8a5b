"""Bounded HTTP load generator used by ``benchmarks/serve.py``.

Runs in its own process (``serve.py`` calls :func:`run_suite` through a
spawned ``ProcessPoolExecutor``), so it shares no GIL with any server. Every
request goes over a persistent HTTP/1.1 keep-alive connection of
:mod:`http.client`; a connection that fails is reopened.

- :func:`open_loop` sends requests at a fixed rate whatever the answers do.
  Latency is measured from each request's *scheduled* send time (a stalled
  server delays the requests queued behind it, and that delay counts, so
  coordinated omission is not hidden) and from its actual send time.
- :func:`closed_loop` keeps ``clients`` connections busy for a fixed time
  and counts rows scored per second.

Both are bounded in time and in requests: nothing runs past its duration
plus :data:`GRACE_SECONDS`, and every socket has a timeout.

Run as a script, ``python benchmarks/_load.py PORT`` serves a fixed reply on
``127.0.0.1:PORT`` with a bare asyncio HTTP/1.1 loop (:func:`serve_floor`):
the latency it measures is the floor of this client, kernel and machine.
"""

from __future__ import annotations

import asyncio
import http.client
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Request",
    "closed_loop",
    "mixed_open_loop",
    "open_loop",
    "run_suite",
    "serve_floor",
]

# How long a run may overrun its planned duration before it stops sending.
GRACE_SECONDS = 5.0
SOCKET_TIMEOUT_SECONDS = 10.0
# Pseudo-statuses of :meth:`_Connection.send`.
TIMED_OUT = -1
CONNECTION_FAILED = -2


@dataclass(frozen=True)
class Request:
    """One request to replay: where it goes and what it carries.

    Examples
    --------
    >>> r = Request("127.0.0.1", 8080, "/invocations", b"1,2\\n", "text/csv", 1)
    >>> r.headers()["Content-Type"]
    'text/csv'
    """

    host: str
    port: int
    path: str
    body: bytes
    content_type: str
    rows: int
    accept: str = "application/json"

    def headers(self) -> dict[str, str]:
        """HTTP headers of the request (``Content-Length`` is added later).

        An empty ``accept`` sends no ``Accept`` header.
        """
        if not self.accept:
            return {"Content-Type": self.content_type}
        return {"Content-Type": self.content_type, "Accept": self.accept}


@dataclass
class _Connection:
    """A keep-alive connection that reopens itself after an error."""

    request: Request
    conn: http.client.HTTPConnection | None = field(default=None)

    def post(self) -> bool:
        """Send the request once; True when the answer was a 200."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    self.request.host,
                    self.request.port,
                    timeout=SOCKET_TIMEOUT_SECONDS,
                )
            self.conn.request(
                "POST", self.request.path, self.request.body, self.request.headers()
            )
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return False
        if response.will_close:
            self.close()
        return response.status == 200

    def send(self, request: Request) -> tuple[int, str]:
        """Send ``request`` (same host and port) once: (status, content type).

        Status :data:`TIMED_OUT` for a socket timeout and
        :data:`CONNECTION_FAILED` for any other connection or protocol error.
        """
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    request.host, request.port, timeout=SOCKET_TIMEOUT_SECONDS
                )
            self.conn.request("POST", request.path, request.body, request.headers())
            response = self.conn.getresponse()
            response.read()
        except TimeoutError:
            self.close()
            return TIMED_OUT, ""
        except (OSError, http.client.HTTPException):
            self.close()
            return CONNECTION_FAILED, ""
        if response.will_close:
            self.close()
        return response.status, response.getheader("content-type", "")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _percentiles(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds (NaN when there is no sample)."""
    if not seconds:
        return {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
    ms = np.asarray(seconds) * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    return {"p50_ms": float(p50), "p99_ms": float(p99), "max_ms": float(ms.max())}


class _Schedule:
    """Hands out request indices in order to the sending threads."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._count = count

    def take(self) -> int | None:
        with self._lock:
            if self._next >= self._count:
                return None
            index = self._next
            self._next += 1
            return index


def open_loop(
    request: Request,
    rate: float,
    seconds: float,
    warmup_seconds: float = 1.0,
    connections: int = 16,
) -> dict[str, Any]:
    """Send ``request`` at ``rate`` per second for ``seconds``; report latency.

    Request ``i`` is due at ``start + i / rate``. ``connections`` threads,
    each with its own keep-alive connection, take the next due request when
    they are free, wait for its time and send it; when all are busy the
    next request goes out late and its lateness is part of its latency.
    Requests due in the first ``warmup_seconds`` are sent but not counted.

    Parameters
    ----------
    request
        The request to send.
    rate
        Requests per second.
    seconds
        Measured duration.
    warmup_seconds
        Unmeasured lead-in at the same rate.
    connections
        Most requests in flight at once.

    Returns
    -------
    dict
        ``scheduled`` and ``sent`` (each p50_ms, p99_ms, max_ms),
        ``requests`` measured, ``errors`` (non-200 answers, failures and
        requests never sent before the deadline) and ``achieved_rate``.
    """
    warmup = round(warmup_seconds * rate)
    total = warmup + round(seconds * rate)
    timed = _paced(
        total,
        rate,
        warmup_seconds + seconds + GRACE_SECONDS,
        connections,
        request,
        lambda connection, _: connection.post(),
    )
    records = [(i, done - due, done - sent, ok) for i, due, sent, done, ok in timed]

    measured = [r for r in records if r[0] >= warmup and r[3]]
    failed = sum(1 for r in records if r[0] >= warmup and not r[3])
    never_sent = total - len(records)
    return {
        "scheduled": _percentiles([r[1] for r in measured]),
        "sent": _percentiles([r[2] for r in measured]),
        "requests": len(measured),
        "errors": failed + never_sent,
        "achieved_rate": len(measured) / seconds,
    }


def mixed_open_loop(
    templates: list[Request],
    plan: list[int],
    rate: float,
    warmup: int,
    connections: int = 16,
) -> list[tuple[int, int, str, float, float]]:
    """Send ``templates[plan[i]]`` as request ``i``, at ``rate`` per second.

    The open-loop schedule of :func:`open_loop` with a different request in
    each slot: request ``i`` is due at ``start + i / rate``; requests due
    past the run's end plus :data:`GRACE_SECONDS` are not sent.

    Parameters
    ----------
    templates
        The distinct requests (all to the same host and port).
    plan
        Template index of each request, in sending order.
    rate
        Requests per second.
    warmup
        Requests at the start of ``plan`` that are sent but not returned.
    connections
        Most requests in flight at once, one keep-alive connection each.

    Returns
    -------
    list of tuple
        One ``(index, status, content_type, from_scheduled_s, from_sent_s)``
        per measured request that was sent, status as :meth:`_Connection.send`
        gives it. Requests of ``plan`` missing from the list were never sent.
    """
    timed = _paced(
        len(plan),
        rate,
        len(plan) / rate + GRACE_SECONDS,
        connections,
        templates[0],
        lambda connection, index: connection.send(templates[plan[index]]),
    )
    return [
        (index, status, content_type, done - due, done - sent)
        for index, due, sent, done, (status, content_type) in timed
        if index >= warmup
    ]


def _paced(
    count: int,
    rate: float,
    seconds: float,
    connections: int,
    first: Request,
    fire: Callable[[_Connection, int], Any],
) -> list[tuple[int, float, float, float, Any]]:
    """Run ``fire(connection, i)`` for request ``i`` at ``start + i / rate``.

    ``connections`` threads, one keep-alive connection each (opened for
    ``first``), take the next due request; requests due more than
    ``seconds`` after the start are not sent. Returns ``(i, due, sent,
    done, outcome)`` per request sent, sorted by ``i``.
    """
    schedule = _Schedule(count)
    records: list[tuple[int, float, float, float, Any]] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.05
    deadline = start + seconds

    def send() -> None:
        connection = _Connection(first)
        mine = []
        while (index := schedule.take()) is not None:
            due = start + index / rate
            if due > deadline:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            outcome = fire(connection, index)
            mine.append((index, due, sent, time.perf_counter(), outcome))
        connection.close()
        with lock:
            records.extend(mine)

    threads = [threading.Thread(target=send) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(records, key=lambda record: record[0])


def closed_loop(
    request: Request, clients: int, seconds: float, warmup_seconds: float = 0.5
) -> dict[str, Any]:
    """Keep ``clients`` connections busy with ``request``; report rows/s.

    Each client sends the next request as soon as the previous answer is
    read. Only answers completed within the ``seconds`` after the warm-up
    count.

    Parameters
    ----------
    request
        The request to send; ``request.rows`` rows each.
    clients
        Concurrent connections, one thread each.
    seconds
        Measured duration.
    warmup_seconds
        Unmeasured lead-in.

    Returns
    -------
    dict
        ``rows_per_second``, ``requests`` (200 answers in the window) and
        ``errors`` (other answers and failures in the window).
    """
    begin = time.perf_counter() + warmup_seconds
    end = begin + seconds
    counts = [[0, 0] for _ in range(clients)]

    def client(slot: list[int]) -> None:
        connection = _Connection(request)
        while (now := time.perf_counter()) < end:
            ok = connection.post()
            done = time.perf_counter()
            if now >= begin and done <= end:
                slot[0 if ok else 1] += 1
            if not ok:
                time.sleep(0.01)  # do not spin on a dead server
        connection.close()

    threads = [threading.Thread(target=client, args=(slot,)) for slot in counts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + warmup_seconds + GRACE_SECONDS)
    ok = sum(slot[0] for slot in counts)
    return {
        "rows_per_second": ok * request.rows / seconds,
        "requests": ok,
        "errors": sum(slot[1] for slot in counts),
    }


def run_suite(
    one_row: Request,
    bulk: dict[str, Request],
    rate: float,
    seconds: float,
    bulk_seconds: float,
    clients: int,
    warmup_seconds: float,
) -> dict[str, Any]:
    """All measurements of one server, run in the load generator process.

    Parameters
    ----------
    one_row
        The 1-row request of the fixed-rate latency test.
    bulk
        Format name -> 1000-row request of the throughput test.
    rate, seconds
        Fixed rate and duration of the latency test.
    bulk_seconds, clients
        Duration and concurrency of each throughput test.
    warmup_seconds
        Unmeasured lead-in before each test.

    Returns
    -------
    dict
        ``latency`` (see :func:`open_loop`) and ``throughput``: format
        name -> result of :func:`closed_loop`.
    """
    latency = open_loop(one_row, rate, seconds, warmup_seconds)
    throughput = {
        name: closed_loop(req, clients, bulk_seconds, warmup_seconds / 2)
        for name, req in bulk.items()
    }
    return {"latency": latency, "throughput": throughput}


_FLOOR_BODY = (
    b'{"predictions":[{"score":[0.1,0.1,0.1,0.1,0.1,0.1,0.4],"predicted_label":6.0}]}'
)
_FLOOR_REPLY = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n" % len(_FLOOR_BODY) + _FLOOR_BODY
)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on one connection with the fixed reply."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.write(_FLOOR_REPLY)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        pass
    finally:
        writer.close()


def serve_floor(port: int, host: str = "127.0.0.1") -> None:
    """Serve a fixed 200 reply to any request until the process is stopped.

    No framework and no model: what a server cannot go below on this
    machine with this client.
    """

    async def main() -> None:
        server = await asyncio.start_server(_answer, host, port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


if __name__ == "__main__":
    serve_floor(int(sys.argv[1]))
