"""``convert``, ``serve`` and ``predict``: data files and serving."""

from __future__ import annotations

import argparse
import time
from typing import Any

from lodgepole.cli._common import (
    EXIT_OK,
    CommandError,
    Progress,
    load_model,
    positive_int,
)


def _convert(args: argparse.Namespace) -> int:
    from lodgepole.data.convert import convert

    started = time.perf_counter()
    records, features = convert(
        args.source, args.destination, from_type=args.from_type, to_type=args.to_type
    )
    seconds = time.perf_counter() - started
    print(
        f"Wrote {records:,} records of {features} features to {args.destination} "
        f"in {seconds:.1f}s."
    )
    return EXIT_OK


def read_auth_token(path: str) -> str:
    """The bearer token in the file at ``path``, stripped of whitespace."""
    from lodgepole.serving.app import check_auth_token

    try:
        with open(path, encoding="utf-8") as file:
            token = file.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise CommandError(f"cannot read --auth-token-file {path}: {reason}") from None
    try:
        return check_auth_token(token, f"--auth-token-file {path}")
    except ValueError as err:
        raise CommandError(str(err)) from None


def _positive_seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text!r}")
    return value


def _serve(args: argparse.Namespace) -> int:
    from lodgepole.serving.server import container_model_path, serve

    token = (
        None if args.auth_token_file is None else read_auth_token(args.auth_token_file)
    )
    try:
        model = args.model or container_model_path(args.ml_root)
        serve(
            model,
            host=args.host,
            port=args.port,
            workers=args.workers,
            endpoint_name=args.endpoint_name,
            access_log=args.access_log,
            auth_token=token,
            max_body_bytes=args.max_body_bytes,
            request_timeout=args.request_timeout,
        )
    except FileNotFoundError as err:
        if args.model is None:
            raise CommandError(str(err.strerror)) from None
        raise CommandError(f"no model at {err.filename or args.model}") from None
    return EXIT_OK


def _predict(args: argparse.Namespace) -> int:
    from lodgepole.data.files import list_shards, total_size
    from lodgepole.serving.batch import transform

    model = load_model(args.model)
    started = time.perf_counter()
    size = total_size(list_shards(list(args.inputs)))
    progress = Progress("scoring", float(size), "MB", scale=1e6)

    def advance(bytes_read: int, records: int) -> None:
        progress.update(bytes_read, f"{records:,} records")

    with progress:
        written = transform(
            model,
            args.inputs,
            args.output,
            content_type=args.content_type,
            accept=args.accept,
            records_per_chunk=args.records_per_chunk,
            has_labels=args.has_labels,
            progress=advance,
        )
    seconds = time.perf_counter() - started
    print(
        f"Scored {len(written)} file(s) into {args.output} in {seconds:.1f}s "
        f"({args.accept})."
    )
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``convert``, ``serve`` and ``predict``."""
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
        "by LinearModel.save) on /ping and /invocations until SIGTERM. Without "
        "MODEL, as a SageMaker inference container does: the model in "
        "$SM_MODEL_DIR, else in ROOT/model (ROOT from --ml-root, "
        "$LODGEPOLE_ML_ROOT or /opt/ml), extracted or as one .tar.gz. With a "
        "token (--auth-token-file, else $LODGEPOLE_AUTH_TOKEN) every route but "
        "GET /ping needs 'Authorization: Bearer <token>'.",
    )
    serve.add_argument("model", nargs="?", default=None)
    serve.add_argument(
        "--ml-root",
        default=None,
        help="container root whose model/ folder holds the model (default /opt/ml)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind")
    serve.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to bind (default: $SAGEMAKER_BIND_TO_PORT, else 8080)",
    )
    serve.add_argument(
        "--workers", type=positive_int, default=1, help="worker processes"
    )
    serve.add_argument(
        "--endpoint-name", default=None, help="only name served on /endpoints/"
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log one line per request"
    )
    serve.add_argument(
        "--auth-token-file",
        default=None,
        metavar="PATH",
        help="file holding the bearer token clients must send (default: "
        "$LODGEPOLE_AUTH_TOKEN; no authentication when neither is set)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=None,
        help="largest request body, else 413 (default: $LODGEPOLE_MAX_BODY_BYTES, "
        "else 6291456 = 6 MiB)",
    )
    serve.add_argument(
        "--request-timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="time to receive a body (else 408) and to score it (else 503) "
        "(default: $LODGEPOLE_REQUEST_TIMEOUT, else 60)",
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
        type=positive_int,
        default=10_000,
        help="rows decoded and scored at a time (default 10000)",
    )
    predict.set_defaults(handler=_predict)
