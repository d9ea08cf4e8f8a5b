"""A short run of benchmarks/load.py against a real ``lodgepole serve`` process.

The script starts the server on 127.0.0.1, sends mixed good and malformed
requests from a separate process at a fixed rate and samples the server's
RSS. Four seconds at 100 req/s: 400 requests, ~20 malformed, in about 10 s
including the server's start; a 1 s run checks the failing exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"
SECONDS = 4
RATE = 100
MAX_RSS_GROWTH_MB = 50


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs /proc"
)


def _run(*options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "--json", *options]
    env = {k: v for k, v in os.environ.items() if k != "LODGEPOLE_AUTH_TOKEN"}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=False
    )


@needs_proc
def test_load_benchmark_short_run_has_no_unexpected_answers() -> None:
    done = _run(
        *("--seconds", str(SECONDS), "--rate", str(RATE), "--warmup", "1"),
        *("--max-rss-growth-mb", str(MAX_RSS_GROWTH_MB)),
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout)

    planned = SECONDS * RATE
    assert summary["requests_planned"] == planned
    assert summary["requests_sent"] == planned
    assert summary["answered"] == planned
    assert summary["unexpected_errors"] == 0, summary["unexpected"]
    assert not summary["server_exited_during_run"]
    # The seeded plan holds malformed bodies; every one was answered 400.
    assert summary["malformed_sent"] > 0
    assert summary["malformed_answered_400"] == summary["malformed_sent"]
    assert summary["by_group"]["malformed"] == {"400": summary["malformed_sent"]}
    assert set(summary["by_group"]["1-row"]) == {"200"}
    assert set(summary["by_group"]["1000-row"]) == {"200"}
    assert summary["by_status"]["200"] + summary["by_status"]["400"] == planned

    rss = summary["rss_mb"]
    assert rss["processes"] >= 1
    assert 0 < rss["start"] <= rss["peak"]
    assert rss["growth"] <= MAX_RSS_GROWTH_MB
    latency = summary["latency_ms"]
    assert 0 < latency["1-row"]["p50_ms"] <= latency["1-row"]["p99_ms"]
    assert latency["1000-row"]["p50_ms"] > 0


@needs_proc
def test_load_benchmark_fails_when_rss_grows_past_the_bound() -> None:
    # A bound no run can meet: the exit status must say so.
    done = _run("--seconds", "1", "--rate", "50", "--max-rss-growth-mb", "-10000")
    assert done.returncode == 1, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["unexpected_errors"] == 0
    assert summary["rss_mb"]["growth"] > summary["rss_mb"]["max_growth"]
