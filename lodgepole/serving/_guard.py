"""Access control and bounded error replies of the endpoint app.

``BearerAuthMiddleware`` answers 401 to requests without the bearer token
(``GET /ping`` stays open); ``error_reply`` builds the JSON error body, cut
by ``bounded`` so no reply echoes more than a short prefix of any input.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from lodgepole.serving._protocol import MAX_MESSAGE_CHARS, MAX_QUOTE_CHARS

__all__ = [
    "BearerAuthMiddleware",
    "bounded",
    "check_auth_token",
    "error_reply",
    "quote",
]

logger = logging.getLogger("lodgepole.serving.app")

#: An unbroken run this long in an error message is quoted input, not prose.
_LONG_RUN = re.compile(r"\S{" + str(MAX_QUOTE_CHARS + 25) + ",}")


def bounded(message: str) -> str:
    """``message`` with long unbroken runs and its total length cut.

    Decoders quote offending cells, keys and values; whatever they quote,
    at most 40 characters of any run of input come back.
    """
    message = _LONG_RUN.sub(lambda m: m.group()[:MAX_QUOTE_CHARS] + "...", message)
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 3] + "..."


def quote(text: str) -> str:
    """``repr`` of at most the first 40 characters of client-supplied text."""
    if len(text) <= MAX_QUOTE_CHARS:
        return repr(text)
    return repr(text[:MAX_QUOTE_CHARS]) + "..."


def error_reply(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": bounded(message)}, status_code=status, headers=headers
    )


#: Routes answered without a token, so health checks need no secret.
_OPEN_ROUTES = frozenset({("GET", "/ping"), ("HEAD", "/ping")})


def check_auth_token(token: str, source: str = "auth token") -> str:
    """Return ``token`` if it can be sent as a bearer token, else raise.

    A token must be non-empty and made of printable ASCII characters other
    than space (it travels in the ``Authorization`` header). The error
    message names ``source`` but never quotes the token.

    Parameters
    ----------
    token
        The shared secret.
    source
        Where the token came from (an option, a file, a variable), for the
        error message.

    Raises
    ------
    ValueError
        If the token is empty or holds other characters.

    Examples
    --------
    >>> check_auth_token("s3cret-Token")
    's3cret-Token'
    >>> check_auth_token("", "LODGEPOLE_AUTH_TOKEN")
    Traceback (most recent call last):
    ...
    ValueError: LODGEPOLE_AUTH_TOKEN is empty; expected a bearer token ...
    """
    if not isinstance(token, str) or not token:
        raise ValueError(
            f"{source} is empty; expected a bearer token of printable ASCII "
            "characters without spaces."
        )
    if not all("!" <= char <= "~" for char in token):
        raise ValueError(
            f"{source} holds spaces, control or non-ASCII characters; expected a "
            "bearer token of printable ASCII characters without spaces."
        )
    return token


class BearerAuthMiddleware:
    """ASGI middleware answering 401 to requests without the bearer token.

    It decides from the headers alone, before the application sees the
    request: a refused body is never parsed or kept. It is read and dropped
    (up to ``max_body_bytes``, within ``timeout`` seconds) before the 401
    goes out, because a server that closes a connection with unread data
    resets it, and a client still sending would never see the 401.
    ``GET /ping`` is open. The token is compared in constant time and never
    logged.
    """

    def __init__(
        self, app: ASGIApp, token: str, max_body_bytes: int, timeout: float
    ) -> None:
        self.app = app
        self._expected = b"bearer " + token.encode("ascii")
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout

    async def _discard_body(self, scope: Scope, receive: Receive) -> None:
        """Read and drop the request body, within the size and time limits."""
        for name, value in scope["headers"]:
            if name == b"content-length":
                text = value.strip()
                if not text.isdigit() or len(text) > 18:
                    return
                if int(text) > self.max_body_bytes:
                    return  # not worth reading; the connection will reset
        size = 0
        with anyio.move_on_after(self.timeout):
            while size <= self.max_body_bytes:
                message = await receive()
                if message["type"] != "http.request":
                    return
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return

    def _authorized(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value.strip()
                break
        # The scheme is case-insensitive (RFC 7235); compare_digest on the
        # whole value keeps the comparison constant-time in the token.
        scheme, _, credentials = given.partition(b" ")
        candidate = scheme.lower() + b" " + credentials.strip()
        return hmac.compare_digest(candidate, self._expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            (scope["method"], scope["path"]) in _OPEN_ROUTES
        ):
            await self.app(scope, receive, send)
            return
        if self._authorized(scope):
            await self.app(scope, receive, send)
            return
        has_header = any(name == b"authorization" for name, _ in scope["headers"])
        if has_header:
            message = "the bearer token in Authorization was not accepted."
            challenge = 'Bearer realm="lodgepole", error="invalid_token"'
        else:
            message = (
                "this endpoint needs an Authorization: Bearer <token> header; "
                "none was sent."
            )
            challenge = 'Bearer realm="lodgepole"'
        logger.info(
            "request refused: %s path=%s",
            "bad token" if has_header else "no token",
            scope["path"][:MAX_QUOTE_CHARS],
        )
        await self._discard_body(scope, receive)
        response = error_reply(401, message, {"WWW-Authenticate": challenge})
        await response(scope, receive, send)
