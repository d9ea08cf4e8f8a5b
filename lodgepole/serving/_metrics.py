"""Prometheus request counters of the endpoint app (``GET /metrics``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "MetricsMiddleware"]

# Route label of requests that match no route, so unknown paths cannot grow
# the number of series without bound.
_UNMATCHED_ROUTE = "<unmatched>"


def _label(value: str) -> str:
    """A Prometheus label value with backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Thread-safe request counters, rendered in Prometheus text format."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = {}
        self._latency: dict[str, tuple[float, int]] = {}
        self._rows = 0
        self._info = {key: str(value) for key, value in info.items()}

    def observe(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (route, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            total, count = self._latency.get(route, (0.0, 0))
            self._latency[route] = (total + seconds, count + 1)

    def add_rows(self, rows: int) -> None:
        with self._lock:
            self._rows += rows

    def render(self) -> str:
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted(self._latency.items())
            rows = self._rows
        info = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(self._info.items()))
        lines = [
            "# HELP lodgepole_requests_total HTTP requests answered, by route "
            "and status.",
            "# TYPE lodgepole_requests_total counter",
        ]
        lines += [
            f'lodgepole_requests_total{{route="{_label(route)}",'
            f'status="{status}"}} {count}'
            for (route, status), count in requests
        ]
        lines += [
            "# HELP lodgepole_rows_predicted_total Rows scored by the model.",
            "# TYPE lodgepole_rows_predicted_total counter",
            f"lodgepole_rows_predicted_total {rows}",
            "# HELP lodgepole_request_duration_seconds Time to answer a request.",
            "# TYPE lodgepole_request_duration_seconds summary",
        ]
        for route, (total, count) in latency:
            name = _label(route)
            lines.append(
                f'lodgepole_request_duration_seconds_sum{{route="{name}"}} {total!r}'
            )
            lines.append(
                f'lodgepole_request_duration_seconds_count{{route="{name}"}} {count}'
            )
        lines += [
            "# HELP lodgepole_model_info The served model; the value is always 1.",
            "# TYPE lodgepole_model_info gauge",
            f"lodgepole_model_info{{{info}}} 1",
        ]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """ASGI middleware that times every HTTP request and counts its status."""

    def __init__(self, app: ASGIApp, routes: list[Route], metrics: Metrics) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics

    def _route(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route.path
        return _UNMATCHED_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.observe(
                self._route(scope), status, time.perf_counter() - start
            )
