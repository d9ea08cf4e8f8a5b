"""``record_set``: write arrays as sharded RecordIO-protobuf, as the SageMaker SDK does.

Layout (SPEC §4.3): under ``<location><prefix>/`` the rows are split into
``num_shards`` contiguous blocks (the last takes the remainder), each written
to ``matrix_<i>.pbr`` with ``i`` zero-padded to the digit count of the shard
count, plus a manifest ``.amazon.manifest`` whose JSON is
``[{"prefix": "<location><prefix>/"}, "matrix_0.pbr", ...]``. The location is a
local directory or any fsspec URL (``s3://bucket/key/`` needs ``s3fs``).

Costs: each shard is encoded whole in memory (about 220 bytes per dense
54-feature record) and written in one call; shards are written one after
another. Local files are written to a temporary name and renamed, so a
reader never sees half a shard; the manifest is written last.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from lodgepole.exceptions import DataFormatError

__all__ = [
    "MANIFEST_NAME",
    "RecordSet",
    "manifest_shards",
    "read_record_set",
    "record_set",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = ".amazon.manifest"


@dataclass(frozen=True)
class RecordSet:
    """Where a channel's RecordIO shards are, and what they hold.

    The attribute names follow the SageMaker SDK's ``RecordSet``.

    Attributes
    ----------
    s3_data
        URL or path of the manifest file.
    num_records, feature_dim
        Rows written and features per row.
    channel
        ``train``, ``validation`` or ``test``.
    s3_data_type, distribution
        ``"ManifestFile"`` and ``"ShardedByS3Key"``, as the SDK sets them.
    """

    s3_data: str
    num_records: int
    feature_dim: int
    channel: str = "train"
    s3_data_type: str = "ManifestFile"
    distribution: str = "ShardedByS3Key"

    @property
    def location(self) -> str:
        """The folder holding the shards (the manifest's prefix)."""
        return self.s3_data.rsplit("/", 1)[0] + "/"


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    return fs, path


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def _write_atomic(fs: Any, path: str, data: bytes) -> None:
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return
    with fs.open(path, "wb") as handle:  # object stores replace objects whole
        handle.write(data)


def record_set(
    features: np.ndarray | sp.spmatrix,
    labels: np.ndarray | None = None,
    *,
    channel: str = "train",
    location: str | os.PathLike[str] = "lodgepole-record-sets/",
    num_shards: int | None = None,
    shard_size: int | None = None,
    prefix: str | None = None,
) -> RecordSet:
    """Write ``features`` (and ``labels``) as sharded RecordIO-protobuf.

    Parameters
    ----------
    features
        ``(num_records, feature_dim)`` dense array or scipy.sparse matrix.
    labels
        Optional label per record.
    channel
        Channel name stored in the returned RecordSet.
    location
        Local folder or fsspec URL under which the record set folder is made.
    num_shards
        Number of ``matrix_<i>.pbr`` files (the SDK uses the instance count);
        default 1, or enough shards of ``shard_size`` records.
    shard_size
        About this many records per shard: ``num_records // shard_size``
        even blocks, the last taking the remainder. Give this or
        ``num_shards``, not both.
    prefix
        Folder name under ``location``; default ``LinearLearner-<timestamp>``.

    Returns
    -------
    RecordSet

    Examples
    --------
    >>> import tempfile
    >>> rs = record_set(np.eye(3, dtype=np.float32), np.array([0, 1, 1]),
    ...                 location=tempfile.mkdtemp(), num_shards=2)
    >>> rs.num_records, rs.feature_dim, rs.s3_data.endswith(".amazon.manifest")
    (3, 3, True)
    """
    from lodgepole.formats.recordio import encode_records

    num_records, feature_dim = features.shape
    if shard_size is not None:
        if num_shards is not None:
            raise DataFormatError(
                "record_set: give num_shards or shard_size, not both; got "
                f"num_shards={num_shards!r}, shard_size={shard_size!r}."
            )
        if shard_size < 1:
            raise DataFormatError(
                f"record_set: shard_size must be >= 1; got {shard_size!r}."
            )
        num_shards = max(1, num_records // shard_size)
    num_shards = 1 if num_shards is None else num_shards
    if labels is not None and len(labels) != num_records:
        raise DataFormatError(
            f"record_set: expected one label per record ({num_records}); "
            f"got {len(labels)} labels."
        )
    if num_shards < 1 or num_shards > max(num_records, 1):
        raise DataFormatError(
            f"record_set: num_shards must be in [1, {max(num_records, 1)}] "
            f"(one record per shard at least); got {num_shards!r}."
        )
    if prefix is None:
        prefix = "LinearLearner-" + time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
    base = _join(os.fspath(location), prefix)
    fs, root = _filesystem(base)
    fs.makedirs(root, exist_ok=True)

    digits = len(str(num_shards))
    block = num_records // num_shards
    names = []
    for index in range(num_shards):
        start = index * block
        stop = num_records if index == num_shards - 1 else start + block
        name = f"matrix_{index:0{digits}d}.pbr"
        rows = slice(start, stop)
        payload = encode_records(
            features[rows], None if labels is None else np.asarray(labels)[rows]
        )
        _write_atomic(fs, _join(root, name), payload)
        names.append(name)
        logger.debug("record_set shard written name=%s records=%d", name, stop - start)

    manifest = json.dumps([{"prefix": base.rstrip("/") + "/"}, *names])
    _write_atomic(fs, _join(root, MANIFEST_NAME), manifest.encode())
    logger.info(
        "record set written location=%s shards=%d records=%d",
        base,
        num_shards,
        num_records,
    )
    return RecordSet(
        s3_data=_join(base, MANIFEST_NAME),
        num_records=int(num_records),
        feature_dim=int(feature_dim),
        channel=channel,
    )


def manifest_shards(url: str) -> list[str]:
    """The shard URLs a ``.amazon.manifest`` lists, in order.

    Examples
    --------
    >>> import tempfile
    >>> rs = record_set(np.eye(4, dtype=np.float32), location=tempfile.mkdtemp(),
    ...                 num_shards=2, prefix="p")
    >>> [s.rsplit("/", 1)[1] for s in manifest_shards(rs.s3_data)]
    ['matrix_0.pbr', 'matrix_1.pbr']
    """
    fs, path = _filesystem(url)
    try:
        with fs.open(path, "rb") as handle:
            entries = json.loads(handle.read())
        prefix = entries[0]["prefix"]
        return [_join(prefix, str(name)) for name in entries[1:]]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise DataFormatError(
            f"{url!r} is not a readable record-set manifest "
            f'([{{"prefix": ...}}, "matrix_0.pbr", ...]): {err}'
        ) from err


def read_record_set(
    manifest: str | os.PathLike[str] | RecordSet,
) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray | None]:
    """Read every shard a manifest lists, in order, into memory.

    Examples
    --------
    >>> import tempfile
    >>> rs = record_set(np.eye(2, dtype=np.float32), np.array([0, 1]),
    ...                 location=tempfile.mkdtemp())
    >>> X, y = read_record_set(rs)
    >>> X.tolist(), y.tolist()
    ([[1.0, 0.0], [0.0, 1.0]], [0.0, 1.0])
    """
    from lodgepole.formats.recordio import decode_records

    url = manifest.s3_data if isinstance(manifest, RecordSet) else os.fspath(manifest)
    parts = []
    for shard in manifest_shards(url):
        shard_fs, shard_path = _filesystem(shard)
        try:
            with shard_fs.open(shard_path, "rb") as handle:
                data = handle.read()
        except OSError as err:
            raise DataFormatError(
                f"record-set manifest {url!r} lists shard {shard!r}, which "
                f"cannot be read: {err}"
            ) from err
        parts.append(decode_records(data, source=shard))
    if not parts:
        raise DataFormatError(f"record-set manifest {url!r} lists no shards.")
    features = [p[0] for p in parts]
    if any(sp.issparse(f) for f in features):
        X = sp.vstack([sp.csr_matrix(f) for f in features], format="csr")
    else:
        X = np.concatenate(features)
    labels = [p[1] for p in parts]
    y = None if any(lab is None for lab in labels) else np.concatenate(labels)
    return X, y
