"""Batch transform: score whole files into ``<name>.out`` files (issue 4).

Like a SageMaker batch transform job, :func:`transform` reads every input
shard and writes one output file per shard, ``<shard name>.out``, holding one
prediction per input row in input order.

Memory bounds
-------------
CSV and JSON Lines shards are read in byte blocks of ``BLOCK_SIZE`` bytes and
split on newlines; at most ``records_per_chunk`` lines are decoded and scored
at a time, so memory is about one block plus one chunk of lines (a single
line longer than a block is held whole). Parquet shards are read
``records_per_chunk`` rows at a time (pyarrow's batch reader; columns by the
model's feature names when it has them). RecordIO-protobuf shards are read
in blocks of 1 MiB and split into frames; ``records_per_chunk`` records at a
time are decoded and scored, so memory is about one block plus twice one
chunk of records (the framed records, then their float32 rows); a frame
longer than any record of ``feature_dim`` features could need is refused
before it is read. Output is written chunk by chunk to a temporary file in
the output folder, renamed to its final name only when the shard is complete.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from lodgepole import train
>>> X = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float32)
>>> y = np.array([0.0, 0.0, 1.0, 1.0], dtype=np.float32)
>>> model = train({"predictor_type": "binary_classifier", "epochs": 1}, (X, y)).model
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "rows.csv").write_text("0\\n3\\n")
>>> [p.name for p in transform(model, folder / "rows.csv", folder / "out")]
['rows.csv.out']
>>> len((folder / "out" / "rows.csv.out").read_text().splitlines())
2
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from lodgepole.data.files import (
    PARQUET,
    RECORDIO,
    _filesystem,
    content_type_of,
    list_shards,
    total_size,
)
from lodgepole.exceptions import DataFormatError
from lodgepole.formats.json import JSONLINES, encode_predictions_jsonlines

__all__ = ["ACCEPT_TYPES", "BLOCK_SIZE", "CONTENT_TYPES", "transform"]

logger = logging.getLogger(__name__)

CSV = "text/csv"

#: Input content types :func:`transform` reads.
CONTENT_TYPES = (CSV, JSONLINES, RECORDIO, PARQUET)

#: Output types :func:`transform` writes (both stream one record per row).
ACCEPT_TYPES = (JSONLINES, RECORDIO)

#: Bytes read from a text shard at a time.
BLOCK_SIZE = 1 << 20

_JSONLINES_SUFFIXES = (".jsonl", ".jsonlines")

# "'source', line N (row R, byte offset B)" and "line N (instance R)".
_PLACE = re.compile(r"line (\d+) \((row|instance) (\d+)(?:, byte offset (\d+))?")
# "'source', record N, byte offset B" and "like record N".
_RECORD = re.compile(r"record (\d+)(, byte offset \d+)?")


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _input_type(shard: str, explicit: str | None) -> str:
    if explicit:
        kind = _media_type(explicit)
        if kind not in CONTENT_TYPES:
            raise DataFormatError(
                f"unsupported content type {explicit!r} for batch transform; "
                f"expected one of {', '.join(map(repr, CONTENT_TYPES))}."
            )
        return kind
    if shard.lower().endswith(_JSONLINES_SUFFIXES):
        return JSONLINES
    kind = content_type_of(shard)
    if kind not in CONTENT_TYPES:
        raise DataFormatError(
            f"cannot batch-transform {shard!r} ({kind}); give a content type of "
            f"{', '.join(map(repr, CONTENT_TYPES))}."
        )
    return kind


def _line_chunks(
    handle: IO[bytes], lines_per_chunk: int, block_size: int
) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(first line number, byte offset, bytes)`` of whole-line chunks."""
    pending = bytearray()
    first_line, offset = 1, 0
    scanned, count = 0, 0
    while True:
        while count < lines_per_chunk:
            newline = pending.find(b"\n", scanned)
            if newline < 0:
                break
            scanned, count = newline + 1, count + 1
        if count == lines_per_chunk:
            chunk = bytes(pending[:scanned])
            del pending[:scanned]
            yield first_line, offset, chunk
            first_line, offset = first_line + count, offset + len(chunk)
            scanned, count = 0, 0
            continue
        block = handle.read(block_size)
        if not block:
            break
        pending += block
    if pending:
        yield first_line, offset, bytes(pending)


def _shifted(err: DataFormatError, lines: int, rows: int, offset: int) -> str:
    """The message of ``err`` with chunk-relative places made file-relative."""

    def shift(match: re.Match[str]) -> str:
        text = f"line {int(match[1]) + lines} ({match[2]} {int(match[3]) + rows}"
        if match[4] is not None:
            text += f", byte offset {int(match[4]) + offset}"
        return text

    return _PLACE.sub(shift, str(err), count=1)


def _text_batches(
    handle: IO[bytes],
    shard: str,
    kind: str,
    feature_dim: int,
    records_per_chunk: int,
    has_labels: bool,
) -> Iterator[Any]:
    from lodgepole.formats.csv import decode_csv
    from lodgepole.formats.json import decode_jsonlines_instances

    rows = 0
    for first_line, offset, chunk in _line_chunks(
        handle, records_per_chunk, BLOCK_SIZE
    ):
        if not chunk.strip():
            continue
        try:
            if kind == CSV:
                features, _ = decode_csv(
                    chunk, has_labels=has_labels, source=shard, feature_dim=feature_dim
                )
            else:
                features = decode_jsonlines_instances(
                    chunk, feature_dim=feature_dim, source=shard
                )
        except DataFormatError as err:
            raise DataFormatError(_shifted(err, first_line - 1, rows, offset)) from err
        rows += features.shape[0]
        yield features


def _max_frame_bytes(feature_dim: int) -> int:
    """Longest frame payload a record of ``feature_dim`` features can need."""
    # A value takes at most 8 bytes (float64) or 10 (varint int32), a sparse
    # key at most 10, plus tags; 1 MiB more covers labels and other entries.
    return 32 * feature_dim + (1 << 20)


def _renumbered(err: DataFormatError, first: int, offsets: Sequence[int]) -> str:
    """The message of ``err`` with chunk-relative records made file-relative.

    The chunk was framed anew, so byte offsets are looked up in ``offsets``
    (file offset of each record of the chunk) rather than shifted.
    """

    def shift(match: re.Match[str]) -> str:
        index = int(match[1])
        if match[2] is None:
            return f"record {index + first}"
        return f"record {index + first}, byte offset {offsets[index]}"

    return _RECORD.sub(shift, str(err))


def _decode_chunk(
    framed: bytearray, shard: str, feature_dim: int, first: int, offsets: list[int]
) -> Any:
    """Features of a chunk of records framed anew; empties ``framed``."""
    from lodgepole.formats.recordio import decode_records

    data = bytes(framed)
    framed.clear()
    try:
        return decode_records(data, source=shard, feature_dim=feature_dim)[0]
    except DataFormatError as err:
        raise DataFormatError(_renumbered(err, first, offsets)) from err


def _recordio_batches(
    handle: IO[bytes], shard: str, feature_dim: int, records_per_chunk: int
) -> Iterator[Any]:
    from lodgepole.formats._framing import _stream_records
    from lodgepole.formats.recordio import write_frames

    # Limitation: records are checked against each other within a chunk only,
    # so a tensor type or label presence differing from record 0 is accepted
    # at a chunk boundary, and a chunk of dense records is scored as a dense
    # array even when another chunk of the shard is sparse (same scores up to
    # float32 rounding). Widths are always checked against feature_dim.
    records = _stream_records(handle, shard, _max_frame_bytes(feature_dim))
    first = 0
    framed = bytearray()
    while True:
        # Frame each record as it comes, so its payload is freed at once.
        offsets = []
        for offset, payload in itertools.islice(records, records_per_chunk):
            offsets.append(offset)
            framed += write_frames([payload])
        if not offsets:
            return
        # Not bound to a name here: the rows are freed once the caller is done.
        yield _decode_chunk(framed, shard, feature_dim, first, offsets)
        first += len(offsets)


def _parquet_batches(
    handle: IO[bytes], shard: str, model: Any, records_per_chunk: int, has_labels: bool
) -> Iterator[Any]:
    """Row groups of a Parquet shard, ``records_per_chunk`` rows at a time.

    A model with feature names reads those columns by name (other columns,
    such as a label or an id, are ignored); one without reads every column,
    less the first when ``has_labels``, in file order.
    """
    from lodgepole.data._tabular import numeric_table

    try:
        import pyarrow.parquet as pq
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'Parquet files need pyarrow: pip install "lodgepole[parquet]"'
        ) from err
    try:
        table = pq.ParquetFile(handle)
    except (OSError, ValueError) as err:  # ArrowInvalid is a ValueError
        raise DataFormatError(f"{shard!r}: not a readable Parquet file: {err}") from err
    present = list(table.schema_arrow.names)
    if model.feature_names is not None:
        missing = [n for n in model.feature_names if n not in present]
        if missing:
            raise DataFormatError(
                f"{shard!r}: lacks the model's feature column(s) {missing!r}; "
                f"it has {present!r}."
            )
        columns = list(model.feature_names)
    else:
        columns = present[1:] if has_labels else present
    first = 0
    for batch in table.iter_batches(batch_size=records_per_chunk, columns=columns):
        where = f"{shard!r}, rows {first}..{first + batch.num_rows - 1}"
        yield numeric_table(batch, where)
        first += batch.num_rows


def _transform_shard(
    model: Any,
    shard: str,
    kind: str,
    target: Path,
    accept: str,
    records_per_chunk: int,
    has_labels: bool,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    if accept == RECORDIO:
        from lodgepole.formats.recordio import encode_prediction_records as encode
    else:
        encode = encode_predictions_jsonlines
    fs, path = _filesystem(shard)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    rows = 0
    try:
        with os.fdopen(descriptor, "wb") as out, fs.open(path, "rb") as handle:
            if kind == RECORDIO:
                batches = _recordio_batches(
                    handle, shard, model.feature_dim, records_per_chunk
                )
            elif kind == PARQUET:
                batches = _parquet_batches(
                    handle, shard, model, records_per_chunk, has_labels
                )
            else:
                batches = _text_batches(
                    handle,
                    shard,
                    kind,
                    model.feature_dim,
                    records_per_chunk,
                    has_labels,
                )
            for features in batches:
                if features.shape[0] == 0:
                    continue
                prediction = model.predict(features)
                out.write(encode(prediction.score, prediction.predicted_label))
                rows += features.shape[0]
                del features, prediction  # freed before the next chunk is read
                if progress is not None:
                    progress(handle.tell(), rows)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return rows


def transform(
    model: Any,
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    content_type: str | None = None,
    accept: str = JSONLINES,
    records_per_chunk: int = 10_000,
    has_labels: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Score every input shard into ``output_dir/<shard name>.out``.

    Parameters
    ----------
    model : lodgepole.model.LinearModel
        The model to score with.
    inputs : path, URL, glob, folder, or a sequence of them
        The input shards, expanded by :func:`lodgepole.data.files.list_shards`.
    output_dir : path
        Local folder for the output files; created if missing.
    content_type : str, optional
        Input type, one of :data:`CONTENT_TYPES`; by default from each file
        name (``.csv``, ``.jsonl``/``.jsonlines``, otherwise RecordIO).
    accept : str, default "application/jsonlines"
        Output type, one of :data:`ACCEPT_TYPES`; one record per input row.
    records_per_chunk : int, default 10000
        Rows (lines, for text input) decoded and scored at a time.
    has_labels : bool, default False
        Whether CSV rows start with a label column, which is then ignored.
    progress : callable, optional
        Called after each chunk with the bytes of input read and the records
        scored so far, over all shards (the CLI's progress bar).

    Returns
    -------
    list of pathlib.Path
        The output files, in the order of the input shards.

    Raises
    ------
    DataFormatError
        If a type is unsupported or an input is malformed; the message names
        the file and the line (text) or record (RecordIO). Output files of
        shards already done are kept; no partial file is left.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from lodgepole import train
    >>> X = np.array([[0.0], [1.0]], dtype=np.float32)
    >>> y = np.array([0.0, 1.0], dtype=np.float32)
    >>> model = train({"predictor_type": "regressor", "epochs": 1}, (X, y)).model
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.jsonl").write_text('[0.0]\\n[1.0]\\n')
    >>> out = transform(model, folder / "a.jsonl", folder / "out")
    >>> out[0].read_text().count('"score"')
    2
    """
    accept_type = _media_type(accept)
    if accept_type not in ACCEPT_TYPES:
        raise DataFormatError(
            f"unsupported accept type {accept!r} for batch transform; expected "
            f"one of {', '.join(map(repr, ACCEPT_TYPES))}."
        )
    if records_per_chunk < 1:
        raise ValueError(f"records_per_chunk must be >= 1, got {records_per_chunk}.")
    if isinstance(inputs, (list, tuple)):
        location: Any = [os.fspath(item) for item in inputs]
    else:
        location = os.fspath(inputs)  # type: ignore[arg-type]
    shards = list_shards(location)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    bytes_done = rows_done = 0

    def advance(position: int, rows: int) -> None:
        if progress is not None:
            progress(bytes_done + position, rows_done + rows)

    for shard in shards:
        kind = _input_type(shard, content_type)
        target = folder / (os.path.basename(shard.rstrip("/")) + ".out")
        rows = _transform_shard(
            model,
            shard,
            kind,
            target,
            accept_type,
            records_per_chunk,
            has_labels,
            advance,
        )
        bytes_done += total_size([shard])
        rows_done += rows
        logger.info(
            "batch transform shard=%s content_type=%s rows=%d output=%s",
            shard,
            kind,
            rows,
            target,
        )
        written.append(target)
    return written
