"""uvicorn's httptools protocol with a bound on request heads.

uvicorn limits the request line and headers only in its h11
implementation, and neither implementation limits the time a client takes
to send them, so a client could hold a connection (and a growing buffer)
by sending a header a byte at a time. :func:`bounded_protocol` returns a
subclass of uvicorn's ``HttpToolsProtocol`` that answers

- ``431 Request Header Fields Too Large`` once more than ``max_head_bytes``
  arrive before the head of a request is complete, and
- ``408 Request Timeout`` when the head is not complete ``head_timeout``
  seconds after the connection opened (or after the first byte of a
  following request on a keep-alive connection; 10 s, or
  ``$LODGEPOLE_HEAD_TIMEOUT``),

and closes the connection. Bodies are not affected: their size and time
limits are the app's (``max_body_bytes``, ``request_timeout``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from typing import Any

logger = logging.getLogger("lodgepole.serving.server")

__all__ = ["bounded_protocol"]

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


#: Largest request line plus headers accepted (also h11's buffer limit).
MAX_HEAD_BYTES = 64 * 1024
#: Seconds a client has to send a request line and headers (by default).
DEFAULT_HEAD_TIMEOUT = 10.0
HEAD_TIMEOUT_ENV = "LODGEPOLE_HEAD_TIMEOUT"


def _head_timeout() -> float:
    """$LODGEPOLE_HEAD_TIMEOUT if it is a positive number of seconds, else 10."""
    text = os.environ.get(HEAD_TIMEOUT_ENV)
    if text is None:
        return DEFAULT_HEAD_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        logger.warning(
            "%s=%r is not a positive number of seconds; using %g",
            HEAD_TIMEOUT_ENV,
            text[:40],
            DEFAULT_HEAD_TIMEOUT,
        )
        return DEFAULT_HEAD_TIMEOUT
    return value


HEAD_TIMEOUT_SECONDS = _head_timeout()

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: uvicorn falls back to h11
    HttpToolsProtocol = None


def bounded_protocol() -> type[Any] | None:
    """The uvicorn HTTP protocol class to serve with, or None without httptools.

    Examples
    --------
    >>> protocol = bounded_protocol()
    >>> protocol is None or protocol.max_head_bytes
    65536
    """
    return None if HttpToolsProtocol is None else BoundedHttpToolsProtocol


if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc, valid-type]
        """HttpToolsProtocol that bounds the size and time of request heads."""

        max_head_bytes = MAX_HEAD_BYTES
        head_timeout = HEAD_TIMEOUT_SECONDS

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._head_timer: asyncio.TimerHandle | None = None
            self._in_head = True  # until the headers of a request are complete
            self._in_message = False  # from a request's first byte to its end
            self._head_bytes = 0
            super().connection_made(transport)
            self._start_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._in_head and not self._in_message:
                self._in_head = True  # a following request on this connection
                self._head_bytes = 0
                self._start_head_timer()
            if self._in_head:
                # Head bytes are counted before parsing, up to the blank line
                # that ends them, so an oversized head never reaches the app
                # and body bytes in the same chunk are not taken for head.
                end = data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else end + 4
                if self._head_bytes > self.max_head_bytes:
                    logger.info(
                        "request head over %d bytes; connection closed",
                        self.max_head_bytes,
                    )
                    self._refuse(431)
                    return
            super().data_received(data)

        def on_message_begin(self) -> None:
            self._in_message = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._cancel_head_timer()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_message = False
            super().on_message_complete()

        def _start_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(self.head_timeout, self._too_slow)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _too_slow(self) -> None:
            self._head_timer = None
            if self._in_head and not self.transport.is_closing():
                logger.info(
                    "request head not received within %gs; connection closed",
                    self.head_timeout,
                )
                self._refuse(408)

        def _refuse(self, status: int) -> None:
            self._cancel_head_timer()
            reason = _REASONS[status]
            body = b'{"error": "' + reason.lower() + b'"}'
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status, reason, len(body), body)
            )
            self.transport.close()
