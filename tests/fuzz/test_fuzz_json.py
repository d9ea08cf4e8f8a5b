"""Fuzzing the JSON and JSON Lines inference decoders.

Inputs: arbitrary bytes, arbitrary JSON documents, instances in the SPEC
forms (dense shorthand, dense, sparse, bare list) with random keys, shapes
and values, and mutated bodies. A result must be a finite float32 matrix
(dense or CSR) with one row per instance and ``feature_dim`` columns when
given; anything else must be rejected with DataFormatError.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from lodgepole.exceptions import DataFormatError
from lodgepole.formats.json import decode_json_instances, decode_jsonlines_instances
from tests.fuzz._support import decode_or_reject, fuzz_settings, mutated

_feature_dim = st.none() | st.integers(0, 5)


def _check_matrix(result: object, rows: int | None, feature_dim: int | None) -> None:
    if isinstance(result, DataFormatError):
        return
    assert result is not None
    if sp.issparse(result):
        assert isinstance(result, sp.csr_matrix)
        result.check_format(full_check=True)
        values = result.data
    else:
        assert isinstance(result, np.ndarray) and result.ndim == 2
        values = result
    assert result.dtype == np.float32
    assert np.isfinite(values).all()
    assert result.shape[0] >= 1
    if rows is not None:
        assert result.shape[0] == rows
    if feature_dim is not None:
        assert result.shape[1] == feature_dim


def _check_json(data: bytes | str, feature_dim: int | None) -> None:
    result = decode_or_reject(
        lambda: decode_json_instances(data, feature_dim=feature_dim)
    )
    rows = None
    if not isinstance(result, DataFormatError):
        rows = len(json.loads(data, parse_constant=float)["instances"])
    _check_matrix(result, rows, feature_dim)


def _check_jsonlines(data: bytes | str, feature_dim: int | None) -> None:
    result = decode_or_reject(
        lambda: decode_jsonlines_instances(data, feature_dim=feature_dim)
    )
    raw = data.encode("utf-8") if isinstance(data, str) else data
    rows = sum(1 for line in raw.splitlines() if line.strip())
    _check_matrix(result, rows, feature_dim)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["features", "values", "keys", "shape", "data"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["features", "data", "values", "keys", "shape", "x"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)

_number = st.one_of(
    st.integers(-10, 10),
    st.integers(),
    st.floats(),
    st.floats(width=32),
    st.sampled_from([3.5e38, 3.4028235e38, 1e-46, 2**63, 2**64, -(2**63) - 1]),
)
_odd = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.just([1]))
_key = st.one_of(
    st.integers(0, 6),
    st.sampled_from([2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, -1]),
    st.integers(),
    _odd,
)


@st.composite
def _instance(draw: st.DrawFn) -> Any:
    """One instance in a SPEC form, with random (often valid) contents."""
    values = draw(
        st.lists(_number | _odd if draw(st.booleans()) else _number, max_size=5)
    )
    form = draw(st.sampled_from(["shorthand", "dense", "sparse", "bare", "odd"]))
    if form == "shorthand":
        return {"features": values}
    if form == "dense":
        return {"data": {"features": {"values": values}}}
    if form == "bare":
        return values
    if form == "odd":
        return draw(_json_values)
    keys = draw(st.lists(_key, min_size=len(values), max_size=len(values)))
    if draw(st.booleans()):
        keys = draw(st.lists(_key, max_size=5))
    shape = draw(st.one_of(st.lists(_key, min_size=1, max_size=1), st.lists(_key)))
    features: dict[str, Any] = {"keys": keys, "shape": shape, "values": values}
    for name in draw(st.sets(st.sampled_from(["keys", "shape"]), max_size=1)):
        del features[name]
    return {"data": {"features": features}, "configuration": {"k": 1}}


_instances = st.lists(_instance(), min_size=0, max_size=4)


@fuzz_settings()
@given(data=st.binary(max_size=200), feature_dim=_feature_dim)
def test_arbitrary_bytes(data: bytes, feature_dim: int | None) -> None:
    _check_json(data, feature_dim)
    _check_jsonlines(data, feature_dim)


@fuzz_settings()
@given(document=_json_values, feature_dim=_feature_dim)
def test_arbitrary_documents(document: Any, feature_dim: int | None) -> None:
    _check_json(json.dumps({"instances": document}), feature_dim)
    _check_json(json.dumps(document), feature_dim)
    _check_jsonlines(json.dumps(document), feature_dim)


@fuzz_settings(scale=3)
@given(instances=_instances, feature_dim=_feature_dim)
def test_spec_form_instances(instances: list[Any], feature_dim: int | None) -> None:
    _check_json(json.dumps({"instances": instances}).encode(), feature_dim)
    lines = "\r\n".join(json.dumps(instance) for instance in instances)
    _check_jsonlines(lines, feature_dim)


@fuzz_settings(scale=2)
@given(
    data=mutated(_instances.map(lambda i: json.dumps({"instances": i}).encode())),
    feature_dim=_feature_dim,
)
def test_mutated_json(data: bytes, feature_dim: int | None) -> None:
    _check_json(data, feature_dim)


@fuzz_settings(scale=2)
@given(
    data=mutated(
        _instances.map(lambda i: "\n".join(json.dumps(x) for x in i).encode())
    ),
    feature_dim=_feature_dim,
)
def test_mutated_jsonlines(data: bytes, feature_dim: int | None) -> None:
    _check_jsonlines(data, feature_dim)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_rejected(depth: int) -> None:
    """A body nested deeper than any parser's stack is bad input, not a crash."""
    body = b'{"instances": [' + b"[" * depth + b"]" * depth + b"]}"
    with pytest.raises(DataFormatError, match=r"nested too deeply|instance"):
        decode_json_instances(body)
    with pytest.raises(DataFormatError, match=r"nested too deeply|instance"):
        decode_jsonlines_instances(b"[" * depth + b"]" * depth)


def _sparse_body(keys: list[Any], shape: list[Any], values: list[Any]) -> bytes:
    features = {"keys": keys, "shape": shape, "values": values}
    return json.dumps({"instances": [{"data": {"features": features}}]}).encode()


@pytest.mark.parametrize(
    ("keys", "shape", "message"),
    [
        ([2**63], [4], r"key 9223372036854775808 is out of range for shape \[4\]"),
        ([2**63], [2**63 + 1], r"\"shape\" is \[9223372036854775809\]; expected a"),
        ([0], [2**31 + 1], r"feature_dim at most 2147483648 \(2\*\*31\)"),
        ([2**40], [2**41], r"\"shape\" is \[2199023255552\]"),
    ],
)
def test_huge_sparse_keys_and_shapes_are_rejected(
    keys: list[int], shape: list[int], message: str
) -> None:
    """Found by fuzzing: these raised OverflowError from numpy."""
    body = _sparse_body(keys, shape, [1.0])
    with pytest.raises(DataFormatError, match=message):
        decode_json_instances(body)
    with pytest.raises(DataFormatError, match=message):
        decode_jsonlines_instances(json.dumps(json.loads(body)["instances"][0]))


def test_widest_sparse_instance_is_accepted() -> None:
    X = decode_json_instances(_sparse_body([2**31 - 1], [2**31], [2.5]))
    assert X.shape == (1, 2**31)
    assert X.indices.tolist() == [2**31 - 1] and X.data.tolist() == [2.5]
