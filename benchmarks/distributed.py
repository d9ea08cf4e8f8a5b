"""Distributed training benchmark: local against Dask with 1 and 2 workers.

On covtype_like (80/10/10 split; the train channel written as ``--shards`` CSV
files and validation and test as 2 each, which on Dask the workers read and
score themselves) it measures, in one run:

* lodgepole local (no executor), with the Dask executor on a 1-worker and a
  2-worker ``LocalCluster`` (processes, 127.0.0.1, no dashboard): seconds per
  epoch (median of the epochs after the first, from the ``EpochReport``
  callback), epochs per second, wall time and test accuracy;
* for the Dask runs, the time of each synchronisation round (from the
  executor's debug log) and the round trip of the candidate stack alone
  (submit it to every worker and gather it back), so an epoch splits into
  communication, worker compute and driver-side work (validation, selection);
* dask-ml ``LogisticRegression`` on the same 2-worker cluster and training
  data (a row-chunked dask array persisted on the workers). dask-ml's solvers
  are binary only (its ``multi_class`` is ignored), so it is fitted one-vs-rest
  as 7 binary models, argmax of the decision functions; time and accuracy;
* an estimate of epoch time at 8 and 64 workers from the measured parts, with
  its assumptions printed.

Usage::

    python benchmarks/distributed.py [--rows N] [--epochs E] [--num-models M]
        [--shards S] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import lodgepole
from lodgepole import datasets
from lodgepole.distributed import DaskExecutor
from lodgepole.formats.csv import encode_csv
from lodgepole.learn.results import EpochReport

#: As the executor: the scheduler's HTTP server on a free loopback port.
_NO_DASHBOARD = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
_ROUND = re.compile(r"round done .* seconds=([0-9.]+)")


@dataclass
class Run:
    """One lodgepole training run and its timings."""

    name: str
    wall: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)
    round_seconds: list[float] = field(default_factory=list)
    accuracy: float = float("nan")
    validation_accuracy: list[float] = field(default_factory=list)
    stack_bytes: int = 0
    round_trip: float = float("nan")

    @property
    def per_epoch(self) -> float:
        later = self.epoch_seconds[1:] or self.epoch_seconds
        return statistics.median(later)

    @property
    def per_round(self) -> float:
        later = self.round_seconds[1:] or self.round_seconds
        return statistics.median(later) if later else float("nan")


class _RoundLog(logging.Handler):
    """Collects the executor's ``round done ... seconds=`` debug records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = _ROUND.search(record.getMessage())
        if match:
            self.seconds.append(float(match.group(1)))


def _cluster(n_workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n_workers,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        host="127.0.0.1",
        scheduler_kwargs=_NO_DASHBOARD,
    )


def _identity(value: object) -> object:
    return value


def _round_trip(client: Any, stack: object, trials: int = 30) -> float:
    """Median seconds to send ``stack`` to every worker and gather it back."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    times = []
    for _ in range(trials):
        started = time.perf_counter()
        futures = [
            client.submit(_identity, stack, workers=[w], pure=False) for w in workers
        ]
        client.gather(futures)
        times.append(time.perf_counter() - started)
    return statistics.median(times[2:])


def _train(
    name: str,
    hp: dict[str, object],
    folders: dict[str, str],
    executor: DaskExecutor | None = None,
) -> Run:
    run = Run(name)

    def on_epoch(report: EpochReport) -> None:
        run.epoch_seconds.append(report.seconds)
        run.validation_accuracy.append(
            float(report.metrics.get("validation:multiclass_accuracy", np.nan))
        )

    log = _RoundLog()
    executor_logger = logging.getLogger("lodgepole.distributed.executor")
    level = executor_logger.level
    executor_logger.addHandler(log)
    executor_logger.setLevel(logging.DEBUG)
    try:
        started = time.perf_counter()
        result = lodgepole.train(
            hp,
            folders["train"],
            folders["validation"],
            folders["test"],
            callback=on_epoch,
            executor=executor,
        )
        run.wall = time.perf_counter() - started
    finally:
        executor_logger.removeHandler(log)
        executor_logger.setLevel(level)
    run.round_seconds = log.seconds
    run.accuracy = float(result.metrics["test"]["multiclass_accuracy"])
    return run


def _write_shards(
    root: str, channels: dict[str, Any], shards: dict[str, int]
) -> dict[str, str]:
    """Each channel as CSV shards in ``root/<channel>/`` (2 unless given)."""
    folders = {}
    for name, (X, y) in channels.items():
        folder = os.path.join(root, name)
        os.mkdir(folder)
        count = shards.get(name, 2)
        for index, rows in enumerate(np.array_split(np.arange(len(y)), count)):
            path = os.path.join(folder, f"part-{index:03d}.csv")
            with open(path, "wb") as handle:
                handle.write(encode_csv(X[rows], y[rows]))
        folders[name] = folder
    return folders


def _stack_for(hp: dict[str, object], channels: dict[str, Any]) -> object:
    """A freshly built candidate stack, as the executor ships it each round."""
    from lodgepole.data.memory import as_channel
    from lodgepole.hyperparameters import Hyperparameters
    from lodgepole.learn.trainer import _Trainer

    trainer = _Trainer(
        Hyperparameters.from_dict(hp),
        {"train": as_channel("train", channels["validation"])},
        None,
    )
    trainer.build()
    trainer.stack.start_averaging()
    return trainer.stack


def _dask(
    name: str,
    hp: dict[str, object],
    channels: dict[str, Any],
    folders: dict[str, str],
    client: Any,
) -> Run:
    with DaskExecutor(client) as executor:
        executor.warm_up(folders["train"])  # workers read and cache their shards
        run = _train(name, hp, folders, executor)
    stack = _stack_for(hp, channels)
    run.stack_bytes = len(pickle.dumps(stack, protocol=5))
    run.round_trip = _round_trip(client, stack)
    return run


def _dask_ml(
    client: Any, channels: dict[str, Any], max_iter: int, chunks: int
) -> tuple[float, float, str]:
    """One-vs-rest dask-ml LogisticRegression; (seconds, test accuracy, note)."""
    import dask.array as da
    from dask_ml.linear_model import LogisticRegression

    X, y = channels["train"]
    X_test, y_test = channels["test"]
    started = time.perf_counter()
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale == 0] = 1.0
    # Row chunks scattered to the workers (no data embedded in the graph).
    scaled = ((X - mean) / scale).astype(np.float64)
    pieces = np.array_split(np.arange(len(y)), chunks)
    dX = da.concatenate(
        [
            da.from_delayed(f, (len(p), X.shape[1]), np.float64)
            for f, p in zip(
                client.scatter([scaled[p] for p in pieces]), pieces, strict=True
            )
        ]
    )
    classes = np.unique(y)
    models = []
    for label in classes:
        target = (y == label).astype(np.float64)
        futures = client.scatter([target[p] for p in pieces])
        dy = da.concatenate(
            [
                da.from_delayed(f, (len(p),), np.float64)
                for f, p in zip(futures, pieces, strict=True)
            ]
        )
        model = LogisticRegression(solver="lbfgs", max_iter=max_iter, C=1.0)
        model.fit(dX, dy)
        models.append(model)
    seconds = time.perf_counter() - started
    Xs = (X_test - mean) / scale
    scores = np.column_stack(
        [Xs @ np.ravel(m.coef_) + float(np.ravel(m.intercept_)[0]) for m in models]
    )
    accuracy = float(np.mean(classes[scores.argmax(axis=1)] == y_test))
    note = f"one-vs-rest, {len(classes)} binary lbfgs fits, max_iter={max_iter}"
    return seconds, accuracy, note


def _time_to(run: Run, accuracy: float) -> float:
    """Wall seconds until the run's validation accuracy first reaches ``accuracy``."""
    setup = run.wall - sum(run.epoch_seconds)
    elapsed = setup
    for seconds, value in zip(run.epoch_seconds, run.validation_accuracy, strict=True):
        elapsed += seconds
        if value >= accuracy:
            return elapsed
    return float("inf")


def _estimate(one: Run, two: Run, local: Run, say: Callable[[str], None]) -> None:
    """Print the 8- and 64-worker epoch time estimate and its assumptions."""
    # Per-round communication c(N) = a + b*N (driver sends the stack to and
    # gathers it from each worker in turn); fitted on the measured N=1, N=2.
    b = max(two.round_trip - one.round_trip, 0.0)
    a = max(one.round_trip - b, 0.0)
    # Worker compute: what the 1-worker round spends beyond communication.
    compute_1 = max(one.per_round - one.round_trip, 0.0)
    # Per-epoch work outside the round: the validation map-reduce (two task
    # round trips to the workers holding the shards), best states, pruning.
    driver = max(two.per_epoch - two.per_round, 0.0)
    say("")
    say("Estimate at more workers (1 sync per epoch):")
    say(
        f"  measured: stack state {two.stack_bytes / 1024:.1f} KiB; round trip of "
        f"the state {one.round_trip * 1e3:.1f} ms at 1 worker, "
        f"{two.round_trip * 1e3:.1f} ms at 2 -> c(N) = {a * 1e3:.1f} ms + "
        f"{b * 1e3:.2f} ms x N"
    )
    say(
        f"  worker compute per epoch at 1 worker {compute_1:.2f} s; work outside "
        f"the round per epoch (validation etc.) {driver:.2f} s; local epoch "
        f"{local.per_epoch:.2f} s"
    )
    say(
        "  assumptions: compute shrinks as 1/N (equal shards, one core per "
        "worker, no straggler); parameter averaging is a gather + broadcast of "
        "the state through the driver, so it grows linearly in N; the work "
        "outside the round (validation map-reduce, selection) stays as "
        "measured; network as the loopback measured here (on a real network "
        "add ~N x state / bandwidth, negligible for this state)."
    )
    for n in (1, 2, 8, 64):
        comm = a + b * n
        epoch = compute_1 / n + comm + driver
        say(
            f"  N={n:>2}: compute {compute_1 / n:7.3f} s + comm {comm * 1e3:7.1f} ms"
            f" + driver {driver:.2f} s = {epoch:6.2f} s/epoch "
            f"({1 / epoch:.2f} epochs/s, {local.per_epoch / epoch:.1f}x local)"
        )


def _unshadow() -> None:
    """Drop this script's folder from ``sys.path``: it would shadow ``distributed``.

    Run as ``python benchmarks/distributed.py``, the folder comes first on the
    path, so ``import distributed`` would find this file; worker processes
    inherit the path from here.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]


def main() -> None:
    _unshadow()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=581_012)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--num-models", default="4")
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--dask-ml-iter", type=int, default=30)
    parser.add_argument("--no-auto", action="store_true", help="skip num_models=auto")
    parser.add_argument("--quick", action="store_true", help="small, < 60 s")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.epochs, args.no_auto = 30_000, 3, True
        args.dask_ml_iter = min(args.dask_ml_iter, 5)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    # dask-ml still sets deprecated dask config keys on every fit.
    warnings.filterwarnings("ignore", category=FutureWarning, module="dask")

    from distributed import Client

    say = print
    channels = datasets.split_channels(datasets.covtype_like(args.rows, seed=0), seed=0)
    hp: dict[str, object] = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 7,
        "epochs": args.epochs,
        "num_models": int(args.num_models)
        if args.num_models.isdigit()
        else args.num_models,
        # Every run trains all epochs, so per-epoch times compare like for like.
        "early_stopping_patience": args.epochs + 1,
    }
    y = channels["train"][1]
    say(
        f"covtype_like rows={args.rows} train={len(y)} epochs={args.epochs} "
        f"num_models={args.num_models} shards={args.shards} cores={os.cpu_count()}"
    )
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="lodgepole-dist-") as root:
        # Every channel is a folder of CSV shards: on Dask the workers read and
        # score them all; the driver opens none.
        folders = _write_shards(root, channels, {"train": args.shards})
        local = _train("local", hp, folders)
        runs.append(local)
        with _cluster(1) as cluster, Client(cluster) as client:
            one = _dask("dask 1 worker", hp, channels, folders, client)
        runs.append(one)
        with _cluster(2) as cluster, Client(cluster) as client:
            two = _dask("dask 2 workers", hp, channels, folders, client)
            runs.append(two)
            auto = None
            if not args.no_auto and args.num_models != "auto":
                auto_hp = {**hp, "num_models": "auto"}
                auto = _dask("dask 2 workers, auto", auto_hp, channels, folders, client)
                runs.append(auto)
            ml_seconds, ml_accuracy, ml_note = _dask_ml(
                client, channels, args.dask_ml_iter, chunks=2
            )

    say("")
    say(
        f"{'run':<24}{'s/epoch':>9}{'epochs/s':>10}{'round s':>9}{'wall s':>9}"
        f"{'test acc':>10}"
    )
    for run in runs:
        say(
            f"{run.name:<24}{run.per_epoch:9.3f}{1 / run.per_epoch:10.3f}"
            f"{run.per_round:9.3f}{run.wall:9.2f}{run.accuracy:10.4f}"
        )
    say(
        f"{'dask-ml LogisticRegr.':<24}{'':>9}{'':>10}{'':>9}{ml_seconds:9.2f}"
        f"{ml_accuracy:10.4f}"
    )
    say(f"  dask-ml: {ml_note} (its solvers are binary only; multi_class is ignored)")
    for run in runs:
        laps = " ".join(f"{t:.3f}" for t in run.epoch_seconds)
        say(f"  {run.name} epoch seconds: {laps}")
    say(
        "  s/epoch: median EpochReport.seconds of epochs after the first (training"
        " + validation); round s: median executor round (send, train, gather, merge)"
    )

    _estimate(one, two, local, say)

    say("")
    say("Targets:")
    ratio = one.per_epoch / local.per_epoch
    say(
        f"  Dask overhead per epoch at 1 worker <= 1.5x local: {ratio:.2f}x -> "
        f"{'PASS' if ratio <= 1.5 else 'FAIL'}"
    )
    reach = _time_to(two, ml_accuracy)
    same = two.accuracy >= ml_accuracy - 0.005
    faster = reach < ml_seconds
    say(
        f"  faster than dask-ml to the same accuracy: dask-ml {ml_accuracy:.4f} in "
        f"{ml_seconds:.1f} s; lodgepole 2 workers reaches it (validation) in "
        f"{reach:.1f} s, final test {two.accuracy:.4f} in {two.wall:.1f} s -> "
        f"{'PASS' if same and faster else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
