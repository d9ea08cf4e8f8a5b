"""``lodgepole jobs list | describe | resume | delete``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lodgepole.cli._common import EXIT_OK, table


def _accuracy(metrics: dict[str, dict[str, float]]) -> str:
    for channel in ("test", "validation", "train"):
        values = metrics.get(channel, {})
        for key in (
            "multiclass_accuracy",
            "binary_classification_accuracy",
            "rmse",
        ):
            if key in values:
                return f"{channel}:{key} {values[key]:.4f}"
    return ""


def _jobs(args: argparse.Namespace) -> int:
    from lodgepole.jobs import delete_job, describe_job, list_jobs
    from lodgepole.state import state_dir

    if args.action == "list":
        jobs = list_jobs()
        if args.json:
            print(json.dumps([j.to_dict() for j in jobs], indent=2))
        elif not jobs:
            print(f"No training jobs (state directory {state_dir()}).")
        else:
            rows = [("NAME", "STATUS", "TYPE", "CREATED", "SECONDS", "RESULT")]
            rows += [
                (
                    j.name,
                    j.status,
                    j.predictor_type,
                    j.created_at,
                    "" if j.seconds is None else f"{j.seconds:.1f}",
                    _accuracy(j.metrics) or (j.failure_reason or "")[:60],
                )
                for j in jobs
            ]
            print(table(rows))
    elif args.action == "describe":
        job = describe_job(args.name).to_dict()
        if args.json:
            print(json.dumps(job, indent=2))
        else:
            history = job.pop("history")
            for key, value in job.items():
                if isinstance(value, dict):
                    value = json.dumps(value, sort_keys=True)
                print(f"{key:20} {value}")
            print(f"{'epochs':20} {len(history)}")
    elif args.action == "resume":
        return _resume(args)
    else:
        for name in args.name:
            delete_job(name)
            print(f"Deleted training job {name}.")
    return EXIT_OK


def _resume(args: argparse.Namespace) -> int:
    from lodgepole.cli._common import Progress, epoch_callback
    from lodgepole.cli._train import cluster_options, print_job
    from lodgepole.estimator import LinearLearner

    options = cluster_options(args)
    progress = Progress("training", None, "epochs")
    with progress:
        estimator = LinearLearner.resume(
            args.name, callback=epoch_callback(progress), **options
        )
    assert estimator.latest_training_job is not None
    print_job(estimator.latest_training_job)
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Register ``jobs``."""
    jobs = commands.add_parser(
        "jobs",
        help="list, describe, resume and delete training jobs",
        description="Training jobs are recorded in the state directory "
        "($LODGEPOLE_HOME, else ~/.local/state/lodgepole).",
    )
    actions = jobs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list jobs, newest last")
    listing.add_argument("--json", action="store_true", help="print JSON")
    describe = actions.add_parser("describe", help="show one job")
    describe.add_argument("name")
    describe.add_argument("--json", action="store_true", help="print JSON")
    resume = actions.add_parser(
        "resume",
        help="continue a Failed or Stopped job from its last checkpoint",
        description="Continue job NAME after the last epoch it checkpointed, "
        "reading its channels from the locations it recorded; it ends with the "
        "model an uninterrupted run would have given (a Dask job: when resumed "
        "with the same --workers and --syncs-per-epoch).",
    )
    resume.add_argument("name")
    from lodgepole.cli._train import add_cluster_arguments

    add_cluster_arguments(resume)
    delete = actions.add_parser("delete", help="remove jobs, their models and logs")
    delete.add_argument("name", nargs="+")
    jobs.set_defaults(handler=_jobs)
