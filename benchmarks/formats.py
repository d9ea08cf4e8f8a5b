"""Decode throughput of lodgepole's codecs beside pandas and numpy.

Writes about 100 MB of covtype_like records (label + 54 features) as dense
RecordIO-protobuf, CSV and Parquet, then times decoding each in one process:
RecordIO on its vectorised fast path and on the general protobuf path, CSV
with lodgepole, ``pandas.read_csv`` and ``numpy.loadtxt``, Parquet with
lodgepole (pyarrow). Prints MB/s (of the file's own size) and rows/s.

Usage::

    python benchmarks/formats.py [--rows N]
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np

from lodgepole import datasets
from lodgepole.formats import csv, recordio


def _time(function, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def _report(name: str, size: int, rows: int, seconds: float) -> None:
    rate = size / seconds / 1e6
    row_rate = rows / seconds / 1e6
    print(
        f"  {name:<38} {rate:9.1f} MB/s {row_rate:7.2f} M rows/s"
        f"  ({size / 1e6:.0f} MB in {seconds:.3f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=400_000)
    args = parser.parse_args()
    data = datasets.covtype_like(args.rows, seed=0)
    X, y = data.features, data.labels
    n = len(y)

    pbr = recordio.encode_records(X, y)
    print(f"{n:,} rows x {X.shape[1]} features")
    _report(
        "RecordIO fast path", len(pbr), n, _time(lambda: recordio.decode_records(pbr))
    )
    general_rows = min(n, 50_000)
    small = recordio.encode_records(X[:general_rows], y[:general_rows])
    seconds = _time(
        lambda: recordio._decode_general(small, "<bench>", False, None, False), 1
    )
    _report(
        f"RecordIO general path ({general_rows:,} rows)",
        len(small),
        general_rows,
        seconds,
    )

    text = csv.encode_csv(X, y)
    _report("CSV lodgepole", len(text), n, _time(lambda: csv.decode_csv(text)))
    try:
        import pandas as pd

        _report(
            "CSV pandas.read_csv",
            len(text),
            n,
            _time(lambda: pd.read_csv(io.BytesIO(text), header=None, dtype=np.float32)),
        )
    except ImportError:
        print("  pandas not installed")
    _report(
        "CSV numpy.loadtxt",
        len(text),
        n,
        _time(lambda: np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float32), 1),
    )
    try:
        from lodgepole.formats import parquet

        buffer = io.BytesIO()
        parquet.write_parquet(buffer, X, y)
        blob = buffer.getvalue()
        _report(
            "Parquet lodgepole (pyarrow)",
            len(blob),
            n,
            _time(lambda: parquet.read_parquet(io.BytesIO(blob))),
        )
    except ImportError as err:
        print(f"  Parquet skipped: {err}")


if __name__ == "__main__":
    main()
