"""``application/json`` and ``application/jsonlines`` inference codecs (SPEC §6).

A request carries one instance per row, either inside ``{"instances": [...]}``
(JSON) or one per line (JSON Lines). Each instance is one of::

    {"features": [0.5, 3.0]}                                    dense shorthand
    {"data": {"features": {"values": [0.5, 3.0]}}}              dense
    {"data": {"features": {"keys": [1], "shape": [2], "values": [3.0]}}}  sparse
    [0.5, 3.0]                                                  bare list

An optional ``"configuration"`` object is ignored. Responses hold one object
per row with ``score`` then ``predicted_label`` (absent for regressors), every
number at float32 precision printed as the shortest round-trip double.

Examples
--------
>>> decode_json_instances(b'{"instances": [{"features": [0.5, 2]}]}').tolist()
[[0.5, 2.0]]
>>> import numpy as np
>>> encode_predictions_json(np.array([0.25]), np.array([0.0]))
b'{"predictions": [{"score": 0.25, "predicted_label": 0.0}]}'
"""

from __future__ import annotations

import itertools
import json
import logging
import reprlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from lodgepole.exceptions import DataFormatError
from lodgepole.formats._predictions import _prediction_arrays

__all__ = [
    "JSON",
    "JSONLINES",
    "decode_json_instances",
    "decode_jsonlines_instances",
    "encode_predictions_json",
    "encode_predictions_jsonlines",
    "encode_predictions_top_k",
]

logger = logging.getLogger(__name__)

JSON = "application/json"
JSONLINES = "application/jsonlines"

Features = np.ndarray | sp.csr_matrix

_NUMBER_TYPES = frozenset({int, float})
# Widest sparse instance: column indices must fit int32.
_MAX_WIDTH = 2**31


class _BadInstance(Exception):
    """Internal: what is wrong with one instance; the caller adds where."""


try:  # optional accelerator, installed with lodgepole[serve]
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


def _float_texts_plain(values: np.ndarray) -> list[str]:
    return list(map(float.__repr__, values.tolist()))


def _float_texts_orjson(values: np.ndarray) -> list[str]:
    """``float.__repr__`` of each value, about 10x faster through orjson.

    orjson prints the same shortest round-trip digits; its layout matches
    Python's in [1e-4, 1e16) and at zero, where Python writes no exponent.
    Values outside that range (rare for scores) are printed with repr.
    """
    if values.size == 0:
        return []
    values = np.ascontiguousarray(values, dtype=np.float64)
    texts = (
        _orjson.dumps(values, option=_orjson.OPT_SERIALIZE_NUMPY)[1:-1]
        .decode("ascii")
        .split(",")
    )
    size = np.abs(values)
    for i in np.flatnonzero(((size < 1e-4) | (size >= 1e16)) & (values != 0)):
        texts[i] = float.__repr__(float(values[i]))
    return texts


def _pick_float_texts() -> Any:
    """The orjson printer if it agrees with repr on a probe, else the plain one."""
    if _orjson is None:
        return _float_texts_plain
    probe = np.array(
        [0.1, 0.5, 1.0, 123.456, 1e15, 9.5e15, -0.0, 0.0, 3.4e-4, 1e-4, -2.75, 7.0],
        dtype=np.float32,
    ).astype(np.float64)
    try:
        agrees = _float_texts_orjson(probe) == _float_texts_plain(probe)
    except Exception:  # any surprise from another orjson version: do without
        agrees = False
    return _float_texts_orjson if agrees else _float_texts_plain


_float_texts = _pick_float_texts()


def _loads(text: bytes | str) -> Any:
    """Parse JSON; orjson when installed (about 7x faster), else the stdlib.

    orjson accepts strictly standard JSON and then gives the same objects as
    :func:`json.loads`. Whatever it refuses (NaN and Infinity literals,
    lone surrogates, other encodings, bad syntax, nesting deeper than 1024)
    goes to :func:`json.loads`, which decides and words the error, so both
    paths accept and reject the same bodies with the same messages. One
    exception: recent orjson reads an integer beyond 64 bits as a float, so
    as a sparse key or shape it is rejected by either path but with another
    message. Nesting too deep for the stdlib's recursion limit raises
    ValueError as well.
    """
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    # NaN and Infinity parse to floats so the instance check can name them.
    try:
        return json.loads(text, parse_constant=float)
    except RecursionError:
        raise ValueError(
            "arrays or objects nested too deeply to parse; expected at most "
            "a few levels"
        ) from None


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type (orjson and the stdlib agree)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), "null")


# Shows a value in an error message like repr, but with nesting cut at 3
# levels: a deeply nested body must not exhaust the stack. `_shown` shortens.
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = _REPR.maxlong = _REPR.maxother = 1 << 30


def _shown(value: Any) -> str:
    text = _REPR.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def decode_json_instances(
    data: bytes | str, *, feature_dim: int | None = None, source: str = "<request>"
) -> Features:
    """Parse an ``application/json`` request body into a feature matrix.

    Parameters
    ----------
    data
        The body, ``{"instances": [...]}``; ``str`` is taken as decoded text.
    feature_dim
        Expected number of features; by default the first instance decides.
    source
        Name of the request, used in error messages.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix
        ``(n, feature_dim)`` float32; CSR when any instance is sparse.

    Raises
    ------
    DataFormatError
        If the body is not JSON, has no ``"instances"`` list, or an instance
        is malformed; the message names the instance index.

    Examples
    --------
    >>> body = b'{"instances": [[1, 2], {"features": [3, 4]}]}'
    >>> decode_json_instances(body).tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    >>> sparse = b'{"instances": [{"data": {"features": {"keys": [2], '
    >>> sparse += b'"shape": [3], "values": [5]}}}]}'
    >>> decode_json_instances(sparse).toarray().tolist()
    [[0.0, 0.0, 5.0]]
    """
    try:
        document = _loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFormatError(
            f"{source!r}: the body is not valid JSON ({err}); expected "
            '{"instances": [...]}.'
        ) from err
    if not isinstance(document, dict) or "instances" not in document:
        raise DataFormatError(
            f'{source!r}: missing "instances"; expected a JSON object '
            '{"instances": [...]} with one instance per row.'
        )
    instances = document["instances"]
    if not isinstance(instances, list):
        raise DataFormatError(
            f'{source!r}: "instances" is a JSON {_json_type(instances)}; expected '
            "a list with one instance per row."
        )
    places = [f"{source!r}, instance {i}" for i in range(len(instances))]
    return _to_matrix(instances, places, feature_dim, source)


def decode_jsonlines_instances(
    data: bytes | str, *, feature_dim: int | None = None, source: str = "<request>"
) -> Features:
    """Parse an ``application/jsonlines`` request body, one instance per line.

    Parameters
    ----------
    data
        The body; blank lines and CRLF endings are accepted.
    feature_dim
        Expected number of features; by default the first instance decides.
    source
        Name of the request, used in error messages.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix
        ``(n, feature_dim)`` float32; CSR when any instance is sparse.

    Raises
    ------
    DataFormatError
        If a line is not JSON or holds a malformed instance; the message
        names the line and the instance index.

    Examples
    --------
    >>> decode_jsonlines_instances(b'{"features": [1, 2]}\\n[3, 4]\\n').tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    instances: list[Any] = []
    places: list[str] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        place = f"{source!r}, line {number} (instance {len(instances)})"
        try:
            instances.append(_loads(line))
        except (ValueError, UnicodeDecodeError) as err:
            raise DataFormatError(
                f"{place}: the line is not valid JSON ({err}); expected one "
                "instance object per line."
            ) from err
        places.append(place)
    return _to_matrix(instances, places, feature_dim, source)


def _to_matrix(
    instances: list[Any], places: list[str], feature_dim: int | None, source: str
) -> Features:
    """Turn parsed instances into a dense or CSR float32 matrix."""
    if not instances:
        raise DataFormatError(
            f"{source!r}: the request holds no instances; expected at least one."
        )
    rows: list[Any] = []
    for index, instance in enumerate(instances):
        try:
            rows.append(_unwrap(instance))
        except _BadInstance as err:
            raise DataFormatError(f"{places[index]}: {err}") from None
    if all(isinstance(row, list) for row in rows):
        dense = _dense_fast(rows, feature_dim)
        if dense is not None:
            return dense
    names = [_dense_name(instance) for instance in instances]
    return _rows_matrix(rows, names, places, feature_dim)


def _dense_name(instance: Any) -> str:
    """How error messages call an instance's dense value list."""
    if isinstance(instance, dict) and "features" not in instance:
        return "values"
    return "features"


def _key_list(instance: dict[str, Any], most: int = 5, width: int = 40) -> str:
    """The first ``most`` keys, each cut to ``width`` characters, for messages.

    >>> _key_list({"b": 1, "a" * 50: 2, "c": 3}, most=2)
    "['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...', 'b', ... 1 more]"
    """
    keys = sorted(instance)
    shown = [repr(k) if len(k) <= width else repr(k[:width] + "...") for k in keys]
    more = f", ... {len(keys) - most} more" if len(keys) > most else ""
    return "[" + ", ".join(shown[:most]) + more + "]"


def _unwrap(instance: Any) -> list[Any] | dict[str, Any]:
    """Return the dense value list, or the sparse ``features`` object."""
    if isinstance(instance, list):
        return instance
    if not isinstance(instance, dict):
        raise _BadInstance(
            f"got a JSON {_json_type(instance)}; expected an object or a list "
            "of numbers."
        )
    if "features" in instance:
        return _expect_list(instance["features"], '"features"')
    features = instance.get("data")
    if isinstance(features, dict):
        features = features.get("features")
    if not isinstance(features, dict) or "values" not in features:
        raise _BadInstance(
            'expected {"features": [...]} or {"data": {"features": {"values": '
            "[...]}}}; got keys " + _key_list(instance) + "."
        )
    if "keys" in features or "shape" in features:
        return features
    return _expect_list(features["values"], '"values"')


def _expect_list(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise _BadInstance(f"{name} is a JSON {_json_type(value)}; expected a list.")
    return value


def _dense_fast(rows: list[list[Any]], feature_dim: int | None) -> np.ndarray | None:
    """Vectorised dense path; None when a row needs the checked slow path."""
    width = len(rows[0]) if feature_dim is None else feature_dim
    if any(len(row) != width for row in rows):
        return None
    if not set(map(type, itertools.chain.from_iterable(rows))) <= _NUMBER_TYPES:
        return None
    try:
        matrix = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    except OverflowError:
        return None
    with np.errstate(over="ignore"):
        result = matrix.astype(np.float32)
    if not np.isfinite(result).all():
        return None
    return result


def _rows_matrix(
    rows: list[Any], names: list[str], places: list[str], feature_dim: int | None
) -> Features:
    """Check every row and build the result, naming the first bad instance."""
    parsed: list[tuple[np.ndarray | None, np.ndarray]] = []
    width = feature_dim
    for index, row in enumerate(rows):
        try:
            keys, values, row_width = _parse_row(row, names[index])
            if width is None:
                width = row_width
            if row_width != width:
                raise _BadInstance(_width_message(row_width, width, feature_dim))
        except _BadInstance as err:
            raise DataFormatError(f"{places[index]}: {err}") from None
        parsed.append((keys, values))
    assert width is not None
    if all(keys is None for keys, _ in parsed):
        return np.stack([values for _, values in parsed]).astype(np.float32)
    return _csr(parsed, width)


def _width_message(got: int, width: int, feature_dim: int | None) -> str:
    expected = (
        f"feature_dim={width}"
        if feature_dim is not None
        else f"{width} like instance 0"
    )
    return f"has {got} features; expected {expected}."


def _parse_row(row: Any, name: str) -> tuple[np.ndarray | None, np.ndarray, int]:
    """Return ``(keys or None, float32 values, feature count)`` of one row."""
    if isinstance(row, list):
        values = _numbers(row, name)
        return None, values, len(values)
    values = _numbers(_expect_list(row["values"], '"values"'), "values")
    key_list = _sparse_keys(row.get("keys"))
    shape = row.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) != 1
        or type(shape[0]) is not int
        or not 0 <= shape[0] <= _MAX_WIDTH
    ):
        raise _BadInstance(
            f'"shape" is {_shown(shape)}; expected a one-element list [feature_dim] '
            f"with feature_dim at most {_MAX_WIDTH} (2**31)."
        )
    if len(key_list) != len(values):
        raise _BadInstance(
            f'"keys" has {len(key_list)} entries but "values" has {len(values)}; '
            "expected one value per key."
        )
    if key_list and max(key_list) >= shape[0]:
        raise _BadInstance(
            f"key {_shown(max(key_list))} is out of range for shape [{shape[0]}]; "
            f"expected keys below {shape[0]}."
        )
    keys = np.array(key_list, dtype=np.int64)
    unique, counts = np.unique(keys, return_counts=True)
    if len(unique) != len(keys):
        raise _BadInstance(
            f"key {int(unique[counts > 1][0])} appears more than once; expected "
            "distinct keys."
        )
    return keys, values, shape[0]


def _sparse_keys(keys: Any) -> list[int]:
    keys = _expect_list(keys, '"keys"')
    for position, key in enumerate(keys):
        if type(key) is not int or key < 0:
            raise _BadInstance(
                f'"keys"[{position}] is {_shown(key)}; expected a non-negative integer.'
            )
    return keys


def _numbers(values: Sequence[Any], name: str) -> np.ndarray:
    """Convert a list to float32, rejecting non-numbers and non-finite values."""
    for position, value in enumerate(values):
        if type(value) not in _NUMBER_TYPES:
            raise _BadInstance(
                f'"{name}"[{position}] is {_shown(value)}; expected a number.'
            )
    with np.errstate(over="ignore"):
        array = np.array([_widen(v) for v in values], dtype=np.float64)
        array = array.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(array))
    if len(bad):
        raise _BadInstance(
            f'"{name}"[{bad[0]}] is {_shown(values[bad[0]])}, which is not a finite '
            "float32; expected finite numbers."
        )
    return array


def _widen(value: float) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf")


def _csr(parsed: list[tuple[np.ndarray | None, np.ndarray]], width: int) -> Any:
    """Build a CSR matrix from dense and sparse rows, keys sorted per row."""
    indices: list[np.ndarray] = []
    data: list[np.ndarray] = []
    for keys, values in parsed:
        if keys is None:
            keys = np.flatnonzero(values)
            values = values[keys]
        order = np.argsort(keys, kind="stable")
        indices.append(keys[order])
        data.append(values[order])
    indptr = np.concatenate([[0], np.cumsum([len(k) for k in indices])])
    return sp.csr_matrix(
        (
            np.concatenate(data).astype(np.float32),
            np.concatenate(indices).astype(np.int32),
            indptr.astype(np.int32),
        ),
        shape=(len(parsed), width),
    )


def _prediction_texts(
    score: np.ndarray, predicted_label: np.ndarray | None
) -> list[str]:
    """One JSON object text per row, as ``json.dumps`` would write it.

    Numbers are float32 values widened to float64 and printed with
    ``float.__repr__`` (the shortest round-trip form, which is what
    :func:`json.dumps` uses); building the text directly is about 5x faster
    than building dicts and dumping them.
    """
    scores, labels = _prediction_arrays(score, predicted_label)
    finite = np.isfinite(scores).all() and (labels is None or np.isfinite(labels).all())
    if not finite:
        raise DataFormatError(
            "a score or predicted_label is NaN or inf, which JSON cannot carry; "
            "expected finite predictions."
        )
    score_texts = _row_texts(scores)
    if labels is None:
        return ['{"score": ' + s + "}" for s in score_texts]
    texts = [
        '{"score": ' + s + ', "predicted_label": ' + p
        for s, p in zip(score_texts, _row_texts(labels), strict=True)
    ]
    if labels.ndim == 2:  # multilabel: also the indices of the labels that hold
        held = [
            "[" + ", ".join(_float_texts(np.flatnonzero(row).astype(np.float64))) + "]"
            for row in labels
        ]
        texts = [
            t + ', "predicted_labels": ' + h for t, h in zip(texts, held, strict=True)
        ]
    return [t + "}" for t in texts]


def _row_texts(values: np.ndarray) -> list[str]:
    """Each row's JSON text: a number for 1-D values, a list for 2-D."""
    if values.ndim == 1:
        return _float_texts(values)
    if values.shape[1] == 0:
        return ["[]"] * values.shape[0]
    flat = _float_texts(values.ravel())
    k = values.shape[1]
    return ["[" + ", ".join(flat[i : i + k]) + "]" for i in range(0, len(flat), k)]


def encode_predictions_json(
    score: np.ndarray, predicted_label: np.ndarray | None
) -> bytes:
    """Encode predictions as an ``application/json`` response body.

    Parameters
    ----------
    score
        ``(n,)`` scores, or ``(n, K)`` per-class scores for multiclass.
    predicted_label
        ``(n,)`` labels, or None for a regressor (no ``predicted_label`` key).

    Returns
    -------
    bytes
        ``{"predictions": [{"score": ..., "predicted_label": ...}, ...]}``.

    Raises
    ------
    DataFormatError
        If a number is NaN or inf, or the shapes disagree.

    Examples
    --------
    >>> import numpy as np
    >>> encode_predictions_json(np.array([41.5]), None)
    b'{"predictions": [{"score": 41.5}]}'
    >>> encode_predictions_json(np.array([[0.5, 0.25, 0.25]]), np.array([0]))
    b'{"predictions": [{"score": [0.5, 0.25, 0.25], "predicted_label": 0.0}]}'

    A multilabel model's labels are one 0/1 value per label, and
    ``predicted_labels`` lists the labels that hold:

    >>> encode_predictions_json(np.array([[0.75, 0.25]]), np.array([[1, 0]]))
    b'{"predictions": [{"score": [0.75, 0.25], "predicted_label": [1.0, 0.0], \
"predicted_labels": [0.0]}]}'
    """
    objects = _prediction_texts(score, predicted_label)
    return ('{"predictions": [' + ", ".join(objects) + "]}").encode("ascii")


def encode_predictions_jsonlines(
    score: np.ndarray, predicted_label: np.ndarray | None
) -> bytes:
    """Encode predictions as ``application/jsonlines``, one object per line.

    Parameters
    ----------
    score
        ``(n,)`` scores, or ``(n, K)`` per-class scores for multiclass.
    predicted_label
        ``(n,)`` labels, or None for a regressor.

    Returns
    -------
    bytes
        One JSON object per row, each line ending with ``\\n``.

    Raises
    ------
    DataFormatError
        If a number is NaN or inf, or the shapes disagree.

    Examples
    --------
    >>> import numpy as np
    >>> encode_predictions_jsonlines(np.array([0.5, 0.125]), None)
    b'{"score": 0.5}\\n{"score": 0.125}\\n'
    """
    objects = _prediction_texts(score, predicted_label)
    return "".join(obj + "\n" for obj in objects).encode("ascii")


def encode_predictions_top_k(
    score: np.ndarray,
    predicted_label: np.ndarray,
    k: int,
    *,
    lines: bool = False,
) -> bytes:
    """Multiclass predictions with each row's ``k`` best classes and scores.

    Parameters
    ----------
    score
        ``(n, K)`` class probabilities.
    predicted_label
        ``(n,)`` labels.
    k
        How many classes to list, ``1 <= k <= K``; best first, the lower
        class index first on ties.
    lines
        JSON Lines (one object per line) instead of ``{"predictions": [...]}``.

    Returns
    -------
    bytes
        Each object holds ``score``, ``predicted_label``, ``top_k_labels``
        (class indices as floats, like ``predicted_label``) and
        ``top_k_scores``.

    Raises
    ------
    DataFormatError
        If the scores are not ``(n, K)``, ``k`` is out of range, or a number
        is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> encode_predictions_top_k(np.array([[0.25, 0.5, 0.25]]), np.array([1]), 2)
    b'{"predictions": [{"score": [0.25, 0.5, 0.25], "predicted_label": 1.0, \
"top_k_labels": [1.0, 0.0], "top_k_scores": [0.5, 0.25]}]}'
    """
    scores = np.asarray(score, dtype=np.float32)
    if scores.ndim != 2 or not 1 <= k <= scores.shape[1]:
        raise DataFormatError(
            f"top_k must be between 1 and the number of classes; got {k!r} for "
            f"scores of shape {scores.shape!r}."
        )
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(scores, order, axis=1).astype(np.float64)
    label_texts = _row_texts(order.astype(np.float64))
    score_texts = _row_texts(best)
    texts = [
        text[:-1] + ', "top_k_labels": ' + labels + ', "top_k_scores": ' + values + "}"
        for text, labels, values in zip(
            _prediction_texts(score, predicted_label),
            label_texts,
            score_texts,
            strict=True,
        )
    ]
    if lines:
        return "".join(t + "\n" for t in texts).encode("ascii")
    return ('{"predictions": [' + ", ".join(texts) + "]}").encode("ascii")
