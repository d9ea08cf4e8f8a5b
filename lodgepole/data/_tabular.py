"""Named-column inputs (pandas and Arrow) turned into arrays, and their names.

pandas DataFrames and Series, and pyarrow Tables, RecordBatches, Arrays and
ChunkedArrays, are accepted wherever arrays are. :func:`numeric_table`
turns a table into a float array plus its column names, naming the column
that is not numeric or holds nulls; :func:`check_columns` compares the names
a caller gives with a model's schema. Neither pandas nor pyarrow is imported
here: inputs are recognised by their type's module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lodgepole.exceptions import DataFormatError

__all__ = ["check_columns", "column_names", "is_arrow", "numeric_table", "vector"]


def is_arrow(value: object) -> bool:
    """Whether ``value`` is a pyarrow object (table, batch or array)."""
    return type(value).__module__.split(".")[0] == "pyarrow"


def column_names(features: object) -> tuple[str, ...] | None:
    """The column names of a DataFrame or Arrow table; None for arrays.

    Examples
    --------
    >>> column_names(np.zeros((2, 2))) is None
    True
    """
    if is_arrow(features) and hasattr(features, "column_names"):
        return tuple(str(c) for c in features.column_names)  # type: ignore[attr-defined]
    columns = getattr(features, "columns", None)
    if columns is None or isinstance(features, np.ndarray):
        return None
    return tuple(str(c) for c in columns)


def numeric_table(features: Any, where: str) -> Any:
    """A DataFrame's or Arrow table's values as a float64 array; others unchanged.

    Parameters
    ----------
    features
        A pandas DataFrame, a pyarrow Table or RecordBatch, or anything else
        (returned as it is).
    where
        What the table is, for messages (``"channel 'train'"``, ``"X"``).

    Raises
    ------
    DataFormatError
        Naming the first column that is not numeric, or that holds nulls.
    """
    names = column_names(features)
    if names is None:
        return features
    if is_arrow(features):
        columns = [features.column(i) for i in range(len(names))]
        values = [
            _arrow_column(c, name, where)
            for c, name in zip(columns, names, strict=True)
        ]
    else:
        values = [
            _pandas_column(features.iloc[:, i], name, where)
            for i, name in enumerate(names)
        ]
    if not values:
        return np.zeros((_num_rows(features), 0))
    return np.column_stack(values)


def vector(values: Any) -> Any:
    """An Arrow array or chunked array as numpy; anything else unchanged."""
    if is_arrow(values) and hasattr(values, "to_numpy"):
        if getattr(values, "null_count", 0):
            raise DataFormatError(
                f"labels hold {values.null_count} null value(s); every record "
                "needs a label."
            )
        return values.to_numpy(zero_copy_only=False)
    return values


def _num_rows(table: Any) -> int:
    return int(getattr(table, "num_rows", None) or len(table))


def _arrow_column(column: Any, name: str, where: str) -> np.ndarray:
    import pyarrow as pa

    if column.null_count:
        raise DataFormatError(
            f"{where}, column {name!r}: holds {column.null_count} null value(s); "
            "features must be numbers."
        )
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and not (
        pa.types.is_boolean(kind)
    ):
        raise DataFormatError(
            f"{where}, column {name!r}: has Arrow type {kind}; features must be "
            "numeric (integer, floating point or boolean)."
        )
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _pandas_column(column: Any, name: str, where: str) -> np.ndarray:
    kind = column.dtype
    base = np.dtype(getattr(kind, "numpy_dtype", kind)) if _is_numpy(kind) else None
    numeric = base is not None and (np.issubdtype(base, np.number) or base.kind == "b")
    if not numeric:
        raise DataFormatError(
            f"{where}, column {name!r}: has dtype {kind}; features must be numeric."
        )
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise DataFormatError(
            f"{where}, row {row}, column {name!r}: features must be finite "
            "numbers; got a missing value."
        )
    return np.asarray(column.to_numpy(dtype=np.float64))


def _is_numpy(kind: Any) -> bool:
    """Whether a pandas dtype has a numpy counterpart (not category, string)."""
    try:
        np.dtype(getattr(kind, "numpy_dtype", kind))
    except TypeError:
        return False
    return True


def check_columns(
    given: tuple[str, ...] | None, expected: tuple[str, ...] | None, where: str
) -> None:
    """Raise unless ``given`` column names are exactly ``expected``, in order.

    Nothing is checked when either side has no names (plain arrays, or a
    model trained on arrays).

    Raises
    ------
    DataFormatError
        Naming the missing and unexpected columns, or the first position
        where the order differs.

    Examples
    --------
    >>> check_columns(("a", "b"), ("a", "b"), "X")
    >>> check_columns(("b", "a"), ("a", "b"), "X")
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.DataFormatError: X: columns are in another order than \
the model's: position 0 holds 'b', expected 'a'. Reorder them as \
['a', 'b'].
    """
    if given is None or expected is None or given == expected:
        return
    missing = [name for name in expected if name not in given]
    unexpected = [name for name in given if name not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_shown(missing)}")
        if unexpected:
            parts.append(f"unexpected {_shown(unexpected)}")
        raise DataFormatError(
            f"{where}: columns do not match the model's features: "
            f"{'; '.join(parts)}. The model expects {_shown(list(expected))}."
        )
    pairs = zip(given, expected, strict=True)
    position = next(i for i, (a, b) in enumerate(pairs) if a != b)
    raise DataFormatError(
        f"{where}: columns are in another order than the model's: position "
        f"{position} holds {given[position]!r}, expected {expected[position]!r}. "
        f"Reorder them as {_shown(list(expected))}."
    )


def _shown(names: list[str], limit: int = 10) -> str:
    if len(names) <= limit:
        return repr(names)
    return repr(names[:limit])[:-1] + f", ... ({len(names) - limit} more)]"
