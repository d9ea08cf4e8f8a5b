"""Writing and reading the model artifact of a :class:`~lodgepole.model.LinearModel`.

Private: :meth:`LinearModel.save <lodgepole.model.LinearModel.save>` and
:meth:`LinearModel.load <lodgepole.model.LinearModel.load>` call
:func:`write_artifact` and :func:`read_artifact`. The module also holds the
JSON conversion helpers: :func:`freeze_mapping` and :func:`freeze_metrics`
turn what a model is built from into read-only JSON-able values, and
``_thaw`` and ``_metrics_to_json`` turn them back for ``model.json``.

A model artifact is a directory, or a ``.tar.gz`` file, holding two files:

``model.json``
    Format name ``"lodgepole-linear-model"``, ``format_version``, the
    lodgepole version that wrote it, predictor type, link, threshold,
    ``feature_dim``, ``num_classes``, label and feature names,
    hyperparameters, metrics, metadata, and the SHA-256, shape and dtype of
    every array in ``weights.npz``, and ``manifest_sha256``: the SHA-256 of
    the document itself (all other keys, as canonical JSON), so an edit to
    any field of ``model.json`` is detected as surely as one to the weights.
``weights.npz``
    The float32 arrays ``weights`` (feature_dim, K) and ``bias`` (K,), read
    with pickle disabled.

Writes are atomic: the new artifact is built beside the target and renamed
into place, so readers see the old artifact or the new one, never a mix.

Notes
-----
``model.json`` is strict JSON. Metric values that are not finite (an AUC on a
channel with one class, say) are written as ``null`` and read back as
``nan``; inside ``hyperparameters`` and ``metadata`` a non-finite float is
turned into ``None`` when the model is built. Finite floats survive a round
trip exactly, because ``json`` writes the shortest repr that reads back to
the same double.

The same model always gives the same bytes: the zip entries in
``weights.npz`` and the ``.tar.gz`` headers carry fixed timestamps, so the
SHA-256 of an artifact identifies the model.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import math
import os
import shutil
import tarfile
import tempfile
import types
import uuid
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lodgepole.__about__ import __version__
from lodgepole.exceptions import ModelFormatError

if TYPE_CHECKING:
    from lodgepole.model import LinearModel

FORMAT_NAME = "lodgepole-linear-model"
FORMAT_VERSION = 1

MODEL_JSON = "model.json"
WEIGHTS_NPZ = "weights.npz"
ARTIFACT_FILES = (MODEL_JSON, WEIGHTS_NPZ)
# Largest file accepted in an artifact, and largest array payload in the npz.
MAX_MEMBER_BYTES = 2 * 1024**3
# Padding accepted after a tarball's end-of-archive blocks (tar pads to 10 KiB).
_MAX_TRAILING_BYTES = 1 << 20

_REQUIRED_KEYS = (
    "format",
    "format_version",
    "lodgepole_version",
    "predictor_type",
    "link",
    "threshold",
    "feature_dim",
    "num_classes",
    "label_names",
    "feature_names",
    "hyperparameters",
    "metrics",
    "metadata",
    "files",
    "manifest_sha256",
)
# Zip entries need a date; 1980-01-01 is the earliest the format can store.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_artifact(model: LinearModel, target: Path) -> None:
    """Write the artifact of ``model`` at ``target``, atomically.

    ``target`` is a ``.tar.gz`` file name, or else a directory; see
    :meth:`LinearModel.save <lodgepole.model.LinearModel.save>`, whose
    example exercises this function.
    """
    files = _artifact_files(model)
    if target.name.endswith(".tar.gz"):
        _write_tarball(target, files)
    else:
        _write_directory(target, files)


def read_artifact(cls: type[LinearModel], source: Path) -> LinearModel:
    """Read the artifact at ``source`` (a directory or ``.tar.gz`` file) into ``cls``.

    Raises ``FileNotFoundError`` or ``ModelFormatError`` as described in
    :meth:`LinearModel.load <lodgepole.model.LinearModel.load>`, whose example
    exercises this function.
    """
    if source.is_dir():
        files = _read_directory(source)
    elif source.is_file():
        files = _read_tarball(source)
    else:
        raise FileNotFoundError(
            f"no model artifact at {str(source)!r}: expected a directory or a "
            ".tar.gz file holding model.json and weights.npz."
        )
    return _model_from_files(cls, files, source)


# --- model.json -------------------------------------------------------------


def _artifact_files(model: LinearModel) -> dict[str, bytes]:
    arrays = {"weights": model.weights, "bias": model.bias}
    npz = _npz_bytes(arrays)
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "lodgepole_version": __version__,
        "predictor_type": model.predictor_type.value,
        "link": model.link,
        "threshold": model.threshold,
        "feature_dim": model.feature_dim,
        "num_classes": model.num_classes,
        "label_names": _thaw(model.label_names),
        "feature_names": _thaw(model.feature_names),
        "hyperparameters": _thaw(model.hyperparameters),
        "metrics": _metrics_to_json(model.metrics),
        "metadata": _thaw(model.metadata),
        "files": {
            WEIGHTS_NPZ: {
                "sha256": hashlib.sha256(npz).hexdigest(),
                "arrays": {
                    name: {"shape": list(array.shape), "dtype": str(array.dtype)}
                    for name, array in arrays.items()
                },
            }
        },
    }
    document["manifest_sha256"] = manifest_digest(document)
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    return {MODEL_JSON: text.encode("utf-8"), WEIGHTS_NPZ: npz}


def manifest_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of ``model.json`` without its ``manifest_sha256`` key.

    The document is hashed as canonical JSON (sorted keys, no spaces), so the
    digest does not depend on how the file is indented.

    Examples
    --------
    >>> manifest_digest({"b": 1, "a": [1.5], "manifest_sha256": "x"})[:16]
    'be0f99d229adbed6'
    """
    content = {k: v for k, v in document.items() if k != "manifest_sha256"}
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- JSON conversion --------------------------------------------------------


def freeze_mapping(value: Any, where: str) -> Mapping[str, Any]:
    """Read-only JSON-able copy of the mapping ``value``, named ``where`` in errors."""
    if not isinstance(value, Mapping):
        raise ModelFormatError(
            f"{where} must be a mapping with string keys; got {value!r}."
        )
    return _freeze_json(value, where)


def _freeze_json(value: Any, where: str) -> Any:
    """Deep read-only copy of a JSON-able value; lists become tuples."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        frozen = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ModelFormatError(
                    f"{where} must have string keys; got key {key!r}."
                )
            frozen[str.__str__(key)] = _freeze_json(item, f"{where}[{key!r}]")
        return types.MappingProxyType(frozen)
    if isinstance(value, list | tuple):
        return tuple(
            _freeze_json(item, f"{where}[{i}]") for i, item in enumerate(value)
        )
    raise ModelFormatError(
        f"{where} must be JSON-able (str, number, bool, None, list, mapping); "
        f"got {type(value).__name__} {value!r}."
    )


def freeze_metrics(metrics: Any) -> Mapping[str, Mapping[str, float]]:
    """Read-only copy of channel -> metric name -> float; non-finite become nan."""
    if not isinstance(metrics, Mapping):
        raise ModelFormatError(f"metrics must be a mapping; got {metrics!r}.")
    frozen = {}
    for channel, values in metrics.items():
        if not isinstance(channel, str) or not isinstance(values, Mapping):
            raise ModelFormatError(
                "metrics must map channel names to {metric name: value}; got "
                f"{channel!r}: {values!r}."
            )
        channel_metrics = {}
        for name, value in values.items():
            if not isinstance(name, str) or not is_real(value):
                raise ModelFormatError(
                    f"metrics[{channel!r}] must map metric names to numbers; got "
                    f"{name!r}: {value!r}."
                )
            number = float(value)
            channel_metrics[str.__str__(name)] = (
                number if math.isfinite(number) else math.nan
            )
        frozen[str.__str__(channel)] = types.MappingProxyType(channel_metrics)
    return types.MappingProxyType(frozen)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a Python or numpy int or float, not a bool."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def _metrics_to_json(metrics: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    return {
        channel: {name: v if math.isfinite(v) else None for name, v in values.items()}
        for channel, values in metrics.items()
    }


# --- writing ----------------------------------------------------------------


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The bytes ``numpy.savez`` would write, with fixed entry timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            with archive.open(info, "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return buffer.getvalue()


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _write_directory(target: Path, files: Mapping[str, bytes]) -> None:
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    )
    try:
        os.chmod(staging, 0o755)
        for name, data in files.items():
            _write_file(staging / name, data)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_directory(target.parent)


def _check_replaceable(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise FileExistsError(
            f"cannot write a model artifact directory at {str(target)!r}: it exists "
            "and is not a directory. Remove it or use a path ending in .tar.gz."
        )
    if target.is_dir():
        others = sorted(set(os.listdir(target)) - set(ARTIFACT_FILES))
        if others:
            raise FileExistsError(
                f"refusing to replace {str(target)!r}: it holds {others[0]!r}, which "
                "is not part of a model artifact. Choose an empty or new directory."
            )


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    backup = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup)


def _write_tarball(target: Path, files: Mapping[str, bytes]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(fd, "wb") as raw:
            # filename="" and mtime=0 keep the gzip header free of the temp
            # name and the clock, so equal models give equal bytes.
            with (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                for name, data in files.items():
                    info = tarfile.TarInfo(name)
                    info.size, info.mode, info.mtime = len(data), 0o644, 0
                    tar.addfile(info, io.BytesIO(data))
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable on POSIX; directories cannot be opened on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- reading ----------------------------------------------------------------


def _read_directory(source: Path) -> dict[str, bytes]:
    files = {}
    for name in ARTIFACT_FILES:
        path = source / name
        if not path.is_file():
            raise ModelFormatError(
                f"{str(source)!r} has no {name}; a model artifact directory holds "
                "model.json and weights.npz."
            )
        if path.stat().st_size > MAX_MEMBER_BYTES:
            raise ModelFormatError(
                f"{str(path)!r} is larger than {MAX_MEMBER_BYTES} bytes."
            )
        files[name] = path.read_bytes()
    return files


def _read_tarball(source: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(source, mode="r:*") as tar:
            for member in tar:
                name = _member_name(member, source)
                if name is None:
                    continue
                if name in files:
                    raise ModelFormatError(f"{str(source)!r} holds {name} twice.")
                handle = tar.extractfile(member)
                files[name] = handle.read() if handle is not None else b""
            _read_to_end(tar, source)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ModelFormatError(
            f"{str(source)!r} is not a readable .tar.gz model artifact: {err}"
        ) from err
    missing = [name for name in ARTIFACT_FILES if name not in files]
    if missing:
        raise ModelFormatError(
            f"{str(source)!r} has no {missing[0]}; a model artifact holds "
            "model.json and weights.npz."
        )
    return files


def _read_to_end(tar: tarfile.TarFile, source: Path) -> None:
    """Read past the end-of-archive blocks, so gzip checks its length and CRC.

    A ``.tar.gz`` cut short after its last member still lists every file;
    only the gzip trailer tells it was truncated (``EOFError``). At most
    :data:`_MAX_TRAILING_BYTES` of padding may follow the archive.
    """
    stream = tar.fileobj
    assert stream is not None
    trailing = 0
    while chunk := stream.read(1 << 16):
        trailing += len(chunk)
        if trailing > _MAX_TRAILING_BYTES:
            raise ModelFormatError(
                f"{str(source)!r} holds more than {_MAX_TRAILING_BYTES} bytes after "
                "the end of its tar archive; a model artifact holds only "
                "model.json and weights.npz."
            )


def _member_name(member: tarfile.TarInfo, source: Path) -> str | None:
    """The artifact file a tar member holds, None for a "." entry, else raise."""
    name = member.name
    if member.isdir() and name in (".", "./"):
        return None
    stripped = name[2:] if name.startswith("./") else name
    if stripped not in ARTIFACT_FILES or not member.isreg():
        kind = _member_kind(member)
        raise ModelFormatError(
            f"{str(source)!r} holds {kind} {name!r}; a model artifact may hold only "
            "the regular files model.json and weights.npz."
        )
    if member.size > MAX_MEMBER_BYTES:
        raise ModelFormatError(
            f"{str(source)!r}: member {name!r} has {member.size} bytes, more than "
            f"the limit of {MAX_MEMBER_BYTES}."
        )
    return stripped


def _member_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.isdir():
        return "a directory"
    return "a regular file" if member.isreg() else "a special file"


def _model_from_files(
    cls: type[LinearModel], files: Mapping[str, bytes], source: Path
) -> LinearModel:
    document = _parse_document(files[MODEL_JSON], source)
    npz = files[WEIGHTS_NPZ]
    listed = document["files"]
    record = listed.get(WEIGHTS_NPZ) if isinstance(listed, Mapping) else None
    if not isinstance(record, Mapping) or not isinstance(record.get("arrays"), Mapping):
        raise ModelFormatError(
            f"{str(source)!r}: model.json 'files' lacks the entry for weights.npz."
        )
    if hashlib.sha256(npz).hexdigest() != record.get("sha256"):
        raise ModelFormatError(
            f"{str(source)!r}: weights.npz is corrupt or was modified (its SHA-256 "
            "differs from the one recorded in model.json)."
        )
    arrays = _read_npz(npz, source)
    _check_arrays(arrays, record["arrays"], document, source)

    dim, num_classes = document["feature_dim"], document["num_classes"]
    metrics = document["metrics"]
    if isinstance(metrics, Mapping):
        metrics = {
            channel: {k: math.nan if v is None else v for k, v in values.items()}
            if isinstance(values, Mapping)
            else values
            for channel, values in metrics.items()
        }
    try:
        model = cls(
            predictor_type=document["predictor_type"],
            weights=arrays["weights"],
            bias=arrays["bias"],
            link=document["link"],
            threshold=document["threshold"],
            label_names=document["label_names"],
            feature_names=document["feature_names"],
            hyperparameters=document["hyperparameters"],
            metrics=metrics,
            metadata=document["metadata"],
        )
    except (ModelFormatError, TypeError) as err:
        raise ModelFormatError(f"{str(source)!r}: {err}") from err
    if (model.feature_dim, model.num_classes) != (dim, num_classes):
        raise ModelFormatError(
            f"{str(source)!r}: model.json records feature_dim={dim!r} and "
            f"num_classes={num_classes!r}, but the weights give "
            f"{model.feature_dim} and {model.num_classes}."
        )
    return model


def _parse_document(data: bytes, source: Path) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFormatError(
            f"{str(source)!r}: model.json is not valid JSON: {err}"
        ) from err
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        found = document.get("format") if isinstance(document, dict) else None
        raise ModelFormatError(
            f"{str(source)!r}: model.json has format {found!r}; expected "
            f"{FORMAT_NAME!r}. This is not a lodgepole model artifact."
        )

    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFormatError(
            f"{str(source)!r}: model.json has format_version {version!r}; expected "
            "a positive integer."
        )
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{str(source)!r}: model.json has format_version {version}, written by "
            f"lodgepole {document.get('lodgepole_version')!r}; lodgepole "
            f"{__version__} reads format_version {FORMAT_VERSION}. Upgrade lodgepole."
        )

    missing = [key for key in _REQUIRED_KEYS if key not in document]
    if missing:
        raise ModelFormatError(
            f"{str(source)!r}: model.json lacks the required keys {missing!r}."
        )
    try:
        expected = manifest_digest(document)
    except ValueError as err:  # a non-finite number (NaN) in the document
        raise ModelFormatError(f"{str(source)!r}: model.json: {err}") from err
    if document["manifest_sha256"] != expected:
        raise ModelFormatError(
            f"{str(source)!r}: model.json is corrupt or was modified (its content "
            "does not match the manifest_sha256 it records)."
        )
    return document


def _read_npz(data: bytes, source: Path) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            payload = sum(info.file_size for info in archive.infolist())
        if payload > MAX_MEMBER_BYTES:
            raise ModelFormatError(
                f"{str(source)!r}: weights.npz unpacks to {payload} bytes, more than "
                f"the limit of {MAX_MEMBER_BYTES}."
            )
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ModelFormatError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ModelFormatError(
            f"{str(source)!r}: weights.npz cannot be read without pickle as an "
            f"npz of numeric arrays: {err}"
        ) from err
    if sorted(arrays) != ["bias", "weights"]:
        raise ModelFormatError(
            f"{str(source)!r}: weights.npz holds arrays {sorted(arrays)!r}; "
            "expected exactly ['bias', 'weights']."
        )
    return arrays


def _check_arrays(
    arrays: Mapping[str, np.ndarray],
    recorded: Mapping[str, Any],
    document: Mapping[str, Any],
    source: Path,
) -> None:
    dim, num_classes = document["feature_dim"], document["num_classes"]
    several = ("multiclass_classifier", "multilabel_classifier")
    k = num_classes if document["predictor_type"] in several else 1
    expected = {"weights": [dim, k], "bias": [k]}
    for name, array in arrays.items():
        entry = recorded.get(name)
        actual = {"shape": list(array.shape), "dtype": str(array.dtype)}
        if entry != actual or array.dtype != np.float32:
            raise ModelFormatError(
                f"{str(source)!r}: weights.npz array {name!r} has shape "
                f"{actual['shape']} and dtype {actual['dtype']!r}; model.json records "
                f"{entry!r} (dtype must be 'float32')."
            )
        if actual["shape"] != expected[name]:
            raise ModelFormatError(
                f"{str(source)!r}: weights.npz array {name!r} has shape "
                f"{actual['shape']}; expected {expected[name]} from "
                f"feature_dim={dim!r} and num_classes={num_classes!r}."
            )
