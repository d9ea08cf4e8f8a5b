"""Tests for ``encode_predictions_csv`` (text/csv responses) and its checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.csv import encode_predictions_csv
from lodgepole.formats.json import encode_predictions_json


def _reference(score: np.ndarray, predicted_label: np.ndarray | None) -> bytes:
    """The encoder as serving/app.py had it, to pin the response bytes."""
    scores = np.asarray(score, dtype=np.float32).astype(np.float64)
    rows = scores.reshape(scores.shape[0], -1).tolist()
    if predicted_label is None:
        labels: list[list[float]] = [[] for _ in rows]
    else:
        array = np.asarray(predicted_label, dtype=np.float32).astype(np.float64)
        labels = [[label] for label in array.tolist()]
    lines = [
        ",".join(repr(v) for v in label + row) + "\n"
        for label, row in zip(labels, rows, strict=True)
    ]
    return "".join(lines).encode("ascii")


_finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 6), st.sampled_from([0, 1, 3])),
        elements=_finite32,
    ),
    st.booleans(),
)
def test_bytes_match_the_former_serving_encoder_and_json_numbers(
    table: np.ndarray, with_labels: bool
) -> None:
    score = table[:, 0] if table.shape[1] == 1 else table
    if table.shape[1] == 0:
        score = np.zeros(table.shape[0], dtype=np.float32)
    labels = np.arange(table.shape[0], dtype=np.float32) if with_labels else None
    body = encode_predictions_csv(score, labels)
    assert body == _reference(score, labels)

    objects = json.loads(encode_predictions_json(score, labels))["predictions"]
    for line, obj in zip(body.decode().splitlines(), objects, strict=True):
        cells = [float(cell) for cell in line.split(",")]
        expected = np.ravel(obj["score"]).tolist()
        if with_labels:
            expected = [obj["predicted_label"], *expected]
        assert cells == expected


def test_multiclass_and_extreme_values_print_as_shortest_doubles() -> None:
    score = np.array([[-0.0, 1e-45, 3.4028235e38]], dtype=np.float32)
    body = encode_predictions_csv(score, np.array([2]))
    assert body == b"2.0,-0.0,1.401298464324817e-45,3.4028234663852886e+38\n"


def test_no_rows_give_an_empty_body() -> None:
    assert encode_predictions_csv(np.zeros(0, dtype=np.float32), None) == b""
    assert encode_predictions_csv(np.zeros((0, 3)), np.zeros(0)) == b""


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(bad: float) -> None:
    with pytest.raises(DataFormatError, match="NaN or inf; expected finite"):
        encode_predictions_csv(np.array([0.5, bad]), None)
    with pytest.raises(DataFormatError, match="NaN or inf; expected finite"):
        encode_predictions_csv(np.array([0.5]), np.array([bad]))


@pytest.mark.parametrize(
    ("score", "labels", "match"),
    [
        ([0.5, 0.5], [1.0, 0.0, 1.0], r"predicted_label has shape \(3,\); .*\(2,\)"),
        ([[0.5, 0.5]], [[1.0]], r"predicted_label has shape \(1, 1\)"),
        (0.5, None, r"score has shape \(\); expected \(n,\) or \(n, K\)"),
        (np.zeros((2, 2, 2)), None, r"score has shape \(2, 2, 2\)"),
    ],
)
def test_shape_errors_are_shared_with_the_json_encoders(score, labels, match) -> None:
    with pytest.raises(DataFormatError, match=match):
        encode_predictions_csv(np.asarray(score), labels)
    with pytest.raises(DataFormatError, match=match):
        encode_predictions_json(np.asarray(score), labels)
