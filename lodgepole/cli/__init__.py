"""The ``lodgepole`` command line.

Commands (``lodgepole COMMAND --help`` describes each):

``demo covtype``
    The forest-cover walkthrough of the SageMaker multiclass blog post.
``train --predictor-type T --train DATA [--NAME VALUE ...]``
    Train a model in a named training job.
``evaluate MODEL DATA`` or ``evaluate --endpoint NAME DATA``
    Accuracy, per-class recall and the confusion matrix on labelled data.
``jobs list | describe | delete``
    Training jobs, kept in the state directory.
``convert SOURCE DESTINATION``
    Convert labelled data between CSV, RecordIO-protobuf, LIBSVM and Parquet.
``serve MODEL``
    Serve a saved model over HTTP with the SageMaker inference protocol.
``predict MODEL INPUT... --output DIR``
    Batch transform: score files into one ``<name>.out`` file each.
``endpoints create | list | describe | delete``
    Local endpoints, which outlive the process that started them.

Exit codes: 0 success, 2 bad usage or input (one line on stderr), 1 any
other failure or an interruption. ``--debug`` shows tracebacks.

This package is the only place that writes to the terminal; the library logs
through :mod:`logging`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lodgepole.__about__ import __version__
from lodgepole.cli import _data, _demo, _endpoints, _jobs, _train
from lodgepole.cli._common import EXIT_FAILURE, EXIT_USAGE, CommandError
from lodgepole.exceptions import LodgepoleError

__all__ = ["main"]


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
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (_demo, _train, _jobs, _data, _endpoints):
        module.add_commands(commands)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"lodgepole: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["endpoints", "describe", "no-such-endpoint"])
    2
    """
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
    for handler in logging.getLogger().handlers:
        # A training job lowers the lodgepole logger's level to fill its log
        # file; the terminal keeps the level chosen here.
        handler.setLevel(level)
    logging.captureWarnings(True)  # warnings become one log line each
    try:
        if getattr(args, "takes_extra", False):
            return int(args.handler(args, extra))
        return int(args.handler(args))
    except (LodgepoleError, CommandError) as err:
        if args.debug:
            raise
        return _fail(str(err), EXIT_USAGE)
    except FileNotFoundError as err:
        if args.debug:
            raise
        return _fail(f"no such file or directory: {err.filename or err}", EXIT_USAGE)
    except KeyboardInterrupt:
        print("lodgepole: interrupted", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as err:  # one readable line, not a traceback
        if args.debug:
            raise
        return _fail(
            f"{type(err).__name__}: {err} (run with --debug for the traceback)",
            EXIT_FAILURE,
        )
