"""Training benchmark on forest-cover data: lodgepole against scikit-learn.

Runs in one process on the same split (80/10/10 of covtype_like at full size
by default, or the real table with ``--source covtype``):

* lodgepole with ``num_models=auto`` and with ``num_models=1``,
* scikit-learn ``SGDClassifier(loss="log_loss", early_stopping=True)``,
* scikit-learn ``LogisticRegression`` (lbfgs) on standardised features,

first with default weights, then with balanced class weights. For each it
prints training seconds, test accuracy and per-class recall, then lodgepole's
time ratios against each peer, the cost of 32 candidates against 1 per epoch,
and lodgepole's peak traced memory as a multiple of the float32 training matrix.

Usage::

    python benchmarks/train_covtype.py [--rows N] [--source covtype_like|covtype]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import lodgepole
from lodgepole import datasets
from lodgepole.metrics import per_class_scores


def _lodgepole(channels, balanced: bool, num_models: str | int, trace: bool = False):
    hp = {
        "predictor_type": "multiclass_classifier",
        "num_classes": 7,
        "num_models": num_models,
        "balance_multiclass_weights": balanced,
    }
    if trace:  # tracing slows allocation down, so it gets a run of its own
        tracemalloc.start()
    started = time.perf_counter()
    result = lodgepole.train(hp, channels["train"], channels["validation"])
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    X, _ = channels["test"]
    predicted = result.model.predict(X).predicted_label
    epochs = len(result.history)
    return (
        seconds,
        predicted,
        {"epochs": epochs, "peak": peak, "per_epoch": seconds / epochs},
    )


def _sklearn(model, channels):
    X, y = channels["train"]
    started = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - started
    return seconds, model.predict(channels["test"][0])


def _row(name: str, seconds: float, predicted, y, extra: dict) -> dict:
    accuracy = float(np.mean(predicted == y))
    recall = per_class_scores(y, predicted, 7)["recall"]
    recalls = " ".join(f"{r:.2f}" for r in recall)
    note = ""
    if "epochs" in extra:
        note = f"  ({extra['epochs']} epochs, {extra['per_epoch']:.2f} s/epoch)"
    print(f"  {name:<34} {seconds:7.2f} s  accuracy {accuracy:.4f}", end="")
    print(f"  recall [{recalls}]{note}")
    return {"seconds": seconds, "accuracy": accuracy, **extra}


def run(channels, balanced: bool) -> None:
    y = channels["test"][1]
    X_train, y_train = channels["train"]
    class_weight = None
    if balanced:
        counts = np.bincount(y_train.astype(int), minlength=7)
        class_weight = {c: len(y_train) / counts[c] for c in range(7)}
    title = "balanced class weights" if balanced else "default weights"
    print(f"\n{title}:")
    results = {}
    for name, num_models in (
        ("lodgepole num_models=auto", "auto"),
        ("lodgepole num_models=1", 1),
    ):
        seconds, predicted, extra = _lodgepole(channels, balanced, num_models)
        results[name] = _row(name, seconds, predicted, y, extra)
    peers = {
        "sklearn SGDClassifier(log_loss, es)": make_pipeline(
            StandardScaler(),
            SGDClassifier(
                loss="log_loss",
                early_stopping=True,
                class_weight=class_weight,
                random_state=0,
            ),
        ),
        "sklearn LogisticRegression(lbfgs)": make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=1000, class_weight=class_weight),
        ),
    }
    for name, model in peers.items():
        seconds, predicted = _sklearn(model, channels)
        results[name] = _row(name, seconds, predicted, y, {})

    auto = results["lodgepole num_models=auto"]
    one = results["lodgepole num_models=1"]
    sgd = results["sklearn SGDClassifier(log_loss, es)"]
    lbfgs = results["sklearn LogisticRegression(lbfgs)"]
    matrix_bytes = X_train.astype(np.float32).nbytes
    auto["peak"] = _lodgepole(channels, balanced, "auto", trace=True)[2]["peak"]
    lines = [
        ("time auto / SGDClassifier", auto["seconds"] / sgd["seconds"], "< 0.20"),
        ("time auto / LogisticRegression", auto["seconds"] / lbfgs["seconds"], ""),
        (
            "accuracy points, auto - LogisticRegression",
            100 * (auto["accuracy"] - lbfgs["accuracy"]),
            ">= -0.30",
        ),
        (
            "per-epoch time, auto / 1 model",
            auto["per_epoch"] / one["per_epoch"],
            "<= 3",
        ),
        ("peak traced memory / train matrix", auto["peak"] / matrix_bytes, "< 2"),
    ]
    for label, value, target in lines:
        goal = f"  (target {target})" if target else ""
        print(f"  {label:<44} {value:6.2f}{goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=581_012)
    parser.add_argument(
        "--source", choices=["covtype_like", "covtype"], default="covtype_like"
    )
    parser.add_argument("--only", choices=["default", "balanced"], default=None)
    args = parser.parse_args()
    if args.source == "covtype":
        data = datasets.covtype()
    else:
        data = datasets.covtype_like(args.rows, seed=0)
    channels = datasets.split_channels(data, seed=0)
    sizes = ", ".join(f"{k} {len(v[1]):,}" for k, v in channels.items())
    print(f"{data.source}: {data.features.shape[0]:,} rows; {sizes}")
    for balanced in (False, True):
        if args.only and args.only != ("balanced" if balanced else "default"):
            continue
        run(channels, balanced)


if __name__ == "__main__":
    main()
