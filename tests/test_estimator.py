"""The estimator flow of the AWS blog post, at small n, and its failure modes.

Jobs land in the session's state directory (root conftest); tests look their
own jobs up by name. The deploy test runs a real server on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lodgepole import datasets
from lodgepole.data import RecordSet
from lodgepole.estimator import LinearLearner
from lodgepole.exceptions import ConfigError, DataFormatError, EndpointError
from lodgepole.jobs import JobError, describe_job, list_jobs
from lodgepole.learn.results import EpochReport

JSON = "application/json"


@pytest.fixture(scope="module")
def channels() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    data = datasets.covtype_like(3000, seed=0)
    return datasets.split_channels(data, seed=0)


@pytest.fixture(scope="module")
def fitted(
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LinearLearner, list[RecordSet]]]:
    estimator = LinearLearner(
        "multiclass_classifier",
        num_classes=7,
        balance_multiclass_weights=True,
        epochs=3,
        mini_batch_size=200,
        num_models=4,
        output_path=str(tmp_path_factory.mktemp("record-sets")),
    )
    records = [
        estimator.record_set(X, y, channel=name) for name, (X, y) in channels.items()
    ]
    estimator.fit(records)
    yield estimator, records


def _job_names() -> set[str]:
    return {job.name for job in list_jobs()}


# --- the post's flow -------------------------------------------------------------


def test_fit_records_a_completed_job_with_history_and_metrics(
    fitted: tuple[LinearLearner, list[RecordSet]],
) -> None:
    estimator, records = fitted
    job = describe_job(str(estimator.training_job_name))
    result = estimator.training_result
    assert result is not None

    assert job.status == "Completed" and job.failure_reason is None
    assert job.name.startswith("linear-learner-")
    assert job.predictor_type == "multiclass_classifier"
    assert job.channels == {rs.channel: rs.s3_data for rs in records}
    assert job.history == result.history
    assert 1 <= len(job.history) <= 3
    assert job.best_epoch == result.best_epoch
    assert job.candidate == result.candidate
    assert job.candidate["learning_rate"] > 0
    assert set(job.metrics) == {"train", "validation", "test"}
    assert job.metrics == result.metrics
    assert job.metrics["test"]["multiclass_accuracy"] > 0.4
    assert job.hyperparameters["balance_multiclass_weights"] is True
    assert job.hyperparameters["optimizer"] == "adam"  # auto resolved
    assert job.user_hyperparameters == estimator.hyperparameters()
    assert estimator.hyperparameters()["num_classes"] == "7"
    assert job.seconds is not None and job.seconds > 0
    assert estimator.model_data == job.model_path
    assert Path(str(job.model_path)).name == "model.tar.gz"


def test_balanced_weights_raise_balanced_accuracy_as_in_the_post(
    fitted: tuple[LinearLearner, list[RecordSet]],
) -> None:
    balanced, records = fitted
    default = LinearLearner(
        "multiclass_classifier",
        num_classes=7,
        epochs=3,
        mini_batch_size=200,
        num_models=4,
    ).fit(records)
    metric = "multiclass_balanced_accuracy"
    assert balanced.latest_training_job is not None
    assert default.latest_training_job is not None
    assert default.training_job_name != balanced.training_job_name
    assert (
        balanced.latest_training_job.metrics["test"][metric]
        > default.latest_training_job.metrics["test"][metric] + 0.1
    )


def test_fit_writes_the_job_log_and_restores_logging(
    fitted: tuple[LinearLearner, list[RecordSet]],
) -> None:
    estimator, _ = fitted
    job = describe_job(str(estimator.training_job_name))
    log = Path(job.log_path).read_text()
    assert f"training job started name={job.name}" in log
    assert "epoch done epoch=0" in log
    assert "training job completed" in log
    handlers = logging.getLogger("lodgepole").handlers
    assert not any(getattr(h, "baseFilename", None) == job.log_path for h in handlers)


def test_record_set_writes_each_channel_under_output_path(
    fitted: tuple[LinearLearner, list[RecordSet]],
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    estimator, records = fitted
    for rs in records:
        assert rs.num_records == len(channels[rs.channel][1])
        assert rs.feature_dim == 54
        assert Path(rs.s3_data).is_file()
        assert Path(rs.s3_data).parent.name == rs.channel
        assert rs.s3_data.startswith(str(estimator.output_path))


def test_attach_in_another_process_sees_the_job_and_model(
    fitted: tuple[LinearLearner, list[RecordSet]],
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    estimator, _ = fitted
    X_test = channels["test"][0][:20]
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        from lodgepole.estimator import LinearLearner
        from lodgepole.jobs import list_jobs
        attached = LinearLearner.attach({estimator.training_job_name!r})
        job = attached.latest_training_job
        X = np.array(json.loads(sys.stdin.read()), dtype=np.float32)
        print(json.dumps({{
            "listed": job.name in [j.name for j in list_jobs()],
            "status": job.status,
            "metrics": job.metrics,
            "history": job.history,
            "hyperparameters": attached.hyperparameters(),
            "num_classes": attached.num_classes,
            "labels": attached.model.predict(X).predicted_label.tolist(),
        }}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(X_test.tolist()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    job = estimator.latest_training_job
    assert job is not None and estimator.model is not None
    assert seen["listed"] is True
    assert seen["status"] == "Completed"
    assert seen["metrics"] == job.metrics
    assert seen["history"] == job.history
    assert seen["hyperparameters"] == estimator.hyperparameters()
    assert seen["num_classes"] == 7
    assert seen["labels"] == estimator.model.predict(X_test).predicted_label.tolist()


def test_deploy_predict_and_delete_endpoint(
    fitted: tuple[LinearLearner, list[RecordSet]],
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    pytest.importorskip("uvicorn")
    from lodgepole.serving import describe_endpoint

    estimator, _ = fitted
    assert estimator.model is not None
    X = channels["test"][0][:5]
    predictor = estimator.deploy(initial_instance_count=1)
    try:
        assert predictor.endpoint_name == estimator.training_job_name
        answer = predictor.predict(X, accept=JSON)
        labels = [p["predicted_label"] for p in answer["predictions"]]
        assert labels == estimator.model.predict(X).predicted_label.tolist()
    finally:
        estimator.delete_endpoint()
    with pytest.raises(EndpointError, match="no endpoint named"):
        describe_endpoint(str(estimator.training_job_name))
    with pytest.raises(EndpointError, match="no endpoint to delete"):
        estimator.delete_endpoint()


# --- bad input -----------------------------------------------------------------


def test_unknown_hyperparameter_fails_at_construction_with_a_hint() -> None:
    before = _job_names()
    with pytest.raises(
        ConfigError,
        match=r"Unknown hyperparameter 'n_classes'\. Did you mean 'num_classes'\?",
    ):
        LinearLearner("multiclass_classifier", n_classes=7)
    assert _job_names() == before


def test_invalid_hyperparameter_value_fails_at_construction() -> None:
    with pytest.raises(ConfigError, match="num_classes must be >= 3"):
        LinearLearner("multiclass_classifier", num_classes=2)
    with pytest.raises(ConfigError, match="epochs"):
        LinearLearner("regressor", epochs=0)


def test_instance_count_and_syncs_are_checked_at_construction() -> None:
    with pytest.raises(ConfigError, match="instance_count must be an integer"):
        LinearLearner("regressor", instance_count=0)
    with pytest.raises(ConfigError, match="syncs_per_epoch must be"):
        LinearLearner("regressor", instance_count=2, syncs_per_epoch=0)


def test_missing_train_channel_fails_before_any_job(
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    before = _job_names()
    estimator = LinearLearner("multiclass_classifier", num_classes=7)
    with pytest.raises(ConfigError, match="fit needs a 'train' channel"):
        estimator.fit({"validation": channels["validation"]})
    with pytest.raises(ConfigError, match="channel must be 'train', 'validation'"):
        estimator.fit({"train": channels["train"], "valid": channels["validation"]})
    assert _job_names() == before
    assert estimator.latest_training_job is None


def test_missing_channel_path_fails_before_any_job(tmp_path: Path) -> None:
    before = _job_names()
    estimator = LinearLearner("regressor")
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataFormatError, match="channel 'train': no data found at"):
        estimator.fit({"train": str(missing)})
    gone = RecordSet(str(tmp_path / "gone" / ".amazon.manifest"), 10, 2, "train")
    with pytest.raises(DataFormatError, match="channel 'train'"):
        estimator.fit(gone)
    assert _job_names() == before


def test_labels_beyond_num_classes_fail_before_any_epoch(
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    X, y = channels["train"]
    assert y.max() == 6
    epochs: list[EpochReport] = []
    estimator = LinearLearner("multiclass_classifier", num_classes=3, epochs=2)
    message = r"label must be an integer in \[0, 2\] .* num_classes=3; got [3-6]"
    with pytest.raises(DataFormatError, match=message):
        estimator.fit({"train": (X, y)}, callback=epochs.append)

    assert epochs == []
    job = describe_job(str(estimator.training_job_name))
    assert job.status == "Failed"
    assert job.failure_reason is not None
    assert job.failure_reason.startswith("DataFormatError: channel 'train', row ")
    assert "num_classes=3" in job.failure_reason
    assert job.history == [] and job.model_path is None
    assert estimator.model is None
    with pytest.raises(
        JobError, match=r"is Failed \(DataFormatError: .*only a Completed job"
    ):
        LinearLearner.attach(job.name)


def test_keyboard_interrupt_marks_the_job_failed_interrupted(
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    def interrupt(report: EpochReport) -> None:
        raise KeyboardInterrupt

    package = logging.getLogger("lodgepole")
    before = (package.level, list(package.handlers))
    estimator = LinearLearner(
        "multiclass_classifier", num_classes=7, epochs=5, num_models=2
    )
    with pytest.raises(KeyboardInterrupt):
        estimator.fit({"train": channels["train"]}, callback=interrupt)

    job = describe_job(str(estimator.training_job_name))
    assert (job.status, job.failure_reason) == ("Failed", "interrupted")
    assert len(job.history) == 1  # the epoch is recorded before the callback
    assert "interrupted" in Path(job.log_path).read_text()
    assert (package.level, package.handlers) == before  # log handler removed


def test_killed_training_process_leaves_a_failed_job(
    channels: dict[str, tuple[np.ndarray, np.ndarray]], tmp_path: Path
) -> None:
    X, y = channels["train"]
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(
        f"""
        import os
        import numpy as np
        from lodgepole.estimator import LinearLearner
        X = np.load({str(tmp_path / "X.npy")!r})
        y = np.load({str(tmp_path / "y.npy")!r})
        estimator = LinearLearner("multiclass_classifier", num_classes=7,
                                  epochs=5, num_models=2)
        print(os.getpid(), flush=True)
        # Dies after the first epoch with no cleanup, as under SIGKILL.
        estimator.fit({{"train": (X, y)}}, job_name="killed-mid-training",
                      callback=lambda report: os._exit(9))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ),
    )
    assert done.returncode == 9, done.stderr
    pid = int(done.stdout)

    [job] = [j for j in list_jobs() if j.name == "killed-mid-training"]

    assert job.status == "Failed"
    assert job.failure_reason == (
        f"the training process (pid {pid}) ended without finishing (killed?)"
    )
    assert job.pid == pid
    assert len(job.history) == 1


def test_dataframe_channel_named_job_and_reused_name(
    channels: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    pd = pytest.importorskip("pandas")
    X, y = channels["validation"]
    frame = pd.DataFrame(X[:, :3], columns=["elevation", "aspect", "slope"])
    estimator = LinearLearner("regressor", epochs=1, num_models=1)
    estimator.fit(
        {"train": (frame, pd.Series(X[:, 3]))}, "frame-job", mini_batch_size=50
    )

    job = describe_job("frame-job")
    assert job.status == "Completed"
    assert job.channels == {"train": f"DataFrame {len(y)}x3"}
    assert job.hyperparameters["mini_batch_size"] == 50
    assert estimator.model is not None
    assert estimator.model.feature_names == ("elevation", "aspect", "slope")
    with pytest.raises(JobError, match="'frame-job' already exists"):
        estimator.fit({"train": (frame, pd.Series(X[:, 3]))}, "frame-job")
    with pytest.raises(ConfigError, match="training job name 'bad_name'"):
        estimator.fit({"train": (frame, pd.Series(X[:, 3]))}, "bad_name")


def test_deploy_before_fit_says_what_to_do() -> None:
    with pytest.raises(JobError, match=r"call fit\(\.\.\.\) or .*attach"):
        LinearLearner("regressor").deploy()
