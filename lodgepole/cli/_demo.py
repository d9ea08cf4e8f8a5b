"""``lodgepole demo covtype``: the forest-cover walkthrough."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from lodgepole.cli._common import EXIT_OK, Progress, epoch_callback
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


def _print_report(name: str, result, channel, label_names) -> None:  # type: ignore[no-untyped-def]
    from lodgepole.metrics import confusion_matrix, per_class_scores

    X, y = channel
    predicted = result.model.predict(X).predicted_label
    k = len(label_names)
    accuracy = float(np.mean(predicted == y))
    recall = per_class_scores(y, predicted, k)["recall"]
    matrix = confusion_matrix(y, predicted, k, normalize="true")
    width = max(len(n) for n in label_names)
    print(f"\n== {name} model: test accuracy {accuracy:.4f}")
    print(f"   chosen candidate: {result.candidate}, best epoch {result.best_epoch}")
    print(f"   {'class':<{width}}  recall")
    for label, value in zip(label_names, recall, strict=True):
        print(f"   {label:<{width}}  {value:.3f}")
    print("   confusion matrix, rows = true class, row-normalised:")
    print("   " + " " * width + " " + " ".join(f"{i:>6}" for i in range(k)))
    for i, row in enumerate(matrix):
        cells = " ".join(f"{v:6.3f}" for v in row)
        print(f"   {label_names[i]:<{width}} {cells}")


def _demo(args: argparse.Namespace) -> int:
    from lodgepole import datasets, train

    data = _load_covtype(args)
    if args.rows and data.features.shape[0] > args.rows:
        keep = np.random.default_rng(args.seed).permutation(data.features.shape[0])
        keep = np.sort(keep[: args.rows])
        data = datasets.Dataset(
            data.features[keep],
            data.labels[keep],
            data.feature_names,
            data.label_names,
            data.source,
        )
    channels = datasets.split_channels(data, seed=args.seed)
    sizes = ", ".join(f"{k} {len(v[1]):,}" for k, v in channels.items())
    print(f"Split 80/10/10: {sizes}.")
    output = Path(args.output)
    runs = [("default", {}), ("balanced", {"balance_multiclass_weights": True})]
    for name, extra in runs:
        hyperparameters = {
            "predictor_type": "multiclass_classifier",
            "num_classes": 7,
            "seed": args.seed,
            **extra,
        }
        if args.epochs is not None:
            hyperparameters["epochs"] = args.epochs
        started = time.perf_counter()
        progress = Progress(name, None, "epochs")
        with progress:
            result = train(
                hyperparameters,
                channels["train"],
                channels["validation"],
                channels["test"],
                label_names=data.label_names,
                callback=epoch_callback(progress),
            )
        seconds = time.perf_counter() - started
        path = result.model.save(output / f"model-{name}")
        print(f"Trained the {name} model in {seconds:.1f}s; saved to {path}.")
        _print_report(name, result, channels["test"], data.label_names)
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
    demo.add_argument("--output", default="lodgepole-output", help="where models go")
    demo.set_defaults(handler=_demo)
