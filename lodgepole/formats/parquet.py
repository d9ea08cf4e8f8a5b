"""Parquet tables of numeric columns: one label column, the rest features.

Reading and writing go through pyarrow, an optional dependency installed with
``pip install 'lodgepole[parquet]'``; it is imported only when called, so
lodgepole itself imports without it.

Examples
--------
>>> import io
>>> sink = io.BytesIO()
>>> write_parquet(sink, [[0.5, 1.0], [2.0, -3.0]], [1, 0], feature_names=["a", "b"])
>>> features, labels, names = read_parquet(io.BytesIO(sink.getvalue()))
>>> features.tolist(), labels.tolist(), names
([[0.5, 1.0], [2.0, -3.0]], [1.0, 0.0], ('a', 'b'))
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike

from lodgepole.exceptions import DataFormatError

__all__ = ["read_parquet", "write_parquet"]

logger = logging.getLogger(__name__)

PathOrFile = str | os.PathLike[str] | IO[bytes]


def read_parquet(
    path_or_file: PathOrFile,
    *,
    label_column: str | int = 0,
    source: str | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read a Parquet table into float32 features and labels.

    Parameters
    ----------
    path_or_file
        A local path or a binary file object.
    label_column
        Name or position of the label column; every other column is a feature,
        in table order.
    source
        Name used in error messages; by default the path.

    Returns
    -------
    features : numpy.ndarray
        ``(rows, feature_dim)`` float32, C-contiguous.
    labels : numpy.ndarray
        ``(rows,)`` float32.
    feature_names : tuple of str
        The feature columns' names.

    Raises
    ------
    DataFormatError
        If the label column is missing, a column is not of an integer or
        floating-point type, or a cell is null, NaN or infinite (the message
        names the column and the first such row).
    ImportError
        If pyarrow is not installed.

    Notes
    -----
    Cost: the whole table is read into memory (Arrow buffers, then one float32
    copy column by column).

    Examples
    --------
    >>> import io
    >>> sink = io.BytesIO()
    >>> write_parquet(sink, [[1.0], [2.0]], [3, 4], label_name="y")
    >>> read_parquet(io.BytesIO(sink.getvalue()), label_column="y")[1].tolist()
    [3.0, 4.0]
    """
    pq, pa = _pyarrow()
    name = source if source is not None else _describe(path_or_file)
    table = pq.read_table(path_or_file)
    label_at = _label_position(table.column_names, label_column, name)

    columns = []
    for position in range(table.num_columns):
        columns.append(_numeric_column(table, position, name, pa))
    feature_positions = [i for i in range(table.num_columns) if i != label_at]
    features = np.empty((table.num_rows, len(feature_positions)), dtype=np.float32)
    for j, position in enumerate(feature_positions):
        features[:, j] = columns[position]

    names = tuple(table.column_names[i] for i in feature_positions)
    logger.debug("parquet read source=%s rows=%d", name, table.num_rows)
    return features, columns[label_at], names


def write_parquet(
    path_or_file: PathOrFile,
    features: ArrayLike,
    labels: ArrayLike,
    *,
    feature_names: Sequence[str] | None = None,
    label_name: str = "label",
) -> None:
    """Write float32 features and labels as a Parquet table, label column first.

    Parameters
    ----------
    path_or_file
        A local path (written atomically: temporary file, then rename) or a
        writable binary file object.
    features
        ``(rows, feature_dim)`` dense matrix, converted to float32.
    labels
        ``(rows,)`` labels, stored as float32.
    feature_names
        One name per feature column; by default ``feature_0``, ``feature_1``...
    label_name
        Name of the label column.

    Raises
    ------
    DataFormatError
        If the shapes disagree or the column names are not unique.
    ImportError
        If pyarrow is not installed.

    Examples
    --------
    >>> import io
    >>> write_parquet(io.BytesIO(), np.zeros((2, 3)), [0, 1])
    """
    pq, pa = _pyarrow()
    matrix = np.asarray(features, dtype=np.float32)
    column = np.asarray(labels, dtype=np.float32).reshape(-1)
    if matrix.ndim != 2 or matrix.shape[0] != column.size:
        raise DataFormatError(
            f"features of shape {matrix.shape!r} and {column.size} labels do not "
            "match; expected a 2-D matrix with one row per label."
        )
    names = [f"feature_{j}" for j in range(matrix.shape[1])]
    names = list(feature_names) if feature_names is not None else names
    if len(names) != matrix.shape[1] or len({label_name, *names}) != len(names) + 1:
        raise DataFormatError(
            f"feature_names must be {matrix.shape[1]} unique names other than "
            f"the label name {label_name!r}; got {names!r}."
        )

    arrays = [pa.array(column)] + [pa.array(matrix[:, j]) for j in range(len(names))]
    table = pa.Table.from_arrays(arrays, names=[label_name, *names])
    if isinstance(path_or_file, (str, os.PathLike)):
        _write_atomically(Path(path_or_file), table, pq)
    else:
        pq.write_table(table, path_or_file)


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise ImportError(
            "Parquet support needs pyarrow; install it with "
            "pip install 'lodgepole[parquet]'."
        ) from err
    return pq, pa


def _describe(path_or_file: PathOrFile) -> str:
    if isinstance(path_or_file, (str, os.PathLike)):
        return os.fspath(path_or_file)
    return str(getattr(path_or_file, "name", "<file>"))


def _label_position(names: list[str], label_column: str | int, source: str) -> int:
    if isinstance(label_column, str) and label_column in names:
        return names.index(label_column)
    if isinstance(label_column, int) and -len(names) <= label_column < len(names):
        return label_column % len(names)
    raise DataFormatError(
        f"{source!r}: label column {label_column!r} not found; the table has "
        f"columns {names!r}. Pass label_column= a name or position among them."
    )


def _numeric_column(table: Any, position: int, source: str, pa: Any) -> np.ndarray:
    column = table.column(position)
    name = table.column_names[position]
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        raise DataFormatError(
            f"{source!r}, column {name!r}: type {str(kind)!r} is not numeric; "
            "expected integer or floating-point columns only."
        )
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataFormatError(
            f"{source!r}, column {name!r}, row {row}: null value; expected a "
            "number in every cell."
        )
    values = column.to_numpy().astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.argmin(finite))
        raise DataFormatError(
            f"{source!r}, column {name!r}, row {row}: value {values[row].item()!r} "
            "is not finite; expected finite numbers."
        )
    return values


def _write_atomically(path: Path, table: Any, pq: Any) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
