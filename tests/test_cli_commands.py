"""train, evaluate and jobs through the real entry point, in subprocesses.

Each subprocess is a separate Python process sharing the session's state
directory, so these tests also show that jobs persist across processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lodgepole.cli import main
from lodgepole.cli._train import hyperparameter_options
from lodgepole.datasets import covtype_like, split_channels
from lodgepole.formats.csv import encode_csv
from lodgepole.metrics import accuracy_score


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def csv_channels(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("csv")
    channels = split_channels(covtype_like(6000, seed=3), seed=3)
    paths = {}
    for name, (X, y) in channels.items():
        paths[name] = folder / f"{name}.csv"
        paths[name].write_bytes(encode_csv(X, y))
    return paths


@pytest.fixture(scope="module")
def trained_job(csv_channels) -> dict:
    done = _cli(
        "train",
        "--predictor-type",
        "multiclass_classifier",
        "--train",
        str(csv_channels["train"]),
        "--validation",
        str(csv_channels["validation"]),
        "--test",
        str(csv_channels["test"]),
        "--num_classes",
        "7",
        "--epochs=3",
        "--mini-batch-size",
        "500",
        "--job-name",
        "cli-trained-job",
    )
    assert done.returncode == 0, done.stderr
    assert "Training job cli-trained-job Completed" in done.stdout
    described = _cli("jobs", "describe", "cli-trained-job", "--json")
    assert described.returncode == 0, described.stderr
    return json.loads(described.stdout)


def test_train_records_a_job_that_other_processes_see(trained_job):
    assert trained_job["status"] == "Completed"
    assert trained_job["user_hyperparameters"]["mini_batch_size"] in ("500", 500)
    assert len(trained_job["history"]) == 3
    assert set(trained_job["metrics"]) == {"train", "validation", "test"}
    assert Path(trained_job["model_path"]).is_file()
    listed = _cli("jobs", "list")
    row = next(line for line in listed.stdout.splitlines() if "cli-trained-job" in line)
    assert "Completed" in row and "test:multiclass_accuracy" in row


def test_evaluate_matches_the_jobs_test_metric(trained_job, csv_channels, tmp_path):
    done = _cli(
        "evaluate",
        trained_job["model_path"],
        str(csv_channels["test"]),
        "--batches",
        "4",
        "--report",
        str(tmp_path / "report"),
    )
    assert done.returncode == 0, done.stderr
    expected = trained_job["metrics"]["test"]["multiclass_accuracy"]
    assert f"accuracy: {expected:.4f}" in done.stdout
    assert "per-class recall" in done.stdout
    html = (tmp_path / "report" / "index.html").read_text()
    assert 'src="confusion_model.png"' in html


def test_evaluate_through_an_endpoint(trained_job, csv_channels):
    from lodgepole.formats.csv import decode_csv
    from lodgepole.model import LinearModel

    model = LinearModel.load(trained_job["model_path"])
    with model.deploy(endpoint_name="cli-evaluate-endpoint"):
        done = _cli(
            "evaluate",
            str(csv_channels["test"]),
            "--endpoint",
            "cli-evaluate-endpoint",
            "--batches",
            "5",
        )
    assert done.returncode == 0, done.stderr
    X, y = decode_csv(csv_channels["test"].read_bytes(), has_labels=True)[:2]
    accuracy = accuracy_score(y, model.predict(X).predicted_label)
    assert f"accuracy: {accuracy:.4f}" in done.stdout


def test_jobs_delete_removes_the_job_and_its_files(csv_channels):
    assert (
        main(
            [
                "train",
                "--predictor-type",
                "multiclass_classifier",
                "--train",
                str(csv_channels["train"]),
                "--num_classes",
                "7",
                "--epochs",
                "1",
                "--job-name",
                "cli-job-to-delete",
            ]
        )
        == 0
    )
    described = _cli("jobs", "describe", "cli-job-to-delete", "--json")
    model_path = Path(json.loads(described.stdout)["model_path"])
    assert model_path.exists()
    assert _cli("jobs", "delete", "cli-job-to-delete").returncode == 0
    assert not model_path.exists()
    gone = _cli("jobs", "describe", "cli-job-to-delete")
    assert gone.returncode == 2 and "cli-job-to-delete" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n_classes", "7"], "Did you mean 'num_classes'"),
        (["--num_classes", "7", "--epochs", "zero"], "epochs"),
        (["--num_classes"], "--num_classes needs a value"),
        (["--num_classes", "7", "stray"], "unexpected argument 'stray'"),
    ],
)
def test_train_bad_hyperparameters_fail_in_one_line(csv_channels, args, message):
    done = _cli(
        "train",
        "--predictor-type",
        "multiclass_classifier",
        "--train",
        str(csv_channels["train"]),
        *args,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("lodgepole: error:") == 1


def test_train_bad_channels_fail_before_training(csv_channels, tmp_path):
    missing = _cli(
        "train",
        "--predictor-type",
        "binary_classifier",
        "--train",
        str(tmp_path / "nothing.csv"),
    )
    assert missing.returncode == 2
    assert "nothing.csv" in missing.stderr and "Traceback" not in missing.stderr
    mismatch = _cli(
        "train",
        "--predictor-type",
        "multiclass_classifier",
        "--train",
        str(csv_channels["train"]),
        "--num_classes",
        "3",
        "--job-name",
        "cli-num-classes-mismatch",
    )
    assert mismatch.returncode == 2
    assert "num_classes" in mismatch.stderr or "label" in mismatch.stderr
    no_type = _cli("train", "--train", str(csv_channels["train"]))
    assert no_type.returncode == 2 and "--predictor-type is required" in no_type.stderr
    no_train = _cli("train", "--predictor-type", "regressor")
    assert no_train.returncode == 2 and "--train" in no_train.stderr


def test_debug_shows_the_traceback(tmp_path):
    done = _cli(
        "--debug",
        "train",
        "--predictor-type",
        "regressor",
        "--train",
        str(tmp_path / "nothing.csv"),
    )
    assert done.returncode != 0
    assert "Traceback" in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo"],
        ["train"],
        ["evaluate"],
        ["jobs"],
        ["jobs", "list"],
        ["jobs", "describe"],
        ["jobs", "delete"],
        ["serve"],
        ["predict"],
        ["convert"],
        ["endpoints"],
        ["endpoints", "create"],
        ["endpoints", "list"],
        ["endpoints", "delete"],
    ],
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: lodgepole" in capsys.readouterr().out


def test_unknown_options_are_usage_errors_outside_train(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["jobs", "list", "--num_classes", "7"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_hyperparameter_options_accept_both_spellings():
    assert hyperparameter_options(["--a-b", "1", "--c_d=x", "--e", "-2"]) == {
        "a_b": "1",
        "c_d": "x",
        "e": "-2",
    }
    assert np.isfinite(1.0)
