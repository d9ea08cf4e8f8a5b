"""The fast JSON paths give exactly what the plain standard-library paths give.

Responses are built as text rather than dumped from dicts, and requests are
parsed with orjson when it is installed; both are checked here against the
obvious reference implementation on generated inputs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lodgepole.exceptions import DataFormatError
from lodgepole.formats import json as codec

finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


def _reference(scores: np.ndarray, labels: np.ndarray | None) -> list[dict]:
    wide = scores.astype(np.float32).astype(np.float64).tolist()
    if labels is None:
        return [{"score": s} for s in wide]
    widened = labels.astype(np.float32).astype(np.float64).tolist()
    return [
        {"score": s, "predicted_label": p} for s, p in zip(wide, widened, strict=True)
    ]


@settings(max_examples=200, deadline=None)
@given(
    scores=st.one_of(
        hnp.arrays(np.float32, st.integers(0, 20), elements=finite32),
        hnp.arrays(
            np.float32,
            st.tuples(st.integers(0, 10), st.integers(0, 5)),
            elements=finite32,
        ),
    ),
    with_labels=st.booleans(),
)
def test_response_text_equals_json_dumps(scores, with_labels):
    labels = np.arange(scores.shape[0], dtype=np.float32) % 3 if with_labels else None
    objects = _reference(scores, labels)
    assert (
        codec.encode_predictions_json(scores, labels)
        == json.dumps({"predictions": objects}).encode()
    )
    assert (
        codec.encode_predictions_jsonlines(scores, labels)
        == "".join(json.dumps(o) + "\n" for o in objects).encode()
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_predictions_are_refused(bad):
    with pytest.raises(DataFormatError, match="NaN or inf"):
        codec.encode_predictions_json(np.array([0.5, bad]), None)
    with pytest.raises(DataFormatError, match="NaN or inf"):
        codec.encode_predictions_jsonlines(np.array([0.5]), np.array([bad]))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


def _outcome(function, body):
    try:
        result = function(body)
    except DataFormatError as err:
        return ("error", str(err))
    dense = result.toarray() if hasattr(result, "toarray") else result
    return ("ok", type(result).__name__, dense.dtype.name, dense.tolist())


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        json_values.map(lambda v: json.dumps({"instances": v}).encode()),
        st.lists(
            st.lists(st.floats(width=32) | st.integers(-(2**70), 2**70), max_size=4),
            max_size=4,
        ).map(lambda rows: json.dumps({"instances": rows}).encode()),
        st.binary(max_size=40),
    )
)
# Just below int64: orjson parses it as a float, the stdlib as an int.
@example(body=b'{"instances": -9223372036854775809}')
@example(body=b'{"instances": [{"features": 18446744073709551616}]}')
def test_orjson_and_stdlib_parsing_agree(body, monkeypatch_module):
    pytest.importorskip("orjson")
    fast = _outcome(codec.decode_json_instances, body)
    monkeypatch_module.setattr(codec, "_orjson", None)
    try:
        slow = _outcome(codec.decode_json_instances, body)
    finally:
        monkeypatch_module.undo()
    assert fast == slow


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


cells = st.one_of(
    st.from_regex(r"-?[0-9]{1,17}(\.[0-9]{1,17})?", fullmatch=True),
    st.sampled_from(["1e3", "nan", "inf", " 1", "+2", ".5", "5.", "", "x", "1e39"]),
    st.floats(width=32).map(repr),
)


@settings(max_examples=300, deadline=None)
@given(
    row=st.lists(cells, min_size=1, max_size=6),
    has_labels=st.booleans(),
    width=st.none() | st.integers(1, 6),
    ending=st.sampled_from(["", "\n", "\r\n", "\n\n"]),
)
def test_one_line_csv_fast_path_agrees_with_the_full_parser(
    row, has_labels, width, ending
):
    from lodgepole.formats import csv

    body = (",".join(row) + ending).encode()

    def decode(fast: bool):
        limit = csv._ONE_LINE_LIMIT if fast else -1
        original = csv._ONE_LINE_LIMIT
        csv._ONE_LINE_LIMIT = limit
        try:
            features, labels = csv.decode_csv(
                body, has_labels=has_labels, feature_dim=width
            )
        except DataFormatError as err:
            return ("error", str(err))
        finally:
            csv._ONE_LINE_LIMIT = original
        return (
            "ok",
            features.dtype.name,
            features.shape,
            features.tobytes(),
            None if labels is None else labels.tobytes(),
        )

    assert decode(True) == decode(False)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 50), elements=st.floats(width=32)))
def test_float_texts_equal_repr(values):
    values = values[np.isfinite(values)]
    assert codec._float_texts(values) == [repr(v) for v in values.tolist()]


def test_the_orjson_printer_is_used_when_it_agrees():
    pytest.importorskip("orjson")
    assert codec._float_texts is codec._float_texts_orjson
