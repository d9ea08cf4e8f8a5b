"""``lodgepole demo covtype``: the forest-cover walkthrough."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from lodgepole.cli._common import EXIT_OK, Progress, epoch_callback, positive_int
from lodgepole.exceptions import LodgepoleError


def _load_covtype(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from lodgepole import datasets

    if args.source in ("auto", "covtype"):
        try:
            data = datasets.covtype(download=args.download or args.source == "covtype")
            print(f"Data: the UCI Covertype table ({data.features.shape[0]:,} rows).")
            return data
        except LodgepoleError as err:
            if args.source == "covtype":
                raise
            logging.getLogger(__name__).debug("covtype unavailable: %s", err)
            print(
                "Data: the real Covertype table is not cached here "
                "(--download fetches it)."
            )
    data = datasets.covtype_like(args.rows or 581_012, seed=args.seed)
    print(
        f"Data: covtype_like, {data.features.shape[0]:,} generated rows with the "
        "Covertype schema and class frequencies."
    )
    return data


def _subsample(data, rows: int | None, seed: int):  # type: ignore[no-untyped-def]
    from lodgepole import datasets

    if not rows or data.features.shape[0] <= rows:
        return data
    keep = np.sort(
        np.random.default_rng(seed).permutation(data.features.shape[0])[:rows]
    )
    return datasets.Dataset(
        data.features[keep],
        data.labels[keep],
        data.feature_names,
        data.label_names,
        data.source,
    )


def _remove_old_record_sets(folder: Path) -> None:
    """Delete record sets an earlier demo run wrote under ``folder``."""
    import shutil

    for old in folder.glob("LinearLearner-*"):
        if (old / "train" / ".amazon.manifest").exists() or not any(old.iterdir()):
            shutil.rmtree(old, ignore_errors=True)


def _demo(args: argparse.Namespace) -> int:
    from lodgepole import datasets
    from lodgepole.estimator import LinearLearner
    from lodgepole.evaluation import evaluate
    from lodgepole.report import write_report

    started = time.perf_counter()
    data = _subsample(_load_covtype(args), args.rows, args.seed)
    channels = datasets.split_channels(data, seed=args.seed)
    sizes = ", ".join(f"{k} {len(v[1]):,}" for k, v in channels.items())
    print(f"Shuffled and split 80/10/10: {sizes}.")
    output = Path(args.output)
    X_test, y_test = channels["test"]

    runs = {"default": {}, "balanced": {"balance_multiclass_weights": True}}
    estimators = {}
    records: dict[str, Any] | None = None
    for name, extra in runs.items():
        hyperparameters: dict[str, Any] = {"num_classes": 7, "seed": args.seed, **extra}
        if args.epochs is not None:
            hyperparameters["epochs"] = args.epochs
        estimator = LinearLearner(
            "multiclass_classifier",
            base_job_name=f"covtype-{name}",
            output_path=str(output / "data"),
            **hyperparameters,
        )
        if records is None:  # written once, as the post uploads them once
            _remove_old_record_sets(output / "data")
            records = {
                channel: estimator.record_set(X, y, channel=channel)
                for channel, (X, y) in channels.items()
            }
        progress = Progress(name, None, "epochs")
        with progress:
            estimator.fit(records, callback=epoch_callback(progress))
        job = estimator.latest_training_job
        assert job is not None
        print(
            f"Training job {job.name}: {job.status} in {job.seconds or 0:.1f}s, "
            f"model {job.model_path}"
        )
        estimators[name] = estimator

    evaluations = {}
    try:
        for name, estimator in estimators.items():
            predictor = estimator.deploy(initial_instance_count=1)
            print(f"Endpoint {predictor.endpoint_name} in service at {predictor.url}.")
            scoring = time.perf_counter()
            evaluations[name] = evaluate(
                predictor,
                X_test,
                y_test,
                label_names=data.label_names,
                batches=args.batches,
            )
            seconds = time.perf_counter() - scoring
            print(
                f"Scored {len(y_test):,} test records through HTTP in "
                f"{args.batches} batches in {seconds:.1f}s."
            )
    finally:
        for estimator in estimators.values():
            estimator.delete_endpoint()
    print("Endpoints deleted.")

    for name, evaluation in evaluations.items():
        print(f"\n== {name} model ==")
        print(evaluation)
    histories = {
        name: estimator.latest_training_job.history
        for name, estimator in estimators.items()
        if estimator.latest_training_job is not None
    }
    report = write_report(
        output / "report",
        evaluations,
        histories=histories,
        title=f"Forest cover type: default vs balanced ({data.source})",
    )
    print(f"\nReport: {report / 'index.html'}")
    print(f"Done in {time.perf_counter() - started:.0f}s.")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``demo``."""
    demo = commands.add_parser("demo", help="run a walkthrough experiment")
    demo.add_argument("dataset", choices=["covtype"], help="the experiment to run")
    demo.add_argument("--rows", type=int, default=None, help="use only N rows")
    demo.add_argument(
        "--source",
        choices=["auto", "covtype", "covtype_like"],
        default="auto",
        help="real table (cached or downloaded), generated look-alike, or auto: "
        "the real table when cached, else the look-alike (default)",
    )
    demo.add_argument("--download", action="store_true", help="download the real table")
    demo.add_argument("--epochs", type=int, default=None, help="override epochs")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--output",
        default="lodgepole-output",
        help="folder for the record sets and the report (default lodgepole-output)",
    )
    demo.add_argument(
        "--batches",
        type=positive_int,
        default=100,
        help="HTTP requests the test set is scored in (default 100, as the post)",
    )
    demo.set_defaults(handler=_demo)
