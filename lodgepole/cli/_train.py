"""``lodgepole train`` and ``lodgepole evaluate``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from lodgepole.cli._common import (
    EXIT_OK,
    CommandError,
    Progress,
    epoch_callback,
    load_model,
    positive_int,
)

_KEY_METRICS = (
    "objective_loss",
    "multiclass_accuracy",
    "macro_recall",
    "binary_classification_accuracy",
    "precision",
    "recall",
    "binary_f_beta",
    "roc_auc_score",
    "rmse",
    "absolute_loss",
    "r2",
)


def hyperparameter_options(tokens: list[str]) -> dict[str, str]:
    """Parse ``--NAME VALUE`` and ``--NAME=VALUE`` pairs into a dict.

    Dashes inside names become underscores, so ``--num-classes 7`` and
    ``--num_classes 7`` are the same.

    Examples
    --------
    >>> hyperparameter_options(["--num-classes", "7", "--init_bias=-0.5"])
    {'num_classes': '7', 'init_bias': '-0.5'}
    """
    values: dict[str, str] = {}
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if not token.startswith("--") or len(token) == 2:
            raise CommandError(
                f"unexpected argument {token!r}: hyperparameters are given as "
                f"--NAME VALUE"
            )
        name, equals, value = token[2:].partition("=")
        if not equals:
            if position + 1 >= len(tokens) or tokens[position + 1].startswith("--"):
                raise CommandError(f"--{name} needs a value")
            value = tokens[position + 1]
            position += 1
        values[name.replace("-", "_")] = value
        position += 1
    return values


def _hyperparameters(args: argparse.Namespace, extra: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if args.hyperparameters is not None:
        path = Path(args.hyperparameters)
        try:
            loaded = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise CommandError(f"no hyperparameters file at {path}") from None
        except ValueError as err:
            raise CommandError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(loaded, dict):
            raise CommandError(f"{path} must hold a JSON object of name: value")
        values.update(loaded)
    values.update(hyperparameter_options(extra))
    if args.predictor_type is not None:
        values["predictor_type"] = args.predictor_type
    if "predictor_type" not in values:
        raise CommandError(
            "--predictor-type is required (binary_classifier, "
            "multiclass_classifier or regressor)"
        )
    return values


def _train(args: argparse.Namespace, extra: list[str]) -> int:
    from lodgepole.estimator import LinearLearner

    values = _hyperparameters(args, extra)
    estimator = LinearLearner(
        values.pop("predictor_type"),
        base_job_name=args.base_job_name,
        **cluster_options(args),
        **values,
    )
    channels = {
        name: location
        for name, location in (
            ("train", args.train),
            ("validation", args.validation),
            ("test", args.test),
        )
        if location is not None
    }
    progress = Progress("training", None, "epochs")
    with progress:
        estimator.fit(
            channels, job_name=args.job_name, callback=epoch_callback(progress)
        )
    job = estimator.latest_training_job
    assert job is not None
    print_job(job)
    return EXIT_OK


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """``--workers``, ``--scheduler`` and ``--syncs-per-epoch`` (train, resume)."""
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="train data-parallel on a local Dask cluster of N worker processes",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="train data-parallel on this Dask cluster, e.g. tcp://10.0.0.5:8786",
    )
    parser.add_argument(
        "--syncs-per-epoch",
        type=positive_int,
        default=1,
        help="with Dask: parameter averagings per epoch (default 1)",
    )


def cluster_options(args: argparse.Namespace) -> dict[str, Any]:
    """The estimator's instance_count, cluster and syncs_per_epoch from args."""
    if args.scheduler is not None and args.workers is not None:
        raise CommandError("give --workers N or --scheduler ADDRESS, not both")
    return {
        "instance_count": args.workers or 1,
        "cluster": args.scheduler,
        "syncs_per_epoch": args.syncs_per_epoch,
    }


def print_job(job: Any) -> None:
    """The summary ``train`` and ``jobs resume`` print for a finished job."""
    print(f"Training job {job.name} {job.status} in {job.seconds or 0:.1f}s.")
    for channel, metrics in job.metrics.items():
        shown = ", ".join(f"{k} {metrics[k]:.4f}" for k in _KEY_METRICS if k in metrics)
        print(f"  {channel}: {shown}")
    print(f"Model: {job.model_path}")
    print(f"All metrics and the log: lodgepole jobs describe {job.name}")


def _evaluate(args: argparse.Namespace) -> int:
    from lodgepole.data.files import read_files
    from lodgepole.evaluation import evaluate

    if (args.model is None) == (args.endpoint is None):
        raise CommandError("give a MODEL path or --endpoint NAME (one of them)")
    label_names = args.label_names.split(",") if args.label_names else None
    if args.endpoint is not None:
        from lodgepole.serving import Predictor

        target: Any = Predictor.attach(args.endpoint)
    else:
        target = load_model(args.model)
        label_names = label_names or getattr(target, "label_names", None)
    started = time.perf_counter()
    features, labels = read_files(args.data, content_type=args.content_type)
    if labels is None:
        raise CommandError(f"{args.data}: the data carries no labels to evaluate")
    evaluation = evaluate(
        target, features, labels, label_names=label_names, batches=args.batches
    )
    seconds = time.perf_counter() - started
    print(f"Evaluated {len(labels):,} records in {seconds:.1f}s.")
    print(evaluation)
    if args.report is not None:
        from lodgepole.report import write_report

        path = write_report(args.report, {"model": evaluation})
        print(f"Report: {path / 'index.html'}")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``train`` and ``evaluate``."""
    train = commands.add_parser(
        "train",
        help="train a model in a new training job",
        description="Train on the data at --train (file, folder, glob, URL or "
        "record-set manifest; format from the file names) as a named job kept "
        "in the state directory. Any SageMaker hyperparameter may follow as "
        "--NAME VALUE (e.g. --num_classes 7 --epochs 10); a --hyperparameters "
        "JSON file gives defaults that the options override.",
        allow_abbrev=False,
        epilog="example: lodgepole train --predictor-type multiclass_classifier "
        "--train train.csv --validation validation.csv --num_classes 7",
    )
    train.add_argument("--predictor-type", default=None)
    train.add_argument("--train", required=True, help="training data location")
    train.add_argument("--validation", default=None, help="validation data")
    train.add_argument("--test", default=None, help="test data")
    train.add_argument(
        "--hyperparameters", default=None, metavar="FILE.json", help="JSON object"
    )
    train.add_argument("--job-name", default=None, help="default: base name + time")
    train.add_argument(
        "--base-job-name", default=None, help="prefix of the generated job name"
    )
    add_cluster_arguments(train)
    train.set_defaults(handler=_train, takes_extra=True)

    evaluate = commands.add_parser(
        "evaluate",
        help="accuracy, per-class recall and confusion matrix on labelled data",
        description="Score labelled DATA with a saved MODEL or a running "
        "endpoint and print accuracy, per-class recall and the row-normalised "
        "confusion matrix (regressors: mse, rmse, mae, r2).",
    )
    evaluate.add_argument("model", nargs="?", default=None, help="saved model")
    evaluate.add_argument("data", help="labelled data (file, folder, glob, URL)")
    evaluate.add_argument("--endpoint", default=None, help="score via this endpoint")
    evaluate.add_argument("--content-type", default=None, help="data format")
    evaluate.add_argument(
        "--batches", type=positive_int, default=1, help="requests/blocks (1)"
    )
    evaluate.add_argument("--label-names", default=None, help="comma-separated")
    evaluate.add_argument("--report", default=None, help="write an HTML report here")
    evaluate.set_defaults(handler=_evaluate)
