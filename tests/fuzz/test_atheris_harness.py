"""The atheris harness in fuzz/recordio_atheris.py, run on its seeds without atheris.

Keeps the harness from rotting: it must import without atheris, accept every
seed (valid bodies) and treat corrupt ones as rejections, not crashes.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

_HARNESS = Path(__file__).resolve().parents[2] / "fuzz" / "recordio_atheris.py"


@pytest.fixture(scope="module")
def harness() -> Iterator[ModuleType]:
    had_atheris = "atheris" in sys.modules
    name = "lodgepole_fuzz_recordio_atheris"
    spec = importlib.util.spec_from_file_location(name, _HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        assert ("atheris" in sys.modules) == had_atheris, "importing needs no atheris"
        yield module
    finally:
        del sys.modules[name]


def test_seeds_decode(harness: ModuleType) -> None:
    seeds = harness.seed_inputs()
    assert len(seeds) >= 20
    for seed in seeds:
        harness.TestOneInput(seed)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x0a\x23\xd7\xce" + struct.pack("<I", 2**29 - 1) + b"tiny",
        b"\x0a\x23\xd7\xce" + struct.pack("<I", 2**32 - 1),
        b"\x0a\x23\xd7\xce\x03\x00\x00\x00abc\x01",  # nonzero padding
        b"not recordio at all",
        b"\x0a\x23\xd7\xce\x04\x00\x00\x00\xff\xff\xff\xff",  # unparsable record
    ],
)
@pytest.mark.parametrize("flags", [0x00, 0x07, 0xFF])
def test_corrupt_bodies_are_rejections(
    harness: ModuleType, body: bytes, flags: int
) -> None:
    harness.TestOneInput(bytes([flags]) + body)


def test_mutated_seeds(harness: ModuleType) -> None:
    """Every truncation of a multi-record seed is handled without a crash."""
    seed = harness.seed_inputs()[0]
    for end in range(len(seed)):
        harness.TestOneInput(seed[:end])


def test_replay_and_make_corpus(harness: ModuleType, tmp_path: Path) -> None:
    harness.main(["recordio_atheris.py", "--make-corpus", str(tmp_path / "corpus")])
    files = sorted((tmp_path / "corpus").iterdir())
    assert len(files) == len(harness.seed_inputs())
    harness.main(["recordio_atheris.py", *map(str, files[:3])])
