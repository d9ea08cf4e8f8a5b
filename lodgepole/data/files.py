"""Channels stored in files: a file, a folder, a glob, a list of shards or a URL.

Every shard is decoded whole and the shards are concatenated in name order
(SageMaker treats shard order as irrelevant). The content type comes from the
file name or is given explicitly:

- ``application/x-recordio-protobuf``: ``*.pbr``, ``*.recordio``,
  ``*.protobuf`` and names without a suffix (what ``record_set`` writes);
- ``text/csv``: ``*.csv``;
- ``text/libsvm``: ``*.libsvm``, ``*.svm``, ``*.svmlight``;
- ``application/x-parquet``: ``*.parquet``.

A ``.amazon.manifest`` file (as ``record_set`` writes) lists its shards.

Notes
-----
Limitation: the whole channel is loaded into memory, so a channel larger
than RAM fails with MemoryError; streaming with a bounded buffer is planned
(issue 3).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from lodgepole.exceptions import DataFormatError

__all__ = [
    "CONTENT_TYPES",
    "content_type_of",
    "list_shards",
    "read_files",
    "read_named_files",
    "total_size",
]

logger = logging.getLogger(__name__)

RECORDIO = "application/x-recordio-protobuf"
CSV = "text/csv"
LIBSVM = "text/libsvm"
PARQUET = "application/x-parquet"
CONTENT_TYPES = (RECORDIO, CSV, LIBSVM, PARQUET)

_SUFFIXES = {
    ".pbr": RECORDIO,
    ".recordio": RECORDIO,
    ".protobuf": RECORDIO,
    ".csv": CSV,
    ".libsvm": LIBSVM,
    ".svm": LIBSVM,
    ".svmlight": LIBSVM,
    ".parquet": PARQUET,
}


def content_type_of(name: str, explicit: str | None = None) -> str:
    """The content type of a shard: ``explicit`` if given, else from its name.

    Parameters after ``;`` (``text/csv;label_size=1``) are ignored.

    Examples
    --------
    >>> content_type_of("train/part-0.csv")
    'text/csv'
    >>> content_type_of("matrix_0.pbr")
    'application/x-recordio-protobuf'
    >>> content_type_of("data", "text/csv; label_size=1")
    'text/csv'
    """
    if explicit:
        kind = explicit.split(";", 1)[0].strip().lower()
        if kind not in CONTENT_TYPES:
            raise DataFormatError(
                f"unsupported content type {explicit!r}; expected one of "
                f"{', '.join(map(repr, CONTENT_TYPES))}."
            )
        return kind
    suffix = os.path.splitext(name)[1].lower()
    return _SUFFIXES.get(suffix, RECORDIO)


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec

    return fsspec.core.url_to_fs(url)


def list_shards(location: str | os.PathLike[str] | Sequence[str]) -> list[str]:
    """Expand a file, folder, glob or list into shard URLs, sorted by name.

    Hidden files (``.name``) in folders are skipped, except that a folder
    holding a ``.amazon.manifest`` is read through it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for n in ("b.csv", "a.csv", ".hidden"): _ = (d / n).write_text("0,1\\n")
    >>> [pathlib.Path(p).name for p in list_shards(str(d))]
    ['a.csv', 'b.csv']
    """
    if isinstance(location, (list, tuple)):
        return [s for item in location for s in list_shards(item)]
    url = os.fspath(location)  # type: ignore[arg-type]
    fs, path = _filesystem(url)
    protocol = url.split("://", 1)[0] + "://" if "://" in url else ""
    try:
        if any(ch in path for ch in "*?["):
            found = sorted(fs.glob(path))
        elif fs.isdir(path):
            entries = sorted(fs.ls(path, detail=False))
            manifest = [e for e in entries if e.endswith(".amazon.manifest")]
            found = manifest or [
                e
                for e in entries
                if not os.path.basename(e).startswith(".") and not fs.isdir(e)
            ]
        elif fs.exists(path):
            found = [path]
        else:
            found = []
    except OSError as err:
        raise DataFormatError(f"cannot read {url!r}: {err}") from err
    if not found:
        raise DataFormatError(f"no data found at {url!r} (no such file or folder).")
    if protocol and protocol != "file://":
        found = [f if "://" in f else protocol + f for f in found]
    return found


def total_size(shards: Sequence[str]) -> int:
    """Bytes on disk of all shards (0 for any whose size is unknown).

    A record-set manifest counts the shards it lists.
    """
    from lodgepole.data.record_set import MANIFEST_NAME, manifest_shards

    total = 0
    for shard in shards:
        if shard.endswith(MANIFEST_NAME):
            total += total_size(manifest_shards(shard))
            continue
        fs, path = _filesystem(shard)
        try:
            total += int(fs.size(path) or 0)
        except (OSError, TypeError):
            continue
    return total


def _decode(shard: str, content_type: str, data: bytes) -> tuple[Any, Any, Any]:
    """Features, labels and (Parquet only) the feature columns' names."""
    if content_type == RECORDIO:
        from lodgepole.formats.recordio import decode_records

        # Training accepts only float32 tensors (SPEC §4.2), as SageMaker does.
        return (*decode_records(data, source=shard, float32_only=True), None)
    if content_type == CSV:
        from lodgepole.formats.csv import decode_csv

        return (*decode_csv(data, source=shard), None)
    if content_type == LIBSVM:
        from lodgepole.formats.libsvm import decode_libsvm

        return (*decode_libsvm(data, source=shard), None)
    import io

    from lodgepole.formats.parquet import read_parquet

    return read_parquet(io.BytesIO(data), source=shard)


def read_files(
    location: str | os.PathLike[str] | Sequence[str],
    *,
    content_type: str | None = None,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray | None]:
    """Read every shard of a channel into memory.

    Returns
    -------
    tuple
        Features (dense float32, or CSR when any shard is sparse) and labels
        (``None`` when the shards carry none).
    """
    features, labels, _ = read_named_files(location, content_type=content_type)
    return features, labels


def read_named_files(
    location: str | os.PathLike[str] | Sequence[str],
    *,
    content_type: str | None = None,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray | None, tuple[str, ...] | None]:
    """:func:`read_files`, plus the feature names the shards carry.

    Parquet shards name their columns; the names are returned when every
    shard is Parquet and all agree (``None`` otherwise).

    Raises
    ------
    DataFormatError
        If Parquet shards name their features differently.
    """
    from lodgepole.data.record_set import read_record_set

    parts = []
    for shard in list_shards(location):
        if shard.endswith(".amazon.manifest"):
            parts.append((*read_record_set(shard), None))
            continue
        kind = content_type_of(shard, content_type)
        fs, path = _filesystem(shard)
        try:
            with fs.open(path, "rb") as handle:
                data = handle.read()
        except OSError as err:
            raise DataFormatError(f"cannot read shard {shard!r}: {err}") from err
        parts.append(_decode(shard, kind, data))
        logger.debug("shard read shard=%s content_type=%s", shard, kind)

    widths = {p[0].shape[1] for p in parts}
    if len(widths) > 1:
        raise DataFormatError(
            f"shards of {os.fspath(location)!r} disagree on the feature count: "
            f"{sorted(widths)}."
        )
    if any(sp.issparse(p[0]) for p in parts):
        X = sp.vstack([sp.csr_matrix(p[0]) for p in parts], format="csr")
    else:
        X = np.concatenate([p[0] for p in parts])
    labels = [p[1] for p in parts]
    y = None if any(lab is None for lab in labels) else np.concatenate(labels)
    return X, y, agreed_names([p[2] for p in parts], location)


def agreed_names(
    names: Sequence[tuple[str, ...] | None], location: object
) -> tuple[str, ...] | None:
    """The shards' common feature names; None unless every shard has some.

    Raises
    ------
    DataFormatError
        If two shards name their features differently.
    """
    if not names or any(n is None for n in names):
        return None
    first = names[0]
    for other in names[1:]:
        if other != first:
            raise DataFormatError(
                f"shards of {location!r} name their features differently: "
                f"{list(first)!r} and {list(other)!r}."  # type: ignore[arg-type]
            )
    return first
