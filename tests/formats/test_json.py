from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lodgepole
from lodgepole.exceptions import DataFormatError
from lodgepole.formats.json import (
    JSON,
    JSONLINES,
    decode_json_instances,
    decode_jsonlines_instances,
    encode_predictions_json,
    encode_predictions_jsonlines,
)

finite_float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


def body(*instances: object) -> bytes:
    return json.dumps({"instances": list(instances)}).encode()


def lines(*instances: object) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in instances)


def test_content_types() -> None:
    assert JSON == "application/json"
    assert JSONLINES == "application/jsonlines"


# --- encoding: exact bytes (SPEC §6.2) ---------------------------------------


def test_binary_json_matches_real_endpoint_bytes() -> None:
    out = encode_predictions_json(
        np.array([0.9999716281890869], dtype=np.float32), np.array([1.0], np.float32)
    )
    assert (
        out
        == b'{"predictions": [{"score": 0.9999716281890869, "predicted_label": 1.0}]}'
    )


def test_binary_json_prints_float32_values_as_shortest_double() -> None:
    out = encode_predictions_json(np.float32([0.73, 0.25]), np.float32([1, 0]))
    assert out == (
        b'{"predictions": [{"score": 0.7300000190734863, "predicted_label": 1.0}, '
        b'{"score": 0.25, "predicted_label": 0.0}]}'
    )


def test_float64_scores_are_rounded_to_float32_first() -> None:
    out = encode_predictions_json(np.array([0.1]), np.array([0.0]))
    assert (
        out
        == b'{"predictions": [{"score": 0.10000000149011612, "predicted_label": 0.0}]}'
    )


def test_multiclass_json_scores_are_lists() -> None:
    score = np.float32([[0.5, 0.25, 0.125, 0.125], [0.0, 1.0, 0.0, 0.0]])
    out = encode_predictions_json(score, np.float32([0, 1]))
    assert out == (
        b'{"predictions": [{"score": [0.5, 0.25, 0.125, 0.125], '
        b'"predicted_label": 0.0}, {"score": [0.0, 1.0, 0.0, 0.0], '
        b'"predicted_label": 1.0}]}'
    )


def test_regressor_json_has_score_only() -> None:
    out = encode_predictions_json(np.float32([41.75, -3.0]), None)
    assert out == b'{"predictions": [{"score": 41.75}, {"score": -3.0}]}'


def test_jsonlines_binary_multiclass_regressor_bytes() -> None:
    assert encode_predictions_jsonlines(np.float32([0.5]), np.float32([1])) == (
        b'{"score": 0.5, "predicted_label": 1.0}\n'
    )
    assert encode_predictions_jsonlines(
        np.float32([[0.25, 0.75], [1, 0]]), np.float32([1, 0])
    ) == (
        b'{"score": [0.25, 0.75], "predicted_label": 1.0}\n'
        b'{"score": [1.0, 0.0], "predicted_label": 0.0}\n'
    )
    assert encode_predictions_jsonlines(np.float32([41.5, 2]), None) == (
        b'{"score": 41.5}\n{"score": 2.0}\n'
    )


def test_empty_predictions() -> None:
    assert encode_predictions_json(np.float32([]), np.float32([])) == (
        b'{"predictions": []}'
    )
    assert encode_predictions_jsonlines(np.float32([]), None) == b""


@pytest.mark.parametrize(
    "encode", [encode_predictions_json, encode_predictions_jsonlines]
)
def test_encode_rejects_non_finite_and_shape_mismatch(encode) -> None:
    with pytest.raises(DataFormatError, match="NaN or inf"):
        encode(np.float32([np.nan]), np.float32([1]))
    with pytest.raises(DataFormatError, match=r"predicted_label has shape \(3,\)"):
        encode(np.float32([0.5, 0.5]), np.float32([1, 0, 1]))


@given(
    hnp.arrays(np.float32, st.integers(0, 8), elements=finite_float32),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_encoded_numbers_round_trip_to_the_same_float32(score, with_labels) -> None:
    labels = (score > 0).astype(np.float32) if with_labels else None
    decoded = json.loads(encode_predictions_json(score, labels))["predictions"]
    assert np.array_equal(np.float32([p["score"] for p in decoded]), score)
    per_line = encode_predictions_jsonlines(score, labels).splitlines()
    assert [json.loads(line) for line in per_line] == decoded
    if with_labels:
        assert np.array_equal(
            np.float32([p["predicted_label"] for p in decoded]), labels
        )
    else:
        assert all(list(p) == ["score"] for p in decoded)


# --- decoding: every instance form (SPEC §6.1) --------------------------------

DENSE_FORMS = [
    {"features": [0.5, 3.0, 7.25, 1.0]},
    {"data": {"features": {"values": [0.5, 3.0, 7.25, 1.0]}}},
    [0.5, 3.0, 7.25, 1.0],
    {"features": [0.5, 3, 7.25, 1], "configuration": {"k": 1}},
    {"data": {"features": {"values": [0.5, 3.0, 7.25, 1.0]}}, "configuration": {}},
]
SPARSE = {"data": {"features": {"keys": [3, 1], "shape": [4], "values": [1.0, 3.0]}}}


@pytest.mark.parametrize("form", DENSE_FORMS)
def test_dense_forms(form) -> None:
    for decoded in (
        decode_json_instances(body(form, form)),
        decode_jsonlines_instances(lines(form, form)),
    ):
        assert isinstance(decoded, np.ndarray)
        assert decoded.dtype == np.float32
        assert decoded.tolist() == [[0.5, 3.0, 7.25, 1.0]] * 2


def test_sparse_form_gives_csr_with_sorted_keys() -> None:
    decoded = decode_json_instances(body(SPARSE), feature_dim=4)
    assert isinstance(decoded, sp.csr_matrix)
    assert decoded.dtype == np.float32
    assert decoded.indices.tolist() == [1, 3]
    assert decoded.toarray().tolist() == [[0.0, 3.0, 0.0, 1.0]]


def test_mixing_dense_and_sparse_gives_csr() -> None:
    for decoded in (
        decode_json_instances(body([0, 2, 0, 5], SPARSE)),
        decode_jsonlines_instances(lines([0, 2, 0, 5], SPARSE)),
    ):
        assert isinstance(decoded, sp.csr_matrix)
        assert decoded.toarray().tolist() == [[0, 2, 0, 5], [0, 3, 0, 1]]


def test_sparse_with_no_keys_is_an_empty_row() -> None:
    empty = {"data": {"features": {"keys": [], "shape": [3], "values": []}}}
    assert decode_json_instances(body(empty)).toarray().tolist() == [[0, 0, 0]]


def test_jsonlines_accepts_crlf_blank_lines_and_missing_final_newline() -> None:
    data = b'[1, 2]\r\n\r\n{"features": [3, 4]}\r\n  \n[5, 6]'
    assert decode_jsonlines_instances(data).tolist() == [[1, 2], [3, 4], [5, 6]]


def test_str_bodies_are_accepted() -> None:
    assert decode_json_instances('{"instances": [[1]]}').tolist() == [[1.0]]
    assert decode_jsonlines_instances("[1]\n").tolist() == [[1.0]]


def test_integers_and_extreme_float32_values_are_kept() -> None:
    row = [0, -0.0, 3.4028234663852886e38, 1e-45, 16777217]
    decoded = decode_json_instances(body(row))
    assert decoded.tolist() == [np.float32(row).tolist()]


@st.composite
def matrices(draw) -> np.ndarray:
    rows, cols = draw(st.integers(1, 10)), draw(st.integers(1, 6))
    return draw(hnp.arrays(np.float32, (rows, cols), elements=finite_float32))


def as_instance(row: np.ndarray, form: int) -> object:
    values = row.astype(np.float64).tolist()
    if form == 0:
        return values
    if form == 1:
        return {"features": values}
    if form == 2:
        return {"data": {"features": {"values": values}}}
    keys = np.flatnonzero(row).tolist()[::-1]
    sparse_values = [values[k] for k in keys]
    return {
        "data": {
            "features": {"keys": keys, "shape": [len(row)], "values": sparse_values}
        }
    }


@given(matrices(), st.data())
@settings(max_examples=80, deadline=None)
def test_round_trip_through_every_form(matrix, data) -> None:
    forms = data.draw(st.lists(st.integers(0, 3), min_size=len(matrix)))[: len(matrix)]
    forms += [0] * (len(matrix) - len(forms))
    instances = [as_instance(row, f) for row, f in zip(matrix, forms, strict=True)]
    for decoded in (
        decode_json_instances(body(*instances), feature_dim=matrix.shape[1]),
        decode_jsonlines_instances(lines(*instances)),
    ):
        assert sp.issparse(decoded) == (3 in forms)
        dense = decoded.toarray() if sp.issparse(decoded) else decoded
        assert dense.dtype == np.float32
        assert np.array_equal(dense, matrix)


def test_decoded_requests_feed_a_trained_model() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    model = lodgepole.train(
        {"predictor_type": "binary_classifier", "feature_dim": 3, "epochs": 1}, (X, y)
    ).model
    decoded = decode_json_instances(body(*X.astype(float).tolist()), feature_dim=3)
    prediction = model.predict(decoded)
    out = json.loads(
        encode_predictions_json(prediction.score, prediction.predicted_label)
    )
    assert len(out["predictions"]) == 40
    assert set(out["predictions"][0]) == {"score", "predicted_label"}


def test_thousand_row_request_is_dense_and_exact() -> None:
    matrix = np.random.default_rng(1).random((1000, 54)).astype(np.float32)
    decoded = decode_json_instances(
        body(*({"features": r} for r in matrix.astype(float).tolist())), feature_dim=54
    )
    assert np.array_equal(decoded, matrix)


# --- decoding errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b'{"instances": [[1, 2]', r"'req': the body is not valid JSON"),
        (b"\xff\xfe", r"'req': the body is not valid JSON"),
        (b'{"rows": [[1, 2]]}', r"'req': missing \"instances\""),
        (b"[[1, 2]]", r"'req': missing \"instances\""),
        (b'{"instances": {"a": 1}}', r'"instances" is a JSON object; expected a list'),
        (b'{"instances": []}', r"'req': the request holds no instances"),
        (
            b'{"instances": [[1, 2], [1, 2, 3]]}',
            r"instance 1: has 3 features; expected feature_dim=2",
        ),
        (
            b'{"instances": [[1, 2], [1, "x"]]}',
            r"instance 1: \"features\"\[1\] is 'x'; expected a number",
        ),
        (
            b'{"instances": [[1, true]]}',
            r"instance 0: \"features\"\[1\] is True; expected a number",
        ),
        (
            b'{"instances": [[1, null]]}',
            r"\"features\"\[1\] is None; expected a number",
        ),
        (
            b'{"instances": [[1, [2]]]}',
            r"\"features\"\[1\] is \[2\]; expected a number",
        ),
        (
            b'{"instances": [[1, 2], [NaN, 2]]}',
            r"instance 1: \"features\"\[0\] is nan, which is not a finite",
        ),
        (
            b'{"instances": [[1, -Infinity]]}',
            r"\"features\"\[1\] is -inf, which is not a finite",
        ),
        (
            b'{"instances": [[1, 1e39]]}',
            r"\"features\"\[1\] is 1e\+39, which is not a finite float32",
        ),
        (
            b'{"instances": [[1, 1' + b"0" * 400 + b"]]}",
            r"\"features\"\[1\] is 1000.*\.\.\., which is not a finite",
        ),
        (
            b'{"instances": [{"features": [1, 2]}, 7]}',
            r"instance 1: got a JSON number; expected an object or a list",
        ),
        (
            b'{"instances": [{"features": "1,2"}]}',
            r"instance 0: \"features\" is a JSON string; expected a list",
        ),
        (
            b'{"instances": [{"configuration": {}}]}',
            r"instance 0: expected \{\"features\".*got keys \['configuration'\]",
        ),
        (
            b'{"instances": [{"data": {"features": {"values": 3}}}]}',
            r"\"values\" is a JSON number; expected a list",
        ),
        (
            b'{"instances": [{"data": {"features": {"values": [1, "2"]}}}]}',
            r"\"values\"\[1\] is '2'; expected a number",
        ),
    ],
)
def test_json_errors(data: bytes, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        decode_json_instances(data, feature_dim=2, source="req")


def sparse(keys: object, shape: object, values: object) -> dict:
    return {"data": {"features": {"keys": keys, "shape": shape, "values": values}}}


@pytest.mark.parametrize(
    ("instance", "match"),
    [
        (
            sparse([0, 4], [4], [1, 2]),
            r"key 4 is out of range for shape \[4\]; expected keys below 4",
        ),
        (sparse([0, 1], [4], [1]), r"\"keys\" has 2 entries but \"values\" has 1"),
        (
            sparse([2, 0, 2], [4], [1, 2, 3]),
            r"key 2 appears more than once; expected distinct keys",
        ),
        (
            sparse([-1], [4], [1]),
            r"\"keys\"\[0\] is -1; expected a non-negative integer",
        ),
        (
            sparse([1.0], [4], [1]),
            r"\"keys\"\[0\] is 1.0; expected a non-negative integer",
        ),
        (sparse([True], [4], [1]), r"\"keys\"\[0\] is True; expected a non-negative"),
        (sparse(3, [4], [1]), r"\"keys\" is a JSON number; expected a list"),
        (
            sparse([1], 4, [1]),
            r"\"shape\" is 4; expected a one-element list \[feature_dim\]",
        ),
        (sparse([1], [4, 1], [1]), r"\"shape\" is \[4, 1\]; expected a one-element"),
        (
            sparse([1], [4], [float("nan")]),
            r"\"values\"\[0\] is nan, which is not a finite",
        ),
        (sparse([1], [5], [1]), r"has 5 features; expected feature_dim=4"),
    ],
)
def test_sparse_errors(instance: dict, match: str) -> None:
    with pytest.raises(DataFormatError, match=r"'req', instance 1: " + match):
        decode_json_instances(body([1, 2, 3, 4], instance), feature_dim=4, source="req")


def test_width_is_checked_against_the_first_instance_without_feature_dim() -> None:
    with pytest.raises(
        DataFormatError, match=r"instance 2: has 2 features; expected 3 like instance 0"
    ):
        decode_json_instances(body([1, 2, 3], [4, 5, 6], [7, 8]))


def test_jsonlines_errors_name_line_and_instance() -> None:
    with pytest.raises(
        DataFormatError,
        match=r"'req', line 3 \(instance 1\): the line is not valid JSON",
    ):
        decode_jsonlines_instances(b"[1, 2]\n\n{oops\n", source="req")
    with pytest.raises(
        DataFormatError,
        match=r"'req', line 4 \(instance 2\): has 1 features; expected feat",
    ):
        decode_jsonlines_instances(
            b"[1, 2]\n[3, 4]\n\n[5]\n", feature_dim=2, source="req"
        )
    with pytest.raises(
        DataFormatError, match=r"line 2 \(instance 1\): \"features\"\[0\] is nan"
    ):
        decode_jsonlines_instances(b'[1]\n{"features": [NaN]}\n', source="req")
    with pytest.raises(
        DataFormatError, match=r"line 1 \(instance 0\): got a JSON string"
    ):
        decode_jsonlines_instances(b'"1,2"\n', source="req")
    with pytest.raises(DataFormatError, match=r"'req': the request holds no instances"):
        decode_jsonlines_instances(b"\n \n", source="req")


def test_unknown_instance_keys_are_quoted_briefly() -> None:
    instance = {f"key-{i:03d}-" + "x" * 1000: 1 for i in range(200)}
    body = json.dumps({"instances": [instance]}).encode()
    with pytest.raises(DataFormatError, match=r"got keys \['key-000-x+\.\.\.'") as err:
        decode_json_instances(body)
    assert "195 more" in str(err.value)
    assert len(str(err.value)) < 500
