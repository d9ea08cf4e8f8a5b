"""Inference server benchmark: lodgepole beside a FastAPI baseline and MLServer.

One run on loopback measures, for each server in turn (only one runs at a
time):

- latency of 1-row ``text/csv`` requests sent open-loop at a fixed rate
  (default 500 req/s for 10 s), from the scheduled and from the actual send
  time: p50, p99, max and errors;
- rows/s of 1000-row ``text/csv`` and ``application/json`` requests from
  ``--clients`` concurrent keep-alive connections (default 2, 5 s each).

The servers, all bound to 127.0.0.1 and stopped at the end (also on Ctrl-C):

- lodgepole: ``python -m lodgepole.cli serve`` (Starlette + uvicorn);
- baseline: what users write today, a FastAPI app around a fitted
  scikit-learn ``LogisticRegression`` (:func:`baseline_app`) under uvicorn,
  parsing CSV with ``numpy.loadtxt`` and JSON with ``json.loads``;
- MLServer with its scikit-learn runtime, when ``--mlserver`` (default:
  ``mlserver`` on PATH) is found. It speaks only the V2 inference protocol,
  so its 1-row and 1000-row requests are V2 JSON tensors.

All serve the same 54 x 7 multinomial logistic regression fitted on
``covtype_like`` records. The load generator (``benchmarks/_load.py``) runs
in a separate process so it shares no GIL with any server. Targets (from the
issue): p99 <= 2 ms for one row at 500 req/s, and >= 3x the baseline's rows/s
on 1000-row requests.

Usage::

    pip install fastapi scikit-learn joblib uvicorn starlette
    python benchmarks/serve.py [--workers N] [--quick] [--mlserver PATH]
"""

import argparse
import contextlib
import http.client
import io
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _load

HOST = "127.0.0.1"
MODEL_NAME = "covtype"
BASELINE_MODEL_ENV = "LODGEPOLE_BENCH_BASELINE_MODEL"
P99_TARGET_MS = 2.0
TARGET_RATE = 500.0
ROWS_RATIO_TARGET = 3.0
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 10.0
CSV = "text/csv"
JSON = "application/json"


# --- the baseline: a FastAPI endpoint as users write it today ----------------


def baseline_app() -> Any:
    """Build the baseline FastAPI app; uvicorn calls this as a factory.

    The scikit-learn model is read with joblib from the path in
    ``LODGEPOLE_BENCH_BASELINE_MODEL``. ``POST /invocations`` takes
    ``text/csv`` or ``{"instances": [{"features": [...]}, ...]}`` and answers
    ``{"predictions": [{"score": [...], "predicted_label": k}, ...]}``.

    Returns
    -------
    fastapi.FastAPI
        The application.

    Notes
    -----
    This module has no ``from __future__ import annotations`` on purpose:
    FastAPI reads the handler's ``request: Request`` annotation and must get
    the class itself, not a string it would resolve in this module's globals.
    """
    import joblib
    from fastapi import FastAPI, Request, Response

    model = joblib.load(os.environ[BASELINE_MODEL_ENV])
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> Response:
        return Response(status_code=200)

    # response_model=None: serialised with jsonable_encoder, as an
    # unannotated handler (the usual user code) would be.
    @app.post("/invocations", response_model=None)
    async def invocations(request: Request) -> Response | dict[str, Any]:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(CSV):
            X = np.loadtxt(io.BytesIO(body), delimiter=",", ndmin=2)
        elif content_type.startswith(JSON):
            instances = json.loads(body)["instances"]
            X = np.array([instance["features"] for instance in instances])
        else:
            return Response(status_code=415)
        proba = model.predict_proba(X)
        labels = model.classes_[proba.argmax(axis=1)]
        return {
            "predictions": [
                {"score": score.tolist(), "predicted_label": float(label)}
                for score, label in zip(proba, labels, strict=True)
            ]
        }

    return app


# --- the model -----------------------------------------------------------------


@dataclass(frozen=True)
class Models:
    """The same linear model as a scikit-learn estimator and for lodgepole."""

    sklearn: Any
    lodgepole: Any
    X: np.ndarray
    accuracy: float


def fit_models(rows: int, seed: int = 0) -> Models:
    """Fit a 54 x 7 multinomial logistic regression on ``covtype_like`` data.

    The regression is fitted on standardised features, then the scaling is
    folded into its coefficients so both models take raw features.

    Parameters
    ----------
    rows
        Training records.
    seed
        Seed of the generated data.

    Returns
    -------
    Models
        The fitted estimator, the equal ``LinearModel``, the features and
        the training accuracy.

    Examples
    --------
    >>> m = fit_models(500)
    >>> m.lodgepole.weights.shape, m.sklearn.coef_.shape
    ((54, 7), (7, 54))
    """
    from sklearn.linear_model import LogisticRegression

    from lodgepole import LinearModel, datasets

    data = datasets.covtype_like(rows, seed=seed)
    X = data.features.astype(np.float64)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[std == 0] = 1.0

    estimator = LogisticRegression(max_iter=300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short fit may not converge
        estimator.fit((X - mean) / std, data.labels)
    estimator.coef_ = estimator.coef_ / std
    estimator.intercept_ = estimator.intercept_ - estimator.coef_ @ mean

    model = LinearModel(
        "multiclass_classifier", estimator.coef_.T, estimator.intercept_, "softmax"
    )
    accuracy = float((estimator.predict(X) == data.labels).mean())
    return Models(estimator, model, X, accuracy)


# --- request bodies --------------------------------------------------------------


def csv_body(X: np.ndarray) -> bytes:
    """Rows of ``X`` as a ``text/csv`` body.

    Examples
    --------
    >>> csv_body(np.array([[1.0, 2.5]]))
    b'1,2.5\\n'
    """
    return "".join(",".join(f"{v:g}" for v in row) + "\n" for row in X).encode()


def json_body(X: np.ndarray) -> bytes:
    """Rows of ``X`` as a SageMaker JSON body.

    Examples
    --------
    >>> json_body(np.array([[1.0, 2.0]]))
    b'{"instances": [{"features": [1.0, 2.0]}]}'
    """
    instances = [{"features": row} for row in X.tolist()]
    return json.dumps({"instances": instances}).encode()


def v2_body(X: np.ndarray) -> bytes:
    """Rows of ``X`` as a V2 inference protocol request asking for both outputs.

    Examples
    --------
    >>> json.loads(v2_body(np.array([[1.0, 2.0]])))["inputs"][0]["shape"]
    [1, 2]
    """
    tensor = {
        "name": "input-0",
        "shape": list(X.shape),
        "datatype": "FP64",
        "data": X.ravel().tolist(),
    }
    outputs = [{"name": "predict_proba"}, {"name": "predict"}]
    return json.dumps({"inputs": [tensor], "outputs": outputs}).encode()


# --- servers ---------------------------------------------------------------------


@dataclass
class Server:
    """A running server process and how to talk to it."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    ready_path: str
    invoke_path: str
    v2: bool
    log: Path

    def request(self, body: bytes, content_type: str, rows: int) -> _load.Request:
        """A request of ``rows`` rows to the server's invocation path."""
        return _load.Request(
            HOST, self.port, self.invoke_path, body, content_type, rows
        )

    def one_row(self, X: np.ndarray) -> _load.Request:
        """The 1-row request of the latency test: CSV, or V2 JSON for MLServer."""
        if self.v2:
            return self.request(v2_body(X[:1]), JSON, 1)
        return self.request(csv_body(X[:1]), CSV, 1)

    def bulk(self, X: np.ndarray) -> dict[str, _load.Request]:
        """Format name -> request of the throughput test."""
        rows = X.shape[0]
        if self.v2:
            return {"v2": self.request(v2_body(X), JSON, rows)}
        return {
            "csv": self.request(csv_body(X), CSV, rows),
            "json": self.request(json_body(X), JSON, rows),
        }


def free_port() -> int:
    """A port that was free on the loopback interface a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _http(
    port: int, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    headers = {"Content-Type": JSON, "Accept": JSON} if body is not None else {}
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _tail(path: Path, chars: int = 1500) -> str:
    return path.read_text(errors="replace")[-chars:]


def start(
    name: str,
    command: list[str],
    *,
    port: int,
    ready_path: str,
    invoke_path: str,
    workdir: Path,
    env: dict[str, str] | None = None,
    v2: bool = False,
) -> Server:
    """Start ``command`` in its own process group; wait until it answers.

    Raises
    ------
    RuntimeError
        If the server exits or is not ready within START_TIMEOUT_SECONDS;
        the message ends with the tail of its log.
    """
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    server = Server(name, process, port, ready_path, invoke_path, v2, log)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop(server)
            raise RuntimeError(
                f"{name} exited with {process.returncode}:\n{_tail(log)}"
            )
        with contextlib.suppress(OSError, http.client.HTTPException):
            if _http(port, "GET", ready_path)[0] == 200:
                return server
        time.sleep(0.1)
    stop(server)
    raise RuntimeError(
        f"{name} not ready after {START_TIMEOUT_SECONDS} s:\n{_tail(log)}"
    )


def stop(server: Server) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL if it lingers."""
    process = server.process
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_SECONDS)


def start_lodgepole(models: Models, workdir: Path, workers: int) -> Server:
    """``python -m lodgepole.cli serve`` on a free loopback port."""
    return start_lodgepole_at(
        models.lodgepole.save(workdir / "lodgepole-model"), workdir, workers
    )


def start_lodgepole_at(model_dir: Path, workdir: Path, workers: int) -> Server:
    """``lodgepole serve MODEL_DIR`` with ``workers`` workers on a free port."""
    port = free_port()
    command = [sys.executable, "-m", "lodgepole.cli", "serve", str(model_dir)]
    command += ["--host", HOST, "--port", str(port), "--workers", str(workers)]
    return start(
        "lodgepole",
        command,
        port=port,
        ready_path="/ping",
        invoke_path="/invocations",
        workdir=workdir,
    )


def start_baseline(models: Models, workdir: Path, workers: int) -> Server:
    """:func:`baseline_app` under uvicorn on a free loopback port."""
    import joblib

    path = workdir / "baseline.joblib"
    joblib.dump(models.sklearn, path)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "serve:baseline_app", "--factory"]
    command += ["--app-dir", str(Path(__file__).resolve().parent)]
    command += ["--host", HOST, "--port", str(port), "--workers", str(workers)]
    return start(
        "baseline",
        command,
        port=port,
        ready_path="/ping",
        invoke_path="/invocations",
        workdir=workdir,
        env={BASELINE_MODEL_ENV: str(path)},
    )


def start_mlserver(
    models: Models, workdir: Path, workers: int, executable: str
) -> Server:
    """``mlserver start`` with the scikit-learn runtime on loopback ports.

    gRPC gets its own free loopback port (MLServer cannot turn it off); the
    metrics server is off; ``parallel_workers`` is ``workers``.
    """
    import joblib

    repository = workdir / "mlserver"
    model_dir = repository / MODEL_NAME
    model_dir.mkdir(parents=True)
    joblib.dump(models.sklearn, model_dir / "model.joblib")
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings))
    port = free_port()
    settings = {
        "host": HOST,
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_endpoint": None,
        "parallel_workers": workers,
        "debug": False,
    }
    (repository / "settings.json").write_text(json.dumps(settings))
    return start(
        "mlserver",
        [executable, "start", str(repository)],
        port=port,
        ready_path=f"/v2/models/{MODEL_NAME}/ready",
        invoke_path=f"/v2/models/{MODEL_NAME}/infer",
        workdir=repository,
        v2=True,
    )


def start_floor(workdir: Path) -> Server:
    """The fixed-reply asyncio server of ``_load.py``: the harness floor."""
    port = free_port()
    return start(
        "floor",
        [sys.executable, _load.__file__, str(port)],
        port=port,
        ready_path="/ping",
        invoke_path="/invocations",
        workdir=workdir,
    )


def labels_served(server: Server, X: np.ndarray) -> np.ndarray:
    """Predicted labels the server returns for the rows of ``X``."""
    body = v2_body(X) if server.v2 else json_body(X)
    status, answer = _http(server.port, "POST", server.invoke_path, body)
    if status != 200:
        raise RuntimeError(f"{server.name} answered {status}: {answer[:300]!r}")
    reply = json.loads(answer)
    if server.v2:
        (output,) = [o for o in reply["outputs"] if o["name"] == "predict"]
        return np.asarray(output["data"], dtype=np.float64)
    return np.array([p["predicted_label"] for p in reply["predictions"]])


# --- the run ---------------------------------------------------------------------


def find_mlserver(option: str | None) -> tuple[str | None, str]:
    """The MLServer executable to use, or None and the reason to skip it."""
    path = option or shutil.which("mlserver")
    if path is None:
        return None, "no `mlserver` on PATH; pass --mlserver PATH"
    if not os.access(path, os.X_OK):
        return None, f"{path!r} is not an executable"
    return path, ""


def measure(
    server: Server,
    models: Models,
    args: argparse.Namespace,
    pool: Any,
) -> dict[str, Any]:
    """Check the server's predictions, then run the load suite against it."""
    X = models.X
    floor = server.name == "floor"  # fixed reply: nothing to check or scale
    probe = X[:50]
    expected = models.sklearn.predict(probe)
    agree = None if floor else float((labels_served(server, probe) == expected).mean())
    bulk = {} if floor else server.bulk(X[: args.rows_per_request])

    job = pool.apply_async(
        _load.run_suite,
        (
            server.one_row(X),
            bulk,
            args.rate,
            args.seconds,
            args.bulk_seconds,
            args.clients,
            args.warmup,
        ),
    )
    budget = args.warmup * 2 + args.seconds + 3 * args.bulk_seconds + 30
    result: dict[str, Any] = job.get(timeout=budget)
    result["agree"] = agree
    return result


def _ms(latency: dict[str, float], *keys: str) -> str:
    return "/".join(f"{latency[key]:.2f}" for key in keys)


def _rows(result: dict[str, Any], name: str) -> str:
    throughput = result["throughput"].get(name)
    if throughput is None:
        return "n/a"
    errors = f" ({throughput['errors']} err)" if throughput["errors"] else ""
    return f"{throughput['rows_per_second']:,.0f}{errors}"


COLUMNS = (
    ("server", 9),
    ("workers", 7),
    ("1-row ms p50/p99/max", 21),
    ("sent p50/p99", 12),
    ("req/s", 5),
    ("err", 4),
    ("CSV rows/s", 12),
    ("JSON rows/s", 16),
    ("agree", 5),
)


def print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """The results table, one line per server.

    "1-row ms" counts from the scheduled send time, "sent" from the actual
    one; req/s is the rate achieved; err counts failed or unsent requests.
    """
    print("  ".join(f"{title:>{width}}" for title, width in COLUMNS))
    for name, result in results.items():
        lat = result["latency"]
        v2 = "v2" in result["throughput"]
        cells = (
            name,
            "1" if name == "floor" else str(args.workers),
            _ms(lat["scheduled"], "p50_ms", "p99_ms", "max_ms"),
            _ms(lat["sent"], "p50_ms", "p99_ms"),
            f"{lat['achieved_rate']:.0f}",
            str(lat["errors"]),
            _rows(result, "csv"),
            _rows(result, "v2") + " (V2)" if v2 else _rows(result, "json"),
            "-" if result["agree"] is None else f"{result['agree']:.0%}",
        )
        print(
            "  ".join(
                f"{cell:>{width}}"
                for cell, (_, width) in zip(cells, COLUMNS, strict=True)
            )
        )


def print_verdict(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Ratios to the baseline and whether the issue's targets are met."""
    ours, base = results.get("lodgepole"), results.get("baseline")
    if ours is None:
        return
    p99 = ours["latency"]["scheduled"]["p99_ms"]
    at = f"at {args.rate:g} req/s"
    verdict = "MET" if p99 <= P99_TARGET_MS else "MISSED"
    if args.rate != TARGET_RATE:
        verdict += f" (target is defined at {TARGET_RATE:g} req/s)"
    print(f"target p99 <= {P99_TARGET_MS:g} ms {at}: {p99:.2f} ms -> {verdict}")
    if base is None:
        return
    for name in ("csv", "json"):
        ratio = (
            ours["throughput"][name]["rows_per_second"]
            / base["throughput"][name]["rows_per_second"]
        )
        verdict = "MET" if ratio >= ROWS_RATIO_TARGET else "MISSED"
        print(
            f"target rows/s >= {ROWS_RATIO_TARGET:g}x baseline, 1000-row "
            f"{name.upper()}: lodgepole/baseline = {ratio:.2f}x -> {verdict}"
        )
    ml = results.get("mlserver")
    if ml is not None:
        ratio = (
            ours["throughput"]["json"]["rows_per_second"]
            / ml["throughput"]["v2"]["rows_per_second"]
        )
        print(f"lodgepole JSON / MLServer V2 JSON rows/s = {ratio:.2f}x")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; ``--quick`` shortens every phase."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="per server")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="req/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency test")
    parser.add_argument("--bulk-seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rows-per-request", type=int, default=1000)
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds")
    parser.add_argument("--mlserver", default=None, help="mlserver executable")
    parser.add_argument(
        "--servers", default="floor,lodgepole,baseline,mlserver", help="comma-separated"
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.bulk_seconds, args.warmup = 1.5, 1.0, 0.3
        args.train_rows = min(args.train_rows, 3000)
    if args.workers < 1 or args.clients < 1 or args.rate <= 0:
        parser.error("--workers and --clients must be >= 1 and --rate > 0")
    return args


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    """Stop ``server`` when the block ends, however it ends."""
    try:
        yield server
    finally:
        stop(server)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 on success."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    wanted = args.servers.split(",")
    started = time.perf_counter()

    models = fit_models(args.train_rows)
    print(
        f"model: 54 features x 7 classes, fitted on {args.train_rows:,} "
        f"covtype_like rows (training accuracy {models.accuracy:.3f})"
    )
    print(
        f"load: 1-row CSV at {args.rate:g} req/s for {args.seconds:g} s "
        f"(+{args.warmup:g} s warm-up); {args.rows_per_request}-row bodies from "
        f"{args.clients} clients for {args.bulk_seconds:g} s each; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run"
    )
    starters: dict[str, Callable[[Path], Server]] = {
        "floor": start_floor,
        "lodgepole": lambda d: start_lodgepole(models, d, args.workers),
        "baseline": lambda d: start_baseline(models, d, args.workers),
    }
    mlserver, reason = find_mlserver(args.mlserver)
    if "mlserver" in wanted and mlserver is None:
        print(f"MLServer: not installed ({reason})")
    elif "mlserver" in wanted:
        starters["mlserver"] = lambda d: start_mlserver(
            models, d, args.workers, mlserver
        )

    results: dict[str, dict[str, Any]] = {}
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, context.Pool(1) as pool:
        for name, starter in starters.items():
            if name not in wanted:
                continue
            try:
                with running(starter(Path(tmp))) as server:
                    results[name] = measure(server, models, args, pool)
            except (RuntimeError, OSError, multiprocessing.TimeoutError) as err:
                print(f"{name}: skipped ({err})")
        pool.terminate()

    print()
    print_table(results, args)
    if "floor" in results:
        print(
            "floor: a bare asyncio loop sending a fixed reply (no model, no framework)."
        )
    if "mlserver" in results:
        print(
            "mlserver: no CSV, so its 1-row and 1000-row requests are V2 JSON "
            "tensors; workers = its parallel_workers (inference processes beside "
            "the HTTP process)."
        )
    print(f"load average {os.getloadavg()[0]:.2f} after the run")
    print()
    print_verdict(results, args)
    print(f"\ntotal time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; all servers stopped", file=sys.stderr)
        sys.exit(130)
