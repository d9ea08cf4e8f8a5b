"""The ``lodgepole`` command line.

Commands:

``lodgepole convert SOURCE DESTINATION``
    Convert labelled data between CSV, RecordIO-protobuf, LIBSVM and Parquet.

``lodgepole serve MODEL [--host H] [--port N] [--workers N]``
    Serve a saved model over HTTP with the SageMaker inference protocol
    (``/ping``, ``/invocations``) until SIGTERM or Ctrl-C.

``lodgepole predict MODEL INPUT... --output DIR``
    Batch transform: score CSV, JSON Lines or RecordIO files into one
    ``<name>.out`` file each, streaming in input order.

``lodgepole demo covtype``
    The forest-cover experiment of the SageMaker multiclass blog post: train
    a default and a class-balanced 7-class model, print accuracy, per-class
    recall and the row-normalised confusion matrix of each, save both models.

This module is the only place that writes to the terminal; the library logs
through :mod:`logging`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lodgepole.__about__ import __version__
from lodgepole.exceptions import LodgepoleError

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _progress(label: str):  # type: ignore[no-untyped-def]
    """A progress callback drawing one line per training run on stderr."""
    started = time.perf_counter()

    def report(epoch_report) -> None:  # type: ignore[no-untyped-def]
        done = epoch_report.epoch + 1
        total = epoch_report.epochs
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else 0.0
        bar = "#" * int(20 * done / total)
        accuracy = epoch_report.metrics.get("validation:multiclass_accuracy")
        shown = f" validation accuracy {accuracy:.4f}" if accuracy is not None else ""
        sys.stderr.write(
            f"\r{label:>9} [{bar:<20}] epoch {done}/{total} "
            f"{rate:.2f} epochs/s, ETA {eta:4.0f}s{shown}   "
        )
        sys.stderr.flush()

    return report


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
        result = train(
            hyperparameters,
            channels["train"],
            channels["validation"],
            channels["test"],
            label_names=data.label_names,
            callback=_progress(name),
        )
        seconds = time.perf_counter() - started
        sys.stderr.write("\n")
        path = result.model.save(output / f"model-{name}")
        print(f"Trained the {name} model in {seconds:.1f}s; saved to {path}.")
        _print_report(name, result, channels["test"], data.label_names)
    return EXIT_OK


def _convert(args: argparse.Namespace) -> int:
    from lodgepole.data.convert import convert

    records, features = convert(
        args.source, args.destination, from_type=args.from_type, to_type=args.to_type
    )
    print(f"Wrote {records:,} records of {features} features to {args.destination}.")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from lodgepole.serving.server import serve

    try:
        serve(
            args.model,
            host=args.host,
            port=args.port,
            workers=args.workers,
            endpoint_name=args.endpoint_name,
        )
    except FileNotFoundError as err:
        print(
            f"lodgepole: error: no model at {err.filename or args.model}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_OK


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _predict(args: argparse.Namespace) -> int:
    from lodgepole.model import LinearModel
    from lodgepole.serving.batch import transform

    try:
        model = LinearModel.load(args.model)
    except FileNotFoundError as err:
        print(
            f"lodgepole: error: no model at {err.filename or args.model}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    started = time.perf_counter()
    written = transform(
        model,
        args.inputs,
        args.output,
        content_type=args.content_type,
        accept=args.accept,
        records_per_chunk=args.records_per_chunk,
        has_labels=args.has_labels,
    )
    seconds = time.perf_counter() - started
    print(
        f"Scored {len(written)} file(s) into {args.output} in {seconds:.1f}s "
        f"({args.accept})."
    )
    return EXIT_OK


def _endpoint_dict(endpoint) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from dataclasses import asdict

    return asdict(endpoint)


def _endpoints(args: argparse.Namespace) -> int:
    import json

    from lodgepole.serving import registry

    if args.action == "list":
        endpoints = registry.list_endpoints()
        if args.json:
            print(json.dumps([_endpoint_dict(e) for e in endpoints], indent=2))
        elif not endpoints:
            print(f"No endpoints (state directory {_state_dir()}).")
        else:
            rows = [("NAME", "STATUS", "URL", "WORKERS", "TYPE", "CREATED")]
            rows += [
                (
                    e.name,
                    e.status,
                    e.url,
                    str(e.instance_count),
                    e.predictor_type,
                    e.created_at,
                )
                for e in endpoints
            ]
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            for row in rows:
                print(
                    "  ".join(
                        c.ljust(w) for c, w in zip(row, widths, strict=True)
                    ).rstrip()
                )
    elif args.action == "describe":
        endpoint = registry.describe_endpoint(args.name)
        if args.json:
            print(json.dumps(_endpoint_dict(endpoint), indent=2))
        else:
            for key, value in _endpoint_dict(endpoint).items():
                print(f"{key:15} {value}")
    elif args.action == "delete":
        for name in args.name:
            registry.delete_endpoint(name)
            print(f"Deleted endpoint {name}.")
    else:  # create
        from lodgepole.model import LinearModel

        try:
            model = LinearModel.load(args.model)
        except FileNotFoundError as err:
            print(
                f"lodgepole: error: no model at {err.filename or args.model}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        predictor = model.deploy(
            initial_instance_count=args.workers,
            endpoint_name=args.name,
            host=args.host,
            port=args.port,
        )
        print(f"Endpoint {predictor.endpoint_name} is in service at {predictor.url}.")
    return EXIT_OK


def _state_dir() -> Path:
    from lodgepole.state import state_dir

    return state_dir()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lodgepole", description="Fast linear learners, SageMaker-compatible."
    )
    parser.add_argument(
        "--version", action="version", version=f"lodgepole {__version__}"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and debug logs"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each epoch")
    commands = parser.add_subparsers(dest="command", required=True)

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

    convert = commands.add_parser(
        "convert",
        help="convert labelled data between CSV, RecordIO-protobuf, LIBSVM, Parquet",
        description="Read every shard at SOURCE (file, folder, glob, URL or "
        "record-set manifest) and write one file at DESTINATION. Formats come "
        "from the file names (.csv, .pbr/.recordio, .libsvm/.svm, .parquet) "
        "unless given.",
    )
    convert.add_argument("source")
    convert.add_argument("destination")
    convert.add_argument(
        "--from",
        dest="from_type",
        default=None,
        help="content type of SOURCE, e.g. text/csv",
    )
    convert.add_argument(
        "--to", dest="to_type", default=None, help="content type of DESTINATION"
    )
    convert.set_defaults(handler=_convert)

    serve = commands.add_parser(
        "serve",
        help="serve a saved model over HTTP (SageMaker inference protocol)",
        description="Serve the model at MODEL (a directory or .tar.gz written "
        "by LinearModel.save) on /ping and /invocations until SIGTERM.",
    )
    serve.add_argument("model")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind")
    serve.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to bind (default: $SAGEMAKER_BIND_TO_PORT, else 8080)",
    )
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.add_argument(
        "--endpoint-name", default=None, help="only name served on /endpoints/"
    )
    serve.set_defaults(handler=_serve)

    predict = commands.add_parser(
        "predict",
        help="batch transform: score files into <name>.out files",
        description="Score every shard of each INPUT (file, folder, glob or "
        "URL) with the model at MODEL and write OUTPUT/<shard name>.out, one "
        "prediction per input row in input order.",
    )
    predict.add_argument("model")
    predict.add_argument("inputs", nargs="+", metavar="input")
    predict.add_argument("--output", required=True, help="folder for .out files")
    predict.add_argument(
        "--content-type",
        default=None,
        help="input type: text/csv, application/jsonlines or "
        "application/x-recordio-protobuf (default: from the file names)",
    )
    predict.add_argument(
        "--accept",
        default="application/jsonlines",
        help="output type: application/jsonlines (default) or "
        "application/x-recordio-protobuf",
    )
    predict.add_argument(
        "--has-labels",
        action="store_true",
        help="CSV rows start with a label column (ignored)",
    )
    predict.add_argument(
        "--records-per-chunk",
        type=_positive_int,
        default=10_000,
        help="rows decoded and scored at a time (default 10000)",
    )
    predict.set_defaults(handler=_predict)

    endpoints = commands.add_parser(
        "endpoints",
        help="create, list, describe and delete local endpoints",
        description="Endpoints are server processes that outlive the command "
        "or Python session that started them, recorded in the state directory "
        "($LODGEPOLE_HOME, else ~/.local/state/lodgepole).",
    )
    actions = endpoints.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list endpoints and their status")
    listing.add_argument("--json", action="store_true", help="print JSON")
    describe = actions.add_parser("describe", help="show one endpoint")
    describe.add_argument("name")
    describe.add_argument("--json", action="store_true", help="print JSON")
    delete = actions.add_parser(
        "delete", help="stop endpoints (draining requests) and remove them"
    )
    delete.add_argument("name", nargs="+")
    create = actions.add_parser(
        "create", help="deploy a saved model as a new endpoint and return"
    )
    create.add_argument("model", help="model directory or .tar.gz")
    create.add_argument("--name", default=None, help="endpoint name (default: new)")
    create.add_argument(
        "--workers", type=_positive_int, default=1, help="server worker processes"
    )
    create.add_argument("--host", default="127.0.0.1", help="address to bind")
    create.add_argument("--port", type=int, default=None, help="default: a free port")
    endpoints.set_defaults(handler=_endpoints)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 failure, 2 bad input)."""
    parser = _parser()
    args = parser.parse_args(argv)
    level = (
        logging.DEBUG
        if args.debug
        else logging.INFO
        if args.verbose
        else logging.WARNING
    )
    logging.basicConfig(
        level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.captureWarnings(True)  # warnings become one log line each
    try:
        return int(args.handler(args))
    except LodgepoleError as err:
        if args.debug:
            raise
        print(f"lodgepole: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lodgepole: interrupted", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
