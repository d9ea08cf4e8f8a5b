"""DataFrames and Arrow tables through a real endpoint; Parquet batch transform."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from lodgepole import train  # noqa: E402
from lodgepole.exceptions import DataFormatError  # noqa: E402
from lodgepole.serving import deploy  # noqa: E402
from lodgepole.serving.batch import transform  # noqa: E402

NAMES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def frame_and_model():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 3)).astype(np.float32)
    y = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5]).astype(np.float32)
    frame = pd.DataFrame(X, columns=NAMES)
    hp = {"predictor_type": "multiclass_classifier", "num_classes": 3, "epochs": 3}
    return frame, train(hp, (frame, y)).model


def test_predictor_takes_dataframes_and_tables_and_checks_their_columns(
    frame_and_model,
):
    frame, model = frame_and_model
    predictor = deploy(model)
    try:
        assert predictor.model_metadata()["feature_names"] == NAMES
        expected = model.predict(frame[:20]).predicted_label.tolist()
        for data in (frame[:20], pa.Table.from_pandas(frame[:20])):
            reply = predictor.predict(data, accept="application/json")
            labels = [p["predicted_label"] for p in reply["predictions"]]
            assert labels == expected
        with pytest.raises(DataFormatError, match=r"position 0 holds 'b'"):
            predictor.predict(frame[["b", "a", "c"]][:5])
        with pytest.raises(DataFormatError, match=r"missing \['c'\]"):
            predictor.predict(frame[["a", "b"]][:5])
    finally:
        predictor.delete_endpoint()


def test_batch_transform_reads_parquet_columns_by_name(frame_and_model, tmp_path: Path):
    frame, model = frame_and_model
    # Columns in another order plus an id column: read by the model's names.
    shuffled = frame[["c", "a", "b"]].assign(id=np.arange(len(frame)))
    pq.write_table(
        pa.Table.from_pandas(shuffled), tmp_path / "rows.parquet", row_group_size=100
    )
    written = transform(
        model, tmp_path / "rows.parquet", tmp_path / "out", records_per_chunk=64
    )
    lines = written[0].read_text().splitlines()
    assert len(lines) == len(frame)
    labels = [json.loads(line)["predicted_label"] for line in lines]
    assert labels == model.predict(frame).predicted_label.tolist()

    pq.write_table(pa.Table.from_pandas(frame[["a", "b"]]), tmp_path / "short.parquet")
    with pytest.raises(
        DataFormatError, match=r"lacks the model's feature column\(s\) \['c'\]"
    ):
        transform(model, tmp_path / "short.parquet", tmp_path / "out2")
    assert not (tmp_path / "out2" / "short.parquet.out").exists()


def test_cli_trains_on_parquet_and_predicts_parquet(frame_and_model, tmp_path: Path):
    frame, _ = frame_and_model
    labels = np.digitize(frame["a"] + frame["b"], [-0.5, 0.5]).astype(np.float32)
    table = pa.Table.from_pandas(frame.assign(label=labels)[["label", *NAMES]])
    pq.write_table(table, tmp_path / "train.parquet")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lodgepole.cli", *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    done = cli(
        "train",
        "--predictor-type",
        "multiclass_classifier",
        "--num_classes",
        "3",
        "--epochs",
        "2",
        "--train",
        str(tmp_path / "train.parquet"),
        "--job-name",
        "parquet-job",
    )
    assert done.returncode == 0, done.stderr
    model_path = done.stdout.split("Model: ")[1].split()[0]
    from lodgepole import LinearModel

    model_path = str(Path(model_path).expanduser())
    assert LinearModel.load(model_path).feature_names == tuple(NAMES)
    pq.write_table(
        pa.Table.from_pandas(frame[["c", "b", "a"]]), tmp_path / "score.parquet"
    )
    done = cli(
        "predict",
        model_path,
        str(tmp_path / "score.parquet"),
        "--output",
        str(tmp_path / "out"),
    )
    assert done.returncode == 0, done.stderr
    assert len(
        (tmp_path / "out" / "score.parquet.out").read_text().splitlines()
    ) == len(frame)
    pq.write_table(pa.Table.from_pandas(frame[["a"]]), tmp_path / "bad.parquet")
    done = cli(
        "predict",
        model_path,
        str(tmp_path / "bad.parquet"),
        "--output",
        str(tmp_path / "o"),
    )
    assert done.returncode == 2
    assert "['b', 'c']" in done.stderr and "Traceback" not in done.stderr
    cli("jobs", "delete", "parquet-job")
