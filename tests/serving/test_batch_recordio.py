"""Batch transform of RecordIO shards: streamed, chunked, bounded in memory."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.json import encode_predictions_jsonlines
from lodgepole.formats.recordio import (
    decode_records,
    encode_prediction_records,
    encode_records,
    read_frames,
    write_frames,
)
from lodgepole.model import LinearModel
from lodgepole.serving.batch import transform

FEATURE_DIM = 6
NUM_RECORDS = 25_000
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
MAGIC = bytes.fromhex("0a23d7ce")


def _model(feature_dim: int, num_classes: int = 3) -> LinearModel:
    rng = np.random.default_rng(0)
    return LinearModel(
        predictor_type="multiclass_classifier",
        weights=rng.normal(size=(feature_dim, num_classes)),
        bias=rng.normal(size=num_classes),
        link="softmax",
    )


@pytest.fixture(scope="module")
def model() -> LinearModel:
    return _model(FEATURE_DIM)


@pytest.fixture(scope="module")
def dense() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.normal(size=(NUM_RECORDS, FEATURE_DIM)).astype(np.float32)


def _whole_buffer_output(
    model: LinearModel, data: bytes, accept: str, chunk: int = 10_000
) -> bytes:
    """What batch transform wrote when it decoded a shard whole."""
    features, _ = decode_records(data, feature_dim=model.feature_dim)
    if accept == RECORDIO:
        encode = encode_prediction_records
    else:
        encode = encode_predictions_jsonlines
    out = []
    for start in range(0, features.shape[0], chunk):
        prediction = model.predict(features[start : start + chunk])
        out.append(encode(prediction.score, prediction.predicted_label))
    return b"".join(out)


def _frame(payload: bytes, cflag: int = 0) -> bytes:
    header = MAGIC + struct.pack("<I", cflag << 29 | len(payload))
    return header + payload + b"\0" * (-len(payload) % 4)


def _offsets(data: bytes) -> list[int]:
    """Byte offset of every frame of single-frame records."""
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        length = struct.unpack_from("<I", data, pos + 4)[0]
        pos += 8 + length + (-length % 4)
    return offsets


@pytest.mark.parametrize("accept", [JSONLINES, RECORDIO])
def test_dense_shard_output_matches_whole_buffer_path(
    model, dense, tmp_path, accept
) -> None:
    data = encode_records(dense)
    (tmp_path / "d.pbr").write_bytes(data)
    (written,) = transform(model, tmp_path / "d.pbr", tmp_path / "out", accept=accept)
    assert written.read_bytes() == _whole_buffer_output(model, data, accept)


def test_sparse_shard_output_matches_whole_buffer_path(model, dense, tmp_path) -> None:
    X = sp.csr_matrix(np.where(np.abs(dense) > 1.0, dense, 0.0))
    data = encode_records(X, np.zeros(NUM_RECORDS))  # labels are ignored
    (tmp_path / "s.pbr").write_bytes(data)
    (written,) = transform(model, tmp_path / "s.pbr", tmp_path / "out")
    assert written.read_bytes() == _whole_buffer_output(model, data, JSONLINES)


def test_multipart_records_match_whole_buffer_path(model, tmp_path) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, FEATURE_DIM)).astype(np.float32)
    X[::3, 2] = np.frombuffer(MAGIC, dtype="<f4")[0]  # payloads holding the magic
    frames = []
    for payload in read_frames(encode_records(X)):
        at = payload.find(MAGIC)
        if at < 0:
            frames.append(_frame(payload))
        else:  # split there, as the dmlc writer does
            frames += [_frame(payload[:at], 1), _frame(payload[at + 4 :], 3)]
    data = b"".join(frames)
    assert len(frames) == 40
    (tmp_path / "m.pbr").write_bytes(data)
    (written,) = transform(model, tmp_path / "m.pbr", tmp_path, records_per_chunk=4)
    assert written.read_bytes() == _whole_buffer_output(model, data, JSONLINES, 4)
    np.testing.assert_array_equal(decode_records(data)[0], X)


def _shard_with_bad_record(dense: np.ndarray, bad: bytes) -> tuple[bytes, int]:
    """The dense rows with record 17,000 replaced; also its byte offset."""
    payloads = read_frames(encode_records(dense))
    payloads[17_000] = bad
    data = write_frames(payloads)
    return data, _offsets(data)[17_000]


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (b"\xff\xff\xff", "expected a Record protobuf"),
        (
            read_frames(encode_records(np.ones((1, 7), dtype=np.float32)))[0],
            "expected 6 features like the rest, found 7",
        ),
        (
            read_frames(encode_records(np.ones((1, FEATURE_DIM))))[0],
            "expected 'float32_tensor' like record 10000, found 'float64_tensor'",
        ),
    ],
    ids=["unparsable", "width", "tensor-type"],
)
def test_bad_record_17000_is_named_within_the_whole_file(
    model, dense, tmp_path, bad, what
) -> None:
    data, offset = _shard_with_bad_record(dense, bad)
    (tmp_path / "bad.pbr").write_bytes(data)
    with pytest.raises(DataFormatError) as caught:
        transform(model, tmp_path / "bad.pbr", tmp_path / "out")
    message = str(caught.value)
    assert message.startswith(f"'{tmp_path / 'bad.pbr'}', record 17000, ")
    assert f"byte offset {offset}: " in message
    assert what in message
    assert list((tmp_path / "out").iterdir()) == []


def test_bad_frame_17000_is_named_within_the_whole_file(model, dense, tmp_path):
    data = bytearray(encode_records(dense))
    offset = _offsets(bytes(data))[17_000]
    data[offset] ^= 0xFF
    (tmp_path / "bad.pbr").write_bytes(data)
    with pytest.raises(
        DataFormatError,
        match=rf"bad\.pbr', record 17000, byte offset {offset}: expected magic",
    ):
        transform(model, tmp_path / "bad.pbr", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_truncated_and_huge_frames_are_errors(model, tmp_path) -> None:
    good = encode_records(np.ones((3, FEATURE_DIM), dtype=np.float32))
    (tmp_path / "cut.pbr").write_bytes(good[:-10])
    with pytest.raises(DataFormatError, match=r"record 2, .*truncated payload"):
        transform(model, tmp_path / "cut.pbr", tmp_path / "out")

    huge = MAGIC + struct.pack("<I", (1 << 29) - 1) + bytes(64)
    (tmp_path / "huge.pbr").write_bytes(good + huge)
    with pytest.raises(
        DataFormatError,
        match=rf"huge\.pbr', record 3, byte offset {len(good)}: expected a payload "
        r"of at most \d+ bytes, found a length of 536870911",
    ):
        transform(model, tmp_path / "huge.pbr", tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_recordio_transform_memory_stays_well_under_the_shard_size(
    tmp_path: Path,
) -> None:
    feature_dim, num_records, per_write = 500, 25_000, 2_500
    model = _model(feature_dim)
    rng = np.random.default_rng(3)
    with open(tmp_path / "big.pbr", "wb") as shard:
        for _ in range(num_records // per_write):
            rows = rng.random((per_write, feature_dim), dtype=np.float32)
            shard.write(encode_records(rows))
    size = (tmp_path / "big.pbr").stat().st_size
    assert size > 50_000_000

    tracemalloc.start()
    try:
        (written,) = transform(
            model,
            tmp_path / "big.pbr",
            tmp_path / "out",
            accept=RECORDIO,
            records_per_chunk=1_000,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 4  # measured: about 10 %
    assert len(read_frames(written.read_bytes())) == num_records
