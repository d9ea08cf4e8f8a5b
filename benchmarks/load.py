"""Load test of ``lodgepole serve``: mixed traffic at a fixed rate, errors and RSS.

Starts a real server process (``python -m lodgepole.cli serve`` on
127.0.0.1, a free port, ``--workers`` workers) and drives it from a separate
load-generator process (``_load.mixed_open_loop``, no shared GIL) at
``--rate`` requests per second for ``--seconds`` after a warm-up. The
traffic, drawn from a seeded generator:

- all four request types (``text/csv``, ``application/json``,
  ``application/jsonlines``, ``application/x-recordio-protobuf``), each
  with every reply type in ``Accept`` (or none, or ``*/*``);
- of the well-formed requests, 90 % carry 1 row and 10 % 1000 rows;
- 5 % of all requests are malformed: a bad CSV cell, a wrong feature
  count (CSV and JSON), broken JSON and JSON Lines, corrupt RecordIO. Each
  must be answered 400.

An unexpected answer is anything but 200 (with the negotiated
``Content-Type``) for a good request and 400 for a malformed one, plus
connection errors, timeouts and requests the generator could not send
before the run's end. The resident memory (``VmRSS`` from
``/proc/PID/status``, summed over the server process and all its
descendants, i.e. uvicorn's workers) is sampled every second from the end
of the warm-up.

Exit status 0 when there was no unexpected answer and RSS grew by at most
``--max-rss-growth-mb`` from the end of the warm-up to the end of the run;
1 otherwise. A healthy server's RSS rises while it warms up, then stays
flat: it scores 1000-row bodies in threads, and glibc keeps a malloc arena
of freed memory per thread, tens of MB together, more when requests queue
up (measured on a shared 2-CPU machine: +15 to +28 MB over 60 s at
200 req/s, within 2 MB of flat over the second half; +55 MB at a
saturating 500 req/s after a 2 s warm-up, -1 MB after a 15 s one). The
default 10 s warm-up lets most of that plateau form before the start
sample; the default bound of 50 MB leaves room for the rest, while a
leak of 4 KiB per request (48 MB over 60 s at 200 req/s), or of the body
of every 1000-row request (over 500 MB), fails it. The growth over the
second half of the run is reported too: a plateaued server shows about 0.

Usage::

    python benchmarks/load.py [--rate 200] [--seconds 60] [--workers 1] [--json]

Linux only (reads ``/proc``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load
import serve

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
REQUEST_TYPES = (CSV, JSON, JSONLINES, RECORDIO)
# Accept header -> the reply type it must produce.
ACCEPTS = {
    "": JSON,  # no Accept header
    "*/*": JSON,
    JSON: JSON,
    JSONLINES: JSONLINES,
    RECORDIO: RECORDIO,
    CSV: CSV,
}
FEATURES = 54
CLASSES = 7
BULK_ROWS = 1000
MALFORMED_SHARE = 0.05
BULK_SHARE = 0.10  # of the well-formed requests
DEFAULT_MAX_RSS_GROWTH_MB = 50.0
SAMPLE_SECONDS = 1.0
AUTH_TOKEN_ENV = "LODGEPOLE_AUTH_TOKEN"


@dataclass(frozen=True)
class Kind:
    """One request template: what it is and what the server must answer."""

    name: str  # e.g. "1-row text/csv -> application/json", "malformed: ..."
    group: str  # "1-row", "1000-row" or "malformed"
    status: int
    reply_type: str | None  # None: not checked (error replies)


# --- model and bodies ---------------------------------------------------------


def make_model(seed: int = 0) -> Any:
    """A 54-feature, 7-class softmax model with random weights."""
    from lodgepole.model import LinearModel

    rng = np.random.default_rng(seed)
    return LinearModel(
        predictor_type="multiclass_classifier",
        weights=rng.normal(scale=0.1, size=(FEATURES, CLASSES)),
        bias=rng.normal(size=CLASSES),
        link="softmax",
    )


def jsonlines_body(X: np.ndarray) -> bytes:
    """Rows of ``X`` as an ``application/jsonlines`` body.

    Examples
    --------
    >>> jsonlines_body(np.array([[1.0, 2.0]]))
    b'{"features": [1.0, 2.0]}\\n'
    """
    return b"".join(
        json.dumps({"features": row}).encode() + b"\n" for row in X.tolist()
    )


def body(content_type: str, X: np.ndarray) -> bytes:
    """Rows of ``X`` in ``content_type``."""
    from lodgepole.formats.recordio import encode_records

    if content_type == CSV:
        return serve.csv_body(X)
    if content_type == JSON:
        return serve.json_body(X)
    if content_type == JSONLINES:
        return jsonlines_body(X)
    return encode_records(X.astype(np.float32))


def malformed_bodies(X: np.ndarray) -> list[tuple[str, str, bytes]]:
    """(name, content type, body) of requests the server must answer 400.

    Examples
    --------
    >>> [name for name, _, _ in malformed_bodies(np.ones((2, 54)))][:2]
    ['bad CSV cell', 'CSV wrong feature count']
    """
    one = X[:1]
    csv_cells = serve.csv_body(one).decode().strip().split(",")
    record = body(RECORDIO, X[:2])
    return [
        ("bad CSV cell", CSV, (",".join(["abc", *csv_cells[1:]]) + "\n").encode()),
        ("CSV wrong feature count", CSV, serve.csv_body(X[:2, :-1])),
        ("broken JSON", JSON, serve.json_body(one)[:-7]),
        ("JSON wrong feature count", JSON, serve.json_body(X[:2, :-3])),
        ("broken JSON Lines", JSONLINES, jsonlines_body(X[:2])[:-9] + b"\n"),
        ("corrupt RecordIO magic", RECORDIO, b"\x00\x00\x00\x00" + record[4:]),
        ("truncated RecordIO", RECORDIO, record[: len(record) // 2 + 3]),
    ]


def templates(
    port: int, X: np.ndarray
) -> tuple[list[_load.Request], list[Kind], dict[str, list[int]]]:
    """Every distinct request, what each must get, and their indices by group."""
    requests: list[_load.Request] = []
    kinds: list[Kind] = []
    groups: dict[str, list[int]] = {"1-row": [], "1000-row": [], "malformed": []}

    def add(
        content_type: str, payload: bytes, rows: int, accept: str, kind: Kind
    ) -> None:
        groups[kind.group].append(len(requests))
        requests.append(
            _load.Request(
                serve.HOST, port, "/invocations", payload, content_type, rows, accept
            )
        )
        kinds.append(kind)

    for rows, group in ((1, "1-row"), (BULK_ROWS, "1000-row")):
        for content_type in REQUEST_TYPES:
            payload = body(content_type, X[:rows])  # one bytes object per type
            for accept, reply_type in ACCEPTS.items():
                name = f"{group} {content_type} -> {accept or 'no Accept'}"
                kind = Kind(name, group, 200, reply_type)
                add(content_type, payload, rows, accept, kind)
    for name, content_type, payload in malformed_bodies(X):
        for accept in (JSON, CSV):
            kind = Kind(f"malformed: {name}", "malformed", 400, None)
            add(content_type, payload, 0, accept, kind)
    return requests, kinds, groups


def make_plan(groups: dict[str, list[int]], count: int, seed: int) -> list[int]:
    """Template index of each of ``count`` requests, drawn with fixed shares."""
    rng = np.random.default_rng(seed)
    draw = rng.random(count)
    plan = []
    for u in draw:
        if u < MALFORMED_SHARE:
            group = "malformed"
        elif u < MALFORMED_SHARE + (1 - MALFORMED_SHARE) * BULK_SHARE:
            group = "1000-row"
        else:
            group = "1-row"
        plan.append(int(rng.choice(groups[group])))
    return plan


# --- memory -------------------------------------------------------------------


def _parents() -> dict[int, int]:
    """Process id -> parent id of every process (from /proc/PID/stat)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            # The command name may hold spaces and ")"; fields follow the last.
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _vm_rss_kb(pid: int) -> int:
    """VmRSS of ``pid`` in KiB; 0 when it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """Summed VmRSS (MB) of ``pid`` and all its descendants, and their count."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += children.get(current, [])
    return sum(_vm_rss_kb(p) for p in pids) / 1024, len(pids)


# --- the run --------------------------------------------------------------------


def _percentiles(seconds: list[float]) -> dict[str, float | None]:
    """``_load``'s p50, p99 and max in ms, rounded; None when no sample."""
    return {
        key: None if math.isnan(value) else round(value, 3)
        for key, value in _load._percentiles(seconds).items()
    }


def _media(content_type: str) -> str:
    """``type/subtype`` of a Content-Type value, without parameters.

    Examples
    --------
    >>> _media("text/csv; charset=utf-8")
    'text/csv'
    """
    return content_type.split(";", 1)[0].strip().lower()


def summarise(
    records: list[tuple[int, int, str, float, float]],
    plan: list[int],
    kinds: list[Kind],
    warmup: int,
) -> dict[str, Any]:
    """Counts, unexpected answers and latency percentiles of one run."""
    by_status: Counter[str] = Counter()
    by_group: dict[str, Counter[str]] = {}
    unexpected: Counter[str] = Counter()
    latency: dict[str, list[float]] = {"1-row": [], "1000-row": [], "malformed": []}
    sent_latency: list[float] = []
    answered = 0
    label = {_load.TIMED_OUT: "timeout", _load.CONNECTION_FAILED: "conn_error"}
    for index, status, content_type, from_due, from_sent in records:
        kind = kinds[plan[index]]
        name = label.get(status, str(status))
        by_status[name] += 1
        by_group.setdefault(kind.group, Counter())[name] += 1
        if status > 0:
            answered += 1
        if status != kind.status:
            unexpected[f"{kind.name}: got {name}"] += 1
        elif kind.reply_type is not None and _media(content_type) != kind.reply_type:
            unexpected[f"{kind.name}: reply type {content_type!r}"] += 1
        else:
            latency[kind.group].append(from_due)
            sent_latency.append(from_sent)
    measured = len(plan) - warmup
    never_sent = measured - len(records)
    if never_sent:
        unexpected["not sent before the deadline"] += never_sent
    everything = [s for group in latency.values() for s in group]
    return {
        "requests_planned": measured,
        "requests_sent": len(records),
        "answered": answered,
        "by_status": dict(sorted(by_status.items())),
        "by_group": {g: dict(sorted(c.items())) for g, c in sorted(by_group.items())},
        "malformed_sent": sum(by_group.get("malformed", Counter()).values()),
        "malformed_answered_400": by_group.get("malformed", Counter())["400"],
        "unexpected_errors": sum(unexpected.values()),
        "unexpected": dict(unexpected.most_common(20)),
        "latency_ms": {
            "1-row": _percentiles(latency["1-row"]),
            "1000-row": _percentiles(latency["1000-row"]),
            "malformed": _percentiles(latency["malformed"]),
            "overall": _percentiles(everything),
            "overall_from_send": _percentiles(sent_latency),
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, run the load, sample RSS; the summary as a dict."""
    X = np.random.default_rng(args.seed).normal(size=(BULK_ROWS, FEATURES)) * 10
    X = np.round(X, 3)
    warmup = round(args.warmup * args.rate)
    count = warmup + round(args.seconds * args.rate)
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, context.Pool(1) as pool:
        workdir = Path(tmp)
        model_dir = make_model(args.seed).save(workdir / "model")
        server = serve.start_lodgepole_at(model_dir, workdir, args.workers)
        port = server.port
        with serve.running(server):
            requests, kinds, groups = templates(port, X)
            plan = make_plan(groups, count, args.seed)
            rss_ready, processes = tree_rss_mb(server.process.pid)
            began = time.perf_counter()
            job = pool.apply_async(
                _load.mixed_open_loop,
                (requests, plan, args.rate, warmup, args.connections),
            )
            time.sleep(args.warmup)
            samples: list[tuple[float, float]] = []
            while not job.ready():
                rss, processes = tree_rss_mb(server.process.pid)
                samples.append((time.perf_counter() - began, rss))
                job.wait(SAMPLE_SECONDS)
            budget = args.seconds + _load.GRACE_SECONDS + 30
            records = job.get(timeout=budget)
            elapsed = time.perf_counter() - began - args.warmup
            rss_end, processes = tree_rss_mb(server.process.pid)
            exit_code = server.process.poll()
        pool.terminate()

    summary = summarise(records, plan, kinds, warmup)
    rss_start = samples[0][1] if samples else rss_end
    middle = [rss for t, rss in samples if t >= args.warmup + args.seconds / 2]
    rss_middle = middle[0] if middle else rss_start
    summary.update(
        {
            "rate": args.rate,
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "workers": args.workers,
            "achieved_rate": round(summary["requests_sent"] / max(elapsed, 1e-9), 1),
            "server_exited_during_run": exit_code is not None,
            "rss_mb": {
                "processes": processes,
                "ready": round(rss_ready, 1),
                "start": round(rss_start, 1),
                "middle": round(rss_middle, 1),
                "end": round(rss_end, 1),
                "peak": round(max([rss for _, rss in samples] + [rss_end]), 1),
                "growth": round(rss_end - rss_start, 1),
                "growth_second_half": round(rss_end - rss_middle, 1),
                "max_growth": args.max_rss_growth_mb,
            },
            "cpus": os.cpu_count(),
        }
    )
    if exit_code is not None:
        summary["unexpected_errors"] += 1
        summary["unexpected"]["server exited during the run"] = 1
    return summary


def passed(summary: dict[str, Any]) -> bool:
    """No unexpected answer and RSS growth within the bound."""
    rss = summary["rss_mb"]
    return summary["unexpected_errors"] == 0 and rss["growth"] <= rss["max_growth"]


def print_report(summary: dict[str, Any]) -> None:
    """The summary as a few lines of text."""
    lat, rss = summary["latency_ms"], summary["rss_mb"]
    print(
        f"{summary['requests_sent']:,} requests sent in {summary['seconds']:g} s "
        f"at {summary['rate']:g} req/s (achieved {summary['achieved_rate']:g}), "
        f"{summary['answered']:,} answered, {summary['workers']} worker(s), "
        f"{summary['cpus']} CPUs"
    )
    print(f"by status: {summary['by_status']}")
    for group, counts in summary["by_group"].items():
        print(f"  {group}: {counts}")
    print(
        f"malformed: {summary['malformed_sent']} sent, "
        f"{summary['malformed_answered_400']} answered 400"
    )
    print(f"unexpected errors: {summary['unexpected_errors']}")
    for what, n in summary["unexpected"].items():
        print(f"  {n} x {what}")
    print("latency from the scheduled send time, ms (p50 / p99 / max):")
    for group in ("1-row", "1000-row", "malformed", "overall", "overall_from_send"):
        p = lat[group]
        if p["p50_ms"] is not None:
            print(
                f"  {group:>17}: {p['p50_ms']:.2f} / {p['p99_ms']:.2f} / "
                f"{p['max_ms']:.2f}"
            )
    print(
        f"server RSS ({rss['processes']} process(es)), MB: ready {rss['ready']}, "
        f"after warm-up {rss['start']}, end {rss['end']}, peak {rss['peak']}; "
        f"growth {rss['growth']:+.1f} (bound {rss['max_growth']:g}), "
        f"second half {rss['growth_second_half']:+.1f}"
    )
    print("PASS" if passed(summary) else "FAIL")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time")
    parser.add_argument(
        "--warmup", type=float, default=10.0, help="unmeasured seconds first"
    )
    parser.add_argument("--workers", type=int, default=1, help="server workers")
    parser.add_argument(
        "--connections", type=int, default=16, help="most requests in flight"
    )
    parser.add_argument(
        "--max-rss-growth-mb",
        type=float,
        default=DEFAULT_MAX_RSS_GROWTH_MB,
        help="fail when the server's RSS grows more (default 50)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.warmup < 0:
        parser.error("--rate and --seconds must be > 0, --warmup >= 0")
    if args.workers < 1 or args.connections < 1:
        parser.error("--workers and --connections must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the load test; 0 when it passed, 1 when it failed."""
    args = parse_args(argv)
    # The server must run without authentication: drop a token the caller
    # may have in the environment (the child inherits os.environ).
    os.environ.pop(AUTH_TOKEN_ENV, None)
    summary = run(args)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_report(summary)
    return 0 if passed(summary) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        sys.exit(130)
