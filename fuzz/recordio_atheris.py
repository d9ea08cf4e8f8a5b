"""Coverage-guided fuzzing of the RecordIO-protobuf decoder with atheris.

Feeds libFuzzer's inputs to ``read_frames``, ``iter_frames`` (over an
``io.BytesIO`` and over a stream that returns a few bytes a read) and
``decode_records``. A DataFormatError is the expected answer to bad input;
any other exception, or readers that disagree (different payloads or
different error messages), or a malformed result (rows not matching the
records, a dtype other than float32, fast and general decoding paths giving
different arrays) is a crash, and libFuzzer saves the input as
``crash-<sha1>``.

The first input byte picks the decoder options (``require_labels``,
``feature_dim``, ``float32_only``, the stream's read size, ``max_length``);
the rest is the body.

Usage, from the repository root::

    pip install atheris
    python fuzz/recordio_atheris.py -atheris_runs=100000

With a corpus directory (libFuzzer keeps the inputs that reach new code
there; ``--make-corpus`` first fills it with valid bodies made by the
package's own encoders)::

    python fuzz/recordio_atheris.py --make-corpus fuzz/corpus
    python fuzz/recordio_atheris.py fuzz/corpus -max_total_time=600

Replay one input (a crash file, say) without fuzzing::

    python fuzz/recordio_atheris.py crash-0123abcd

Importing this module does not need atheris: ``TestOneInput`` and
``seed_inputs`` work on their own, and tests/fuzz runs them on the seeds.
"""

from __future__ import annotations

import io
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger("lodgepole.fuzz.recordio")

_modules: dict[str, ModuleType] = {}


def _load() -> dict[str, ModuleType]:
    """Import the decoders on first use, so that `main` can instrument them."""
    if not _modules:
        import importlib

        for name in (
            "lodgepole.exceptions",
            "lodgepole.formats._recordio_layout",
            "lodgepole.formats.recordio",
        ):
            _modules[name.rsplit(".", 1)[-1]] = importlib.import_module(name)
    return _modules


class _Trickle(io.RawIOBase):
    """A raw stream returning at most ``step`` bytes a read, like a pipe."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.pos = 0
        self.step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self.step, len(self.data) - self.pos)
        buffer[:size] = self.data[self.pos : self.pos + size]
        self.pos += size
        return size


@dataclass(frozen=True)
class _Rejected:
    """A DataFormatError's message: the expected outcome for bad input."""

    message: str


def _outcome(run: Any) -> Any:
    """The value of ``run()``, or `_Rejected` for a DataFormatError."""
    error = _load()["exceptions"].DataFormatError
    try:
        return run()
    except error as err:
        message = str(err)
        if not message.strip():
            raise AssertionError(f"DataFormatError without a message: {err!r}") from err
        return _Rejected(message)


def TestOneInput(data: bytes) -> None:
    """Run every RecordIO reader on one input; raise on anything but rejection."""
    import numpy as np
    import scipy.sparse as sp

    m = _load()
    recordio = m["recordio"]
    flags = data[0] if data else 0
    body = bytes(data[1:])
    require_labels = bool(flags & 1)
    float32_only = bool(flags & 2)
    feature_dim = None if flags & 4 else (flags >> 3) & 3
    step = 1 + (flags >> 5)

    whole = _outcome(lambda: recordio.read_frames(body, source="fuzz"))
    for handle in (io.BytesIO(body), _Trickle(body, step)):
        streamed = _outcome(
            lambda h=handle: list(recordio.iter_frames(h, source="fuzz"))
        )
        if streamed != whole:
            raise AssertionError(
                f"iter_frames gave {streamed!r}, read_frames {whole!r}"
            )
    if isinstance(whole, list):
        limit = 8 * step
        bounded = _outcome(
            lambda: list(
                recordio.iter_frames(io.BytesIO(body), source="fuzz", max_length=limit)
            )
        )
        if isinstance(bounded, list) and bounded != whole:
            raise AssertionError(f"max_length changed the payloads: {bounded!r}")

    options = {
        "require_labels": require_labels,
        "feature_dim": feature_dim,
        "float32_only": float32_only,
    }
    decoded = _outcome(lambda: recordio.decode_records(body, source="fuzz", **options))
    if isinstance(decoded, _Rejected):
        return
    if not isinstance(whole, list):
        raise AssertionError(
            f"decode_records accepted a body read_frames rejects: {whole}"
        )
    features, labels = decoded
    if features.dtype != np.float32 or features.shape[0] != len(whole):
        raise AssertionError(
            f"features {features.dtype} {features.shape} for {len(whole)} records"
        )
    if feature_dim is not None and features.shape[1] != feature_dim:
        raise AssertionError(f"width {features.shape[1]}, feature_dim {feature_dim}")
    if sp.issparse(features):
        features.check_format(full_check=True)
    if labels is not None and (
        labels.dtype != np.float32 or labels.shape != (len(whole),)
    ):
        raise AssertionError(f"labels {labels.dtype} {labels.shape}")
    if require_labels and labels is None:
        raise AssertionError("require_labels=True but no labels returned")

    fast = m["_recordio_layout"]._decode_fast(body, require_labels, feature_dim)
    if fast is not None:
        general = recordio._decode_general(
            body, "fuzz", require_labels, feature_dim, float32_only
        )
        np.testing.assert_array_equal(fast[0], general[0])
        if (fast[1] is None) != (general[1] is None):
            raise AssertionError("fast and general paths disagree on labels")
        if fast[1] is not None:
            np.testing.assert_array_equal(fast[1], general[1])


def seed_inputs() -> list[bytes]:
    """Valid bodies (with an options byte in front) to start fuzzing from."""
    import numpy as np
    import scipy.sparse as sp

    recordio = _load()["recordio"]
    X = np.array([[1.5, -2.0, 0.0], [0.0, 3.25, 4.0]], dtype=np.float32)
    y = np.array([0.0, 1.0], dtype=np.float32)
    bodies = [
        recordio.encode_records(X, y),  # dense float32: the fast path
        recordio.encode_records(X),
        recordio.encode_records(X.astype(np.float64), y),
        recordio.encode_records(X.astype(np.int32), y),
        recordio.encode_records(sp.csr_matrix(X), y),
        recordio.encode_prediction_records(X, np.array([2, 1])),
        recordio.write_frames([b"", b"abc", b"\x00" * 9]),
        # One record in three parts (continuation flags 1, 2, 3).
        b"".join(
            recordio.write_frames([part])[:4]
            + ((flag << 29) | len(part)).to_bytes(4, "little")
            + part
            + b"\0" * (-len(part) % 4)
            for flag, part in ((1, b"ab"), (2, b"c"), (3, b"defg"))
        ),
        b"",
    ]
    return [bytes([flags]) + body for body in bodies for flags in (0x00, 0x05, 0x89)]


def _make_corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seed_inputs()):
        (directory / f"seed-{number:03d}").write_bytes(seed)
    logger.info("wrote %d seed inputs to %s", len(seed_inputs()), directory)


def main(argv: list[str]) -> None:
    """Fuzz with atheris, write a seed corpus, or replay files given as arguments."""
    if len(argv) == 3 and argv[1] == "--make-corpus":
        _make_corpus(Path(argv[2]))
        return
    files = [Path(a) for a in argv[1:] if not a.startswith("-")]
    if files and all(path.is_file() for path in files):
        for path in files:
            TestOneInput(path.read_bytes())
            logger.info("%s: no crash", path)
        return

    import atheris

    with atheris.instrument_imports(include=["lodgepole"]):
        _load()
    atheris.Setup(argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(sys.argv)
