"""Convert a channel between CSV, RecordIO-protobuf, LIBSVM and Parquet."""

from __future__ import annotations

import io
import logging
import os

import numpy as np
import scipy.sparse as sp

from lodgepole.data.files import (
    CSV,
    LIBSVM,
    PARQUET,
    RECORDIO,
    content_type_of,
    read_files,
)
from lodgepole.exceptions import DataFormatError

__all__ = ["convert"]

logger = logging.getLogger(__name__)


def convert(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    from_type: str | None = None,
    to_type: str | None = None,
) -> tuple[int, int]:
    """Read every shard at ``source`` and write them as one file at ``destination``.

    The formats come from the file names unless given. Sparse data becomes
    dense for CSV and Parquet (both are dense formats). Either side may be an
    fsspec URL (``s3://...``). A local destination is written to a temporary
    name and renamed, so it is never half-written; an object store receives
    it in one upload.

    Returns
    -------
    tuple
        Records and features written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "in.csv").write_text("1,0.5,2\\n0,1.5,-1\\n")
    >>> convert(d / "in.csv", d / "out.pbr")
    (2, 2)
    >>> convert(d / "out.pbr", d / "back.csv")
    (2, 2)
    """
    features, labels = read_files(os.fspath(source), content_type=from_type)
    if labels is None:
        raise DataFormatError(
            f"{os.fspath(source)!r} carries no labels; convert writes labelled "
            "training data."
        )
    target = os.fspath(destination)
    kind = content_type_of(target, to_type)
    dense = features.toarray() if sp.issparse(features) else features
    if kind == PARQUET:
        from lodgepole.formats.parquet import write_parquet

        buffer = io.BytesIO()
        write_parquet(buffer, np.asarray(dense), labels)
        data = buffer.getvalue()
    else:
        data = _encode(kind, features, dense, labels)
    _write(target, data)
    logger.info(
        "converted source=%s destination=%s records=%d", source, target, len(labels)
    )
    return int(features.shape[0]), int(features.shape[1])


def _write(target: str, data: bytes) -> None:
    """Write bytes whole: temp file + rename locally, one PUT on object stores."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    fs, path = fsspec.core.url_to_fs(target)
    if not isinstance(fs, LocalFileSystem):
        with fs.open(path, "wb") as handle:
            handle.write(data)
        return
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _encode(kind: str, features, dense, labels) -> bytes:  # type: ignore[no-untyped-def]
    if kind == RECORDIO:
        from lodgepole.formats.recordio import encode_records

        return encode_records(features, labels)
    if kind == CSV:
        from lodgepole.formats.csv import encode_csv

        return encode_csv(dense, labels)
    if kind == LIBSVM:
        from lodgepole.formats.libsvm import encode_libsvm

        return encode_libsvm(sp.csr_matrix(features), labels)
    raise DataFormatError(f"cannot write content type {kind!r}.")
