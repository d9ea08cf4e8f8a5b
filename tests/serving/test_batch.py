"""Tests for lodgepole.serving.batch and ``lodgepole predict``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import lodgepole
from lodgepole.cli import main
from lodgepole.exceptions import DataFormatError
from lodgepole.formats.csv import encode_csv
from lodgepole.formats.json import encode_predictions_jsonlines
from lodgepole.formats.recordio import encode_prediction_records, encode_records
from lodgepole.model import LinearModel
from lodgepole.serving import batch
from lodgepole.serving.batch import transform

FEATURE_DIM = 4
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"


def _rows(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, FEATURE_DIM)).astype(np.float32)


@pytest.fixture(scope="module", params=["binary_classifier", "multiclass_classifier"])
def model(request: pytest.FixtureRequest) -> LinearModel:
    X = _rows(200, seed=7)
    if request.param == "binary_classifier":
        y = (X[:, 0] > 0).astype(np.float32)
        hyperparameters = {"predictor_type": request.param, "epochs": 2}
    else:
        y = np.digitize(X[:, 0], [-0.5, 0.5]).astype(np.float32)
        hyperparameters = {"predictor_type": request.param, "num_classes": 3}
        hyperparameters["epochs"] = 2
    return lodgepole.train(hyperparameters, (X, y)).model


@pytest.fixture(scope="module")
def regressor() -> LinearModel:
    X = _rows(100, seed=3)
    y = X @ np.arange(1, FEATURE_DIM + 1, dtype=np.float32)
    return lodgepole.train({"predictor_type": "regressor", "epochs": 2}, (X, y)).model


def _jsonlines(X: np.ndarray) -> bytes:
    return b"".join(
        json.dumps({"features": [float(v) for v in row]}).encode() + b"\n" for row in X
    )


def _expected(model: LinearModel, X: np.ndarray, accept: str = JSONLINES) -> bytes:
    prediction = model.predict(X)
    encode = (
        encode_prediction_records
        if accept == RECORDIO
        else (encode_predictions_jsonlines)
    )
    return encode(prediction.score, prediction.predicted_label)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".out"))


@pytest.mark.parametrize("chunk", [1, 3, 10_000])
@pytest.mark.parametrize("accept", [JSONLINES, RECORDIO])
def test_csv_jsonlines_and_recordio_match_predict(model, tmp_path, chunk, accept):
    X = _rows(23)
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.csv").write_bytes(encode_csv(X[:10]))
    (inputs / "b.jsonl").write_bytes(_jsonlines(X[10:17]))
    (inputs / "c.pbr").write_bytes(encode_records(X[17:]))
    out = tmp_path / "out"
    written = transform(model, inputs, out, accept=accept, records_per_chunk=chunk)
    assert [p.name for p in written] == ["a.csv.out", "b.jsonl.out", "c.pbr.out"]
    assert written[0].read_bytes() == _expected(model, X[:10], accept)
    assert written[1].read_bytes() == _expected(model, X[10:17], accept)
    assert written[2].read_bytes() == _expected(model, X[17:], accept)
    assert _leftovers(out) == []


def test_order_kept_across_chunks_and_blocks(regressor, tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "BLOCK_SIZE", 7)  # lines straddle every block
    X = _rows(50, seed=5)
    body = encode_csv(X).replace(b"\n", b"\r\n", 5)
    cut = body.index(b"\n", 60) + 1
    body = body[:cut] + b"\n\n" + body[cut:]  # blank lines and CRLF are fine
    (tmp_path / "rows.csv").write_bytes(body)
    (written,) = transform(
        regressor, tmp_path / "rows.csv", tmp_path, records_per_chunk=4
    )
    lines = written.read_text().splitlines()
    expected = regressor.predict(X).score
    assert len(lines) == 50
    got = np.array([json.loads(line)["score"] for line in lines], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    assert "predicted_label" not in lines[0]


def test_csv_label_column_and_explicit_content_type(model, tmp_path):
    X = _rows(6)
    labelled = encode_csv(X, np.zeros(6, dtype=np.float32))
    (tmp_path / "data").write_bytes(labelled)
    (written,) = transform(
        model,
        [tmp_path / "data"],
        tmp_path / "out",
        content_type="text/csv; charset=utf-8",
        has_labels=True,
        records_per_chunk=4,
    )
    assert written.name == "data.out"
    assert written.read_bytes() == _expected(model, X)


def test_sparse_recordio_and_sparse_jsonlines(model, tmp_path):
    X = sp.random(9, FEATURE_DIM, density=0.4, format="csr", random_state=2)
    X = X.astype(np.float32)
    (tmp_path / "s.recordio").write_bytes(encode_records(X))
    lines = [
        json.dumps(
            {
                "data": {
                    "features": {
                        "keys": row.indices.tolist(),
                        "shape": [FEATURE_DIM],
                        "values": row.data.tolist(),
                    }
                }
            }
        )
        for row in X
    ]
    (tmp_path / "s.jsonlines").write_text("\n".join(lines))  # no final newline
    written = transform(model, tmp_path, tmp_path / "out", records_per_chunk=2)
    expected = _expected(model, X.toarray())
    assert [p.read_bytes() for p in written] == [expected, expected]


@pytest.mark.parametrize(
    ("name", "body", "where"),
    [
        ("bad.csv", b"1,2,3,4\n1,2,3,4\n\n1,2,x,4\n", "line 4 (row 2"),
        ("bad.csv", b"1,2,3,4\n1,2,3\n", "line 2 (row 1"),
        ("bad.jsonl", b"[1,2,3,4]\n[1,2,3,4]\n\n{oops\n", "line 4 (instance 2)"),
    ],
)
def test_bad_text_names_file_and_line(model, tmp_path, name, body, where):
    (tmp_path / "good.csv").write_bytes(encode_csv(_rows(3)))
    (tmp_path / name).write_bytes(body)
    out = tmp_path / "out"
    with pytest.raises(DataFormatError) as caught:
        transform(
            model, [tmp_path / "good.csv", tmp_path / name], out, records_per_chunk=1
        )
    message = str(caught.value)
    assert name in message
    assert where in message
    assert sorted(p.name for p in out.iterdir()) == ["good.csv.out"]


def test_bad_recordio_names_file_and_record(model, tmp_path):
    good = encode_records(_rows(3))
    (tmp_path / "bad.pbr").write_bytes(good + b"\x00\x01\x02\x03junk")
    with pytest.raises(DataFormatError, match=r"bad\.pbr.*record 3"):
        transform(model, tmp_path / "bad.pbr", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_wrong_width_and_unsupported_types(model, tmp_path):
    (tmp_path / "w.csv").write_text("1,2\n")
    with pytest.raises(DataFormatError, match=r"w\.csv"):
        transform(model, tmp_path / "w.csv", tmp_path / "out")
    with pytest.raises(DataFormatError, match="accept"):
        transform(model, tmp_path / "w.csv", tmp_path / "out", accept="text/csv")
    with pytest.raises(DataFormatError, match="content type"):
        transform(model, tmp_path / "w.csv", tmp_path / "out", content_type="x/y")
    (tmp_path / "d.libsvm").write_text("0 1:1\n")
    with pytest.raises(DataFormatError, match=r"d\.libsvm"):
        transform(model, tmp_path / "d.libsvm", tmp_path / "out")
    with pytest.raises(ValueError, match="records_per_chunk"):
        transform(model, tmp_path / "w.csv", tmp_path / "out", records_per_chunk=0)
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_output_replaced_atomically(regressor, tmp_path):
    (tmp_path / "a.csv").write_bytes(encode_csv(_rows(2)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv.out").write_text("old\n")
    transform(regressor, tmp_path / "a.csv", out)
    assert (out / "a.csv.out").read_bytes() == _expected(regressor, _rows(2))
    (tmp_path / "a.csv").write_text("1,2,3,4\nnope\n")
    with pytest.raises(DataFormatError):
        transform(regressor, tmp_path / "a.csv", out)
    assert (out / "a.csv.out").read_bytes() == _expected(regressor, _rows(2))
    assert _leftovers(out) == []


def test_cli_predict(regressor, tmp_path, capsys):
    regressor.save(tmp_path / "model")
    X = _rows(5)
    (tmp_path / "a.csv").write_bytes(encode_csv(X[:2]))
    (tmp_path / "b.jsonl").write_bytes(_jsonlines(X[2:]))
    code = main(
        [
            "predict",
            str(tmp_path / "model"),
            str(tmp_path / "a.csv"),
            str(tmp_path / "b.jsonl"),
            "--output",
            str(tmp_path / "out"),
            "--accept",
            RECORDIO,
            "--records-per-chunk",
            "2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "Scored 2 file(s)" in out
    assert (tmp_path / "out" / "a.csv.out").read_bytes() == _expected(
        regressor, X[:2], RECORDIO
    )
    assert (tmp_path / "out" / "b.jsonl.out").read_bytes() == _expected(
        regressor, X[2:], RECORDIO
    )


def test_cli_predict_errors(regressor, tmp_path, capsys):
    regressor.save(tmp_path / "model")
    (tmp_path / "bad.csv").write_text("0,1,2,3,4\n1,2\n")
    args = ["predict", str(tmp_path / "model"), str(tmp_path / "bad.csv")]
    assert main([*args, "--output", str(tmp_path / "out"), "--has-labels"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "line 2" in err
    assert main(["predict", str(tmp_path / "nothing"), "x", "--output", "o"]) == 2
    assert "no model at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--output", "o", "--records-per-chunk", "0"])


def test_progress_reports_bytes_and_records_over_all_shards(model, tmp_path):
    X = _rows(23)
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.csv").write_bytes(encode_csv(X[:10]))
    (inputs / "b.pbr").write_bytes(encode_records(X[10:]))
    size = sum(p.stat().st_size for p in inputs.iterdir())
    seen: list[tuple[int, int]] = []
    transform(
        model,
        inputs,
        tmp_path / "out",
        records_per_chunk=4,
        progress=lambda done, rows: seen.append((done, rows)),
    )
    assert [rows for _, rows in seen] == [4, 8, 10, 14, 18, 22, 23]
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == size
