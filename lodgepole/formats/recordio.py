"""RecordIO-protobuf: SageMaker's ``application/x-recordio-protobuf`` format.

A file is a run of frames (a 4-byte magic number, a 4-byte length word whose
top 3 bits are a continuation flag, the payload, zero padding to 4 bytes),
and every payload is one serialized ``aialgs.data.Record`` protobuf holding
``features["values"]`` and, for training, ``label["values"]``. The byte
layout follows shared/SPEC.md section 5. For float32 or float64 dense rows,
float32 sparse rows and float32 labels, the bytes written here are those the
SageMaker Python SDK writes for the same arrays (the SDK keeps the dtype of
other labels; lodgepole always writes float32 labels).

Two decoders give identical results. The fast path handles a buffer whose
records are all dense float32 rows of one width laid out as the SDK writes
them: it checks the fixed bytes of every frame and reads the values through
numpy views, without parsing any protobuf. Everything else (sparse rows,
float64 or int32 tensors, other field orders, multi-part frames) goes
through the general path, which parses each record with the ``protobuf``
runtime.

The framing layer lives in ``_framing.py`` and the fixed byte layouts of the
fast path in ``_recordio_layout.py``; this module holds the encoders and the
general decoder, and re-exports ``read_frames``, ``iter_frames`` (its
streaming form), ``write_frames`` and ``MAGIC``.

``record_pb2.py`` is generated from ``record.proto``. After changing the
schema, regenerate it from the repository root with the commands below.
grpcio-tools is needed only for this step, never at run time; version 1.75.1
bundles protoc 6.31.1, whose output runs on any ``protobuf`` runtime from
6.31.1 on (a newer grpcio-tools would raise that floor)::

    pip install grpcio-tools==1.75.1
    python -m grpc_tools.protoc --proto_path=. --python_out=. \\
        lodgepole/formats/record.proto
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from google.protobuf.message import DecodeError

from lodgepole.exceptions import DataFormatError
from lodgepole.formats._framing import MAGIC as MAGIC
from lodgepole.formats._framing import (
    _scan_frames,
    _where,
    iter_frames,
    read_frames,
    write_frames,
)
from lodgepole.formats._recordio_layout import (
    _FEATURES_FIELD,
    _LABEL_FIELD,
    _TENSOR_DTYPES,
    _TENSOR_FIELDS,
    _decode_fast,
    _Layout,
    _varint,
)
from lodgepole.formats.record_pb2 import Record

__all__ = [
    "CONTENT_TYPE",
    "decode_records",
    "encode_prediction_records",
    "encode_records",
    "iter_frames",
    "read_frames",
    "write_frames",
]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-recordio-protobuf"

Features = np.ndarray | sp.csr_matrix

# Widest sparse row accepted: column indices must fit int32, as in LIBSVM.
_MAX_WIDTH = 2**31


# -------------------------------------------------------------------- encoding


def _dense_kind(dtype: np.dtype) -> str:
    if dtype == np.float32:
        return "float32_tensor"
    if dtype == np.float64:
        return "float64_tensor"
    if dtype in (np.int32, np.int64):
        return "int32_tensor"
    raise DataFormatError(
        f"features: expected dtype float32, float64, int32 or int64, found "
        f"{str(dtype)!r}. Convert with features.astype(np.float32)."
    )


def _check_labels(labels: object, num_records: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != num_records:
        raise DataFormatError(
            f"labels: expected a 1-D array of {num_records!r} values (one per "
            f"record), found shape {y.shape!r}"
        )
    try:
        return y.astype("<f4")
    except (TypeError, ValueError) as err:
        raise DataFormatError(
            f"labels: expected numbers, found dtype {str(y.dtype)!r}"
        ) from err


def _serialize(records: Iterable[Record]) -> bytes:
    return write_frames(r.SerializeToString(deterministic=True) for r in records)


def _set_tensor(value: object, kind: str, values: np.ndarray) -> object:
    tensor = getattr(value, kind)
    tensor.SetInParent()
    tensor.values.extend(values.tolist())
    return tensor


def _encode_dense(X: np.ndarray, y: np.ndarray | None, label_key: str) -> bytes:
    kind = _dense_kind(X.dtype)
    if kind != "int32_tensor":
        entries = [(_FEATURES_FIELD, "values", kind, X.shape[1])]
        if y is not None:
            entries.append((_LABEL_FIELD, label_key, "float32_tensor", 1))
        layout = _Layout.build(entries)
        columns = [np.ascontiguousarray(X, dtype=_TENSOR_DTYPES[kind])]
        return layout.fill(columns if y is None else [*columns, y.reshape(-1, 1)])
    info = np.iinfo(np.int32)
    if X.size and (X.min() < info.min or X.max() > info.max):
        raise DataFormatError(
            f"features: int64 values must fit int32 (the SDK writes Int32Tensor); "
            f"found the range [{X.min()!r}, {X.max()!r}]. Convert to float64."
        )

    def records() -> Iterable[Record]:
        for i, row in enumerate(X):
            record = Record()
            _set_tensor(record.features["values"], kind, row)
            if y is not None:
                _set_tensor(record.label[label_key], "float32_tensor", y[i : i + 1])
            yield record

    return _serialize(records())


def _encode_sparse(X: sp.spmatrix, y: np.ndarray | None, label_key: str) -> bytes:
    csr = sp.csr_matrix(X, dtype=np.float32)
    num_cols = int(csr.shape[1])
    indptr, indices, data = csr.indptr, csr.indices.astype(np.uint64), csr.data

    def records() -> Iterable[Record]:
        for i in range(csr.shape[0]):
            lo, hi = indptr[i], indptr[i + 1]
            record = Record()
            tensor = _set_tensor(
                record.features["values"], "float32_tensor", data[lo:hi]
            )
            tensor.keys.extend(indices[lo:hi].tolist())
            tensor.shape.append(num_cols)
            if y is not None:
                _set_tensor(record.label[label_key], "float32_tensor", y[i : i + 1])
            yield record

    return _serialize(records())


def encode_records(
    features: np.ndarray | sp.spmatrix,
    labels: np.ndarray | None = None,
    *,
    label_key: str = "values",
) -> bytes:
    """Encode rows as RecordIO-protobuf records, one record a row.

    Dense features map dtypes as the SageMaker SDK does: float32 to
    ``Float32Tensor``, float64 to ``Float64Tensor``, int32 and int64 to
    ``Int32Tensor``. Sparse features (any scipy.sparse format) become sparse
    ``Float32Tensor`` values with ``keys`` (column indices) and ``shape``
    ``[D]``. Labels, when given, become a one-value ``Float32Tensor`` under
    ``label[label_key]``.

    Parameters
    ----------
    features : ndarray of shape (n, D) or scipy.sparse matrix
        The feature rows.
    labels : array-like of shape (n,), optional
        One label per row, stored as float32.
    label_key : str, default "values"
        Key of the label map entry.

    Returns
    -------
    bytes
        The framed records. Cost: dense float rows are laid out with numpy in
        one pass (about twice the output size in memory); int and sparse rows
        go through the protobuf runtime, one Python step per row.

    Raises
    ------
    DataFormatError
        If the features are not 2-D, have an unsupported dtype, int values
        overflow int32, or the labels do not match the rows.

    Examples
    --------
    >>> import numpy as np
    >>> data = encode_records(np.array([[1.5, 2.0]], dtype=np.float32), [1.0])
    >>> len(data), data[:4].hex()
    (52, '0a23d7ce')
    """
    if sp.issparse(features):
        X = features
    else:
        X = np.asarray(features)
        if X.ndim != 2:
            raise DataFormatError(
                f"features: expected a 2-D array (records x features), found "
                f"shape {X.shape!r}"
            )
    y = None if labels is None else _check_labels(labels, X.shape[0])
    if sp.issparse(X):
        return _encode_sparse(X, y, label_key)
    return _encode_dense(X, y, label_key)


def encode_prediction_records(
    score: np.ndarray, predicted_label: np.ndarray | None
) -> bytes:
    """Encode inference responses: one record a row, labels only, no features.

    Each record holds ``label["score"]`` (one value, or K values for a
    multiclass or multilabel model) and, for classifiers,
    ``label["predicted_label"]`` (one value, or K 0/1 values for a multilabel
    model), all float32. Entries are written in key order
    (``predicted_label`` first), as the real endpoints do.

    Parameters
    ----------
    score : ndarray of shape (n,) or (n, K)
        Scores per row.
    predicted_label : ndarray of shape (n,), optional
        Predicted label per row; None for regressors.

    Returns
    -------
    bytes
        The framed records. Cost: one numpy pass, about twice the output size.

    Raises
    ------
    DataFormatError
        If the shapes do not agree.

    Examples
    --------
    >>> import numpy as np
    >>> data = encode_prediction_records(np.array([[0.1, 0.2, 0.7]]), np.array([2]))
    >>> len(data)
    64
    """
    s = np.asarray(score, dtype="<f4")
    if s.ndim == 1:
        s = s.reshape(-1, 1)
    if s.ndim != 2:
        raise DataFormatError(
            f"score: expected shape (n,) or (n, K), found {np.shape(score)!r}"
        )
    entries = []
    columns = []
    if predicted_label is not None:
        labels = np.asarray(predicted_label)
        if labels.ndim == 2 and labels.shape == s.shape:  # multilabel: K values
            column = np.ascontiguousarray(labels, dtype="<f4")
        else:
            column = _check_labels(predicted_label, s.shape[0]).reshape(-1, 1)
        columns.append(column)
        entries.append(
            (_LABEL_FIELD, "predicted_label", "float32_tensor", column.shape[1])
        )
    entries.append((_LABEL_FIELD, "score", "float32_tensor", s.shape[1]))
    columns.append(np.ascontiguousarray(s))
    return _Layout.build(entries).fill(columns)


# -------------------------------------------------------------------- decoding


@dataclass
class _Rows:
    """Features and labels gathered record by record on the general path."""

    source: str
    offsets: list[int]
    width: int | None
    kind: str | None = None
    kind_reason: str = "like record 0"
    has_label: bool | None = None

    def __post_init__(self) -> None:
        self.chunks: list[bytes] = []  # raw little-endian floats, row after row
        self.ints: list[int] = []  # int32 tensor values, row after row
        self.keys: list[int] = []
        self.counts: list[int] = []
        self.sparse: list[bool] = []
        self.labels: list[float] = []

    def add_values(self, tensor: object) -> None:
        count = len(tensor.values)
        self.counts.append(count)
        if self.kind == "int32_tensor":
            self.ints.extend(tensor.values)
        elif count:
            # The runtime writes the packed values (field 1) first: tag, length,
            # bytes. Slicing them out avoids making a Python float per value.
            nbytes = count * _TENSOR_DTYPES[self.kind].itemsize
            start = 1 + len(_varint(nbytes))
            self.chunks.append(tensor.SerializeToString()[start : start + nbytes])

    def value_array(self) -> np.ndarray:
        if self.kind == "int32_tensor":
            return np.asarray(self.ints, dtype=np.float32)
        dtype = _TENSOR_DTYPES[self.kind or "float32_tensor"]
        with np.errstate(over="ignore"):  # float64 beyond float32 range: inf
            return np.frombuffer(b"".join(self.chunks), dtype=dtype).astype(np.float32)

    def fail(self, index: int, message: str) -> None:
        raise DataFormatError(
            f"{_where(self.source, index, self.offsets[index])}: {message}"
        )


def _tensor_width(rows: _Rows, index: int, tensor: object) -> tuple[int, bool]:
    """Width of a feature tensor and whether it is sparse."""
    shape = list(tensor.shape)
    num_keys, num_values = len(tensor.keys), len(tensor.values)
    sparse = num_keys > 0 or (num_values == 0 and bool(shape) and math.prod(shape) > 0)
    if sparse and not shape:
        rows.fail(index, "sparse tensor (keys given) without shape: expected shape [D]")
    if sparse and shape[-1] > _MAX_WIDTH:
        rows.fail(
            index,
            f"sparse tensor of shape {shape!r}: expected at most {_MAX_WIDTH!r} "
            f"features (2**31), found {shape[-1]!r}",
        )
    if shape and any(d != 1 for d in shape[:-1]):
        rows.fail(index, f"expected a vector shape [D], found {shape!r}")
    if sparse and num_keys != num_values:
        rows.fail(
            index,
            f"expected as many keys as values, found {num_keys!r} keys "
            f"and {num_values!r} values",
        )
    if not sparse and shape and shape[-1] != num_values:
        rows.fail(
            index,
            f"dense tensor of shape {shape!r}: expected {shape[-1]!r} "
            f"values, found {num_values!r}",
        )
    return (shape[-1] if sparse else num_values), sparse


def _map_keys(entries: Iterable[str | bytes]) -> list[str | bytes]:
    """Sorted keys of a Record map; keys that are not UTF-8 come back as bytes."""
    return sorted(entries, key=repr)


def _add_features(rows: _Rows, index: int, record: Record) -> None:
    value = record.features.get("values")
    if value is None:
        rows.fail(
            index,
            f"expected features['values'], found feature keys "
            f"{_map_keys(record.features)!r}",
        )
    kind = value.WhichOneof("value")
    if kind not in _TENSOR_FIELDS:
        rows.fail(
            index,
            f"expected a float32, float64 or int32 tensor in "
            f"features['values'], found {kind!r}",
        )
    if rows.kind is None:
        rows.kind = kind
    elif kind != rows.kind:
        rows.fail(index, f"expected {rows.kind!r} {rows.kind_reason}, found {kind!r}")
    tensor = getattr(value, kind)
    width, sparse = _tensor_width(rows, index, tensor)
    if rows.width is None:
        rows.width = width
    elif width != rows.width:
        rows.fail(
            index, f"expected {rows.width!r} features like the rest, found {width!r}"
        )
    rows.add_values(tensor)
    rows.sparse.append(sparse)
    if sparse:
        rows.keys.extend(tensor.keys)


def _add_label(rows: _Rows, index: int, record: Record, require: bool) -> None:
    value = record.label.get("values")
    has_label = value is not None
    if require and not has_label:
        rows.fail(
            index,
            f"expected label['values'] in a training record, found "
            f"label keys {_map_keys(record.label)!r}",
        )
    if rows.has_label is None:
        rows.has_label = has_label
    elif has_label != rows.has_label:
        found = "one" if has_label else "none"
        rows.fail(index, f"expected a label only if record 0 has one, found {found}")
    if not has_label:
        return
    kind = value.WhichOneof("value")
    if kind not in _TENSOR_FIELDS or len(getattr(value, kind).values) != 1:
        rows.fail(
            index,
            f"expected label['values'] to be one number, found {str(value)[:80]!r}",
        )
    rows.labels.append(getattr(value, kind).values[0])


def _sparse_matrix(rows: _Rows) -> sp.csr_matrix:
    """CSR of the gathered rows, checking keys are in range and unique."""
    counts = np.asarray(rows.counts, dtype=np.int64)
    values = rows.value_array()
    row_of = np.repeat(np.arange(counts.size), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    columns = np.arange(values.size, dtype=np.uint64) - starts[row_of].astype(np.uint64)
    from_sparse = np.repeat(np.asarray(rows.sparse, dtype=bool), counts)
    columns[from_sparse] = np.asarray(rows.keys, dtype=np.uint64)

    bad = np.flatnonzero(columns >= rows.width)
    if bad.size:
        rows.fail(
            int(row_of[bad[0]]),
            f"expected sparse keys < shape[0] = "
            f"{rows.width!r}, found key {int(columns[bad[0]])!r}",
        )
    order = np.lexsort((columns, row_of))
    row_of, columns, values = row_of[order], columns[order], values[order]
    from_sparse = from_sparse[order]
    dup = np.flatnonzero((row_of[1:] == row_of[:-1]) & (columns[1:] == columns[:-1]))
    if dup.size:
        rows.fail(
            int(row_of[dup[0]]),
            f"expected unique sparse keys, found key {int(columns[dup[0]])!r} twice",
        )
    keep = from_sparse | (values != 0)
    indptr = np.concatenate(
        [[0], np.cumsum(np.bincount(row_of[keep], minlength=counts.size))]
    )
    return sp.csr_matrix(
        (values[keep], columns[keep].astype(np.int64), indptr),
        shape=(counts.size, rows.width),
    )


def _as_float32(values: list[float]) -> np.ndarray:
    with np.errstate(over="ignore"):  # float64 beyond float32 range: inf
        return np.asarray(values, dtype=np.float32)


def _decode_general(
    data: bytes,
    source: str,
    require_labels: bool,
    feature_dim: int | None,
    float32_only: bool,
) -> tuple[Features, np.ndarray | None]:
    payloads, offsets = _scan_frames(data, source)
    rows = _Rows(source, offsets, feature_dim)
    if float32_only:
        rows.kind = "float32_tensor"
        rows.kind_reason = "(training accepts only float32 tensors)"
    for index, payload in enumerate(payloads):
        try:
            record = Record.FromString(payload)
        except DecodeError as err:
            rows.fail(
                index, f"expected a Record protobuf, found unparsable bytes ({err})"
            )
        _add_features(rows, index, record)
        _add_label(rows, index, record, require_labels)

    width = rows.width or 0
    # Training data with no records still gets its (empty) labels.
    labels = _as_float32(rows.labels) if rows.has_label or require_labels else None
    if any(rows.sparse):
        return _sparse_matrix(rows), labels
    return rows.value_array().reshape(len(payloads), width), labels


def decode_records(
    data: bytes,
    *,
    source: str = "<bytes>",
    require_labels: bool = False,
    feature_dim: int | None = None,
    float32_only: bool = False,
) -> tuple[Features, np.ndarray | None]:
    """Decode RecordIO-protobuf records into features and labels.

    Reads ``features["values"]`` (dense or sparse, float32, float64 or
    int32, all cast to float32) and ``label["values"]`` (one number) of
    every record. All records must have the same tensor type and width, and
    either all or none of them a label.

    Parameters
    ----------
    data : bytes
        The whole file or object.
    source : str, default "<bytes>"
        Name of the file or object, used in error messages.
    require_labels : bool, default False
        Raise if a record has no label (training data).
    feature_dim : int, optional
        Expected width; also the width of the result when there are no
        records.
    float32_only : bool, default False
        Accept only float32 feature tensors (training, SPEC section 5.2).

    Returns
    -------
    features : ndarray of shape (n, D) or scipy.sparse.csr_matrix
        float32; CSR (sorted keys) if any record is sparse.
    labels : ndarray of shape (n,) or None
        float32 labels, or None if the records have none.

    Raises
    ------
    DataFormatError
        On any framing error (see `read_frames`), an unparsable record, a
        missing ``features["values"]``, a tensor type or width differing from
        record 0 or ``feature_dim``, a missing label when required, a sparse
        tensor without shape, wider than 2**31 columns or with keys out of
        range or repeated; messages name the source, the record index and
        the byte offset.

    Notes
    -----
    Cost: on the fast path (every record a dense float32 row of one width,
    laid out as the SDK writes it) two numpy passes over the data and one
    copy of the values, about 2 GB/s; otherwise one protobuf parse and a few
    Python steps a record, about 100,000 records/s. Peak memory is the data
    plus the result on both paths (plus the payloads on the general path).

    Examples
    --------
    >>> import numpy as np
    >>> X, y = decode_records(encode_records(np.eye(2, dtype=np.float32), [0, 1]))
    >>> X.tolist(), y.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [0.0, 1.0])
    """
    fast = _decode_fast(data, require_labels, feature_dim)
    if fast is not None:
        logger.debug(
            "decoded recordio source=%s path=fast records=%d", source, len(fast[0])
        )
        return fast
    X, y = _decode_general(data, source, require_labels, feature_dim, float32_only)
    logger.debug(
        "decoded recordio source=%s path=general records=%d", source, X.shape[0]
    )
    return X, y
