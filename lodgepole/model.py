"""The trained linear model and its model artifact.

A :class:`LinearModel` is immutable. The trainer folds feature normalisation
and regression label scaling into ``weights`` and ``bias``, so prediction is
one matrix product ``X @ weights + bias`` followed by the link function.

A model artifact is a directory, or a ``.tar.gz`` file, holding two files:

``model.json``
    Format name ``"lodgepole-linear-model"``, ``format_version``, the
    lodgepole version that wrote it, predictor type, link, threshold,
    ``feature_dim``, ``num_classes``, label and feature names,
    hyperparameters, metrics, metadata, and the SHA-256, shape and dtype of
    every array in ``weights.npz``.
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
import logging
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from lodgepole.__about__ import __version__
from lodgepole._types import PredictorType
from lodgepole.exceptions import DataFormatError, ModelFormatError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "LinearModel", "Prediction"]

logger = logging.getLogger(__name__)

FORMAT_NAME = "lodgepole-linear-model"
FORMAT_VERSION = 1

MODEL_JSON = "model.json"
WEIGHTS_NPZ = "weights.npz"
ARTIFACT_FILES = (MODEL_JSON, WEIGHTS_NPZ)
# Largest file accepted in an artifact, and largest array payload in the npz.
MAX_MEMBER_BYTES = 2 * 1024**3

DEFAULT_THRESHOLD = 0.5
_LINKS = {
    PredictorType.BINARY: ("sigmoid", "identity"),
    PredictorType.MULTICLASS: ("softmax",),
    PredictorType.REGRESSOR: ("identity",),
}
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
)
# Zip entries need a date; 1980-01-01 is the earliest the format can store.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, eq=False)
class Prediction:
    """Scores and predicted labels for a batch of records.

    Attributes
    ----------
    score
        float32. Shape (n,) for binary classifiers (a probability with the
        ``sigmoid`` link, a raw margin with ``identity``) and regressors (the
        value in label units); shape (n, num_classes) of class probabilities
        for multiclass classifiers.
    predicted_label
        float32 shape (n,): 0.0 or 1.0 for binary, the class index for
        multiclass; ``None`` for regressors.

    Examples
    --------
    >>> score = np.array([0.2, 0.9], np.float32)
    >>> p = Prediction(score, predicted_label=(score >= 0.5).astype(np.float32))
    >>> p.predicted_label.tolist()
    [0.0, 1.0]
    """

    score: np.ndarray
    predicted_label: np.ndarray | None


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A trained linear model: ``link(X @ weights + bias)``.

    Parameters
    ----------
    predictor_type
        What the model predicts; a :class:`PredictorType` or its string value.
    weights
        Shape (feature_dim, K) with K = 1 for binary classifiers and
        regressors, K = num_classes (>= 3) for multiclass classifiers. Stored
        as a read-only float32 C-contiguous copy.
    bias
        Shape (K,); stored like ``weights``.
    link
        ``"sigmoid"`` (binary, logistic loss), ``"identity"`` (binary with
        hinge loss, regressor) or ``"softmax"`` (multiclass).
    threshold
        Binary only: ``predicted_label`` is 1.0 where ``score >= threshold``.
        ``None`` means 0.5 for binary classifiers (the centre of both the
        sigmoid and the hinge score); must be ``None`` otherwise.
    label_names
        One name per class (2 for binary, num_classes for multiclass) or one
        name of the target for regressors.
    feature_names
        One distinct name per feature.
    hyperparameters, metadata
        JSON-able mappings with string keys (numpy scalars and arrays are
        turned into Python numbers and tuples); stored read-only.
    metrics
        Channel name -> metric name -> value, e.g.
        ``{"validation": {"binary_classification_accuracy": 0.93}}``.

    Raises
    ------
    ModelFormatError
        If a shape, dtype, link or value does not fit the predictor type.

    Examples
    --------
    >>> model = LinearModel(
    ...     predictor_type="binary_classifier",
    ...     weights=np.array([[2.0], [-1.0]]),
    ...     bias=np.array([0.5]),
    ...     link="sigmoid",
    ... )
    >>> model.feature_dim, model.num_classes, model.threshold
    (2, 2, 0.5)
    >>> model.predict(np.array([[1.0, 0.0], [0.0, 3.0]])).predicted_label.tolist()
    [1.0, 0.0]
    """

    predictor_type: PredictorType
    weights: np.ndarray
    bias: np.ndarray
    link: str
    threshold: float | None = None
    label_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    hyperparameters: Mapping[str, object] = field(default_factory=dict)
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    metadata: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        predictor_type = _coerce_predictor_type(self.predictor_type)
        weights = _frozen_float32(self.weights, "weights", ndim=2)
        bias = _frozen_float32(self.bias, "bias", ndim=1)
        _check_shapes(predictor_type, weights, bias)
        num_classes = _num_classes(predictor_type, weights)

        values = {
            "predictor_type": predictor_type,
            "weights": weights,
            "bias": bias,
            "link": _check_link(predictor_type, self.link),
            "threshold": _check_threshold(predictor_type, self.threshold),
            "label_names": _check_names(self.label_names, "label_names", num_classes),
            "feature_names": _check_names(
                self.feature_names, "feature_names", weights.shape[0]
            ),
            "hyperparameters": _freeze_mapping(self.hyperparameters, "hyperparameters"),
            "metrics": _freeze_metrics(self.metrics),
            "metadata": _freeze_mapping(self.metadata, "metadata"),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"LinearModel(predictor_type={self.predictor_type.value!r}, "
            f"feature_dim={self.feature_dim}, num_classes={self.num_classes}, "
            f"link={self.link!r}, threshold={self.threshold!r})"
        )

    @property
    def feature_dim(self) -> int:
        """Number of features the model reads (rows of ``weights``)."""
        return int(self.weights.shape[0])

    @property
    def num_classes(self) -> int:
        """2 for binary, K for multiclass, 1 for regressors."""
        return _num_classes(self.predictor_type, self.weights)

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores ``X @ weights + bias`` before the link, in float32.

        Parameters
        ----------
        X
            Shape (n, feature_dim): a numpy array of any real dtype, anything
            ``numpy.asarray`` turns into one (a pandas DataFrame), or a
            scipy.sparse matrix or array. A 1-D array is one record.

        Returns
        -------
        numpy.ndarray
            float32, shape (n,) when K = 1, else (n, num_classes).

        Raises
        ------
        DataFormatError
            If X has the wrong number of features, is not real-valued, or
            holds NaN or inf (or a number too large for float32), or if a
            score overflows float32.

        Examples
        --------
        >>> w, b = np.array([[2.0], [1.0]]), np.array([1.0])
        >>> model = LinearModel("regressor", w, b, "identity")
        >>> model.decision_function(np.array([[1.0, 1.0], [0.0, -1.0]])).tolist()
        [4.0, 0.0]
        """
        features = _check_features(X, self.feature_dim)
        # Overflow is reported below, with the row, instead of as a warning.
        with np.errstate(over="ignore", invalid="ignore"):
            raw = np.asarray(features @ self.weights, dtype=np.float32)
            raw += self.bias
        finite = np.isfinite(raw)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise DataFormatError(
                f"the score of row {row} overflows float32; the features of that "
                "row are too large for this model."
            )
        return raw.ravel() if raw.shape[1] == 1 else raw

    def predict(self, X: Any) -> Prediction:
        """Score records and, for classifiers, assign labels.

        ``predicted_label`` is ``score >= threshold`` for binary classifiers
        (compared exactly, the float32 score widened to float64) and the
        index of the largest probability for multiclass classifiers, the
        lowest index on ties.

        Parameters
        ----------
        X
            As for :meth:`decision_function`.

        Returns
        -------
        Prediction
            float32 scores and labels.

        Raises
        ------
        DataFormatError
            As for :meth:`decision_function`.

        Examples
        --------
        >>> model = LinearModel(
        ...     "multiclass_classifier", np.eye(3), np.zeros(3), "softmax"
        ... )
        >>> prediction = model.predict(np.array([[0.0, 5.0, 1.0]]))
        >>> prediction.predicted_label.tolist(), prediction.score.shape
        ([1.0], (1, 3))
        """
        score = _LINK_FUNCTIONS[self.link](self.decision_function(X))
        if self.predictor_type is PredictorType.BINARY:
            label = (score.astype(np.float64) >= self.threshold).astype(np.float32)
        elif self.predictor_type is PredictorType.MULTICLASS:
            label = np.argmax(score, axis=1).astype(np.float32)
        else:
            label = None
        return Prediction(score=score, predicted_label=label)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model artifact, atomically.

        Parameters
        ----------
        path
            A file name ending in ``.tar.gz``, or else a directory; missing
            parent directories are created. An existing ``.tar.gz`` file is
            replaced. An existing directory is
            replaced only if it is empty or holds nothing but
            ``model.json`` and ``weights.npz``.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        FileExistsError
            If ``path`` is a directory holding other files, or is not a
            directory.

        Notes
        -----
        A directory artifact replacing an old one takes two renames (old
        aside, new in); a crash between them leaves the old artifact in a
        hidden ``.<name>.<hex>.old`` sibling and nothing at ``path``.

        Examples
        --------
        >>> import tempfile
        >>> model = LinearModel("regressor", np.ones((2, 1)), np.zeros(1), "identity")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = model.save(Path(tmp) / "model.tar.gz")
        ...     LinearModel.load(path).decision_function(np.array([1.0, 2.0])).tolist()
        [3.0]
        """
        target = Path(path)
        files = self._artifact_files()
        if target.name.endswith(".tar.gz"):
            _write_tarball(target, files)
        else:
            _write_directory(target, files)
        logger.info(
            "model artifact written path=%s predictor_type=%s feature_dim=%d",
            target,
            self.predictor_type.value,
            self.feature_dim,
        )
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LinearModel:
        """Read a model artifact written by :meth:`save`.

        Parameters
        ----------
        path
            An artifact directory, or a ``.tar.gz`` file holding only
            ``model.json`` and ``weights.npz`` (names may start with ``./``).

        Returns
        -------
        LinearModel
            The model, with the same predictions bit for bit.

        Raises
        ------
        FileNotFoundError
            If nothing exists at ``path``.
        ModelFormatError
            If the artifact is of another format or a newer format version,
            misses keys or files, has unsafe or unexpected tar members, or
            its ``weights.npz`` does not match the SHA-256 and shapes
            recorded in ``model.json``.

        Examples
        --------
        >>> import tempfile
        >>> w, b = np.ones((2, 1)), np.zeros(1)
        >>> model = LinearModel("binary_classifier", w, b, "identity")
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     LinearModel.load(model.save(Path(tmp) / "model")).threshold
        0.5
        """
        source = Path(path)
        if source.is_dir():
            files = _read_directory(source)
        elif source.is_file():
            files = _read_tarball(source)
        else:
            raise FileNotFoundError(
                f"no model artifact at {str(source)!r}: expected a directory or a "
                ".tar.gz file holding model.json and weights.npz."
            )
        model = _model_from_files(cls, files, source)
        logger.info(
            "model artifact loaded path=%s predictor_type=%s feature_dim=%d",
            source,
            model.predictor_type.value,
            model.feature_dim,
        )
        return model

    def _artifact_files(self) -> dict[str, bytes]:
        arrays = {"weights": self.weights, "bias": self.bias}
        npz = _npz_bytes(arrays)
        document = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "lodgepole_version": __version__,
            "predictor_type": self.predictor_type.value,
            "link": self.link,
            "threshold": self.threshold,
            "feature_dim": self.feature_dim,
            "num_classes": self.num_classes,
            "label_names": _thaw(self.label_names),
            "feature_names": _thaw(self.feature_names),
            "hyperparameters": _thaw(self.hyperparameters),
            "metrics": _metrics_to_json(self.metrics),
            "metadata": _thaw(self.metadata),
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
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
        return {MODEL_JSON: text.encode("utf-8"), WEIGHTS_NPZ: npz}


# --- link functions ---------------------------------------------------------


def _identity(raw: np.ndarray) -> np.ndarray:
    return raw


def _sigmoid(raw: np.ndarray) -> np.ndarray:
    # exp of a non-positive number never overflows, whatever the sign of raw.
    e = np.exp(-np.abs(raw))
    return np.where(raw >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)


def _softmax(raw: np.ndarray) -> np.ndarray:
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


_LINK_FUNCTIONS = {"identity": _identity, "sigmoid": _sigmoid, "softmax": _softmax}


# --- checking inputs --------------------------------------------------------


def _check_features(X: Any, feature_dim: int) -> np.ndarray | sp.csr_matrix:
    if sp.issparse(X):
        return _check_sparse(X, feature_dim)
    array = np.asarray(X)
    _check_real(array.dtype)
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise DataFormatError(
            f"X must be 2-D (records, features) or 1-D (one record); got "
            f"{array.ndim} dimensions with shape {array.shape}."
        )
    _check_width(array.shape[1], feature_dim)

    with np.errstate(over="ignore"):
        dense = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(dense)
    if not finite.all():
        row, col = divmod(int(np.flatnonzero(~finite)[0]), dense.shape[1])
        raise _non_finite_error(row, col, array[row, col])
    return dense


def _check_sparse(X: Any, feature_dim: int) -> sp.csr_matrix:
    _check_real(X.dtype)
    if X.ndim == 1:
        X = X.reshape(1, -1)
    _check_width(X.shape[1], feature_dim)

    original = sp.csr_matrix(X)
    with np.errstate(over="ignore"):
        data = original.data.astype(np.float32, copy=False)
    # Built from the parts so entries stay aligned with ``original.data``
    # (``astype`` may sort the column indices of each row).
    parts = (data, original.indices, original.indptr)
    csr = sp.csr_matrix(parts, shape=original.shape)
    bad = np.flatnonzero(~np.isfinite(csr.data))
    if bad.size:
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))[bad]
        cols = csr.indices[bad]
        first = np.lexsort((cols, rows))[0]
        value = original.data[bad[first]]
        raise _non_finite_error(int(rows[first]), int(cols[first]), value)
    return csr


def _check_real(dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise DataFormatError(
            f"X must hold real numbers (bool, integer or float); got dtype "
            f"{str(dtype)!r}."
        )


def _check_width(width: int, feature_dim: int) -> None:
    if width != feature_dim:
        raise DataFormatError(
            f"expected {feature_dim} features (feature_dim of the model), got {width}."
        )


def _non_finite_error(row: int, col: int, value: Any) -> DataFormatError:
    number = float(value)
    if math.isfinite(number):
        what = f"{number!r}, which is outside the float32 range,"
    else:
        what = f"the non-finite value {number!r}"
    return DataFormatError(
        f"X holds {what} at row {row}, column {col}; expected finite numbers. "
        "Replace or drop NaN and inf before predicting."
    )


# --- checking the model -----------------------------------------------------


def _coerce_predictor_type(value: Any) -> PredictorType:
    try:
        return PredictorType(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in PredictorType)
        raise ModelFormatError(
            f"predictor_type must be one of {allowed}; got {value!r}."
        ) from None


def _frozen_float32(value: Any, name: str, ndim: int) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iuf" or array.ndim != ndim:
        raise ModelFormatError(
            f"{name} must be a {ndim}-D array of real numbers; got dtype "
            f"{str(array.dtype)!r} with shape {array.shape}."
        )
    with np.errstate(over="ignore"):
        frozen = np.array(array, dtype=np.float32, order="C", copy=True)
    finite = np.isfinite(frozen)
    if not finite.all():
        index = np.unravel_index(int(np.flatnonzero(~finite)[0]), frozen.shape)
        where = tuple(int(i) for i in index)
        raise ModelFormatError(
            f"{name} must be finite in float32; got {float(array[where])!r} at "
            f"index {where}."
        )
    frozen.flags.writeable = False
    return frozen


def _num_classes(predictor_type: PredictorType, weights: np.ndarray) -> int:
    if predictor_type is PredictorType.BINARY:
        return 2
    return int(weights.shape[1])


def _check_shapes(
    predictor_type: PredictorType, weights: np.ndarray, bias: np.ndarray
) -> None:
    dim, k = weights.shape
    if dim < 1:
        raise ModelFormatError(f"weights must have at least one row; got {dim}.")
    if predictor_type is PredictorType.MULTICLASS and k < 3:
        raise ModelFormatError(
            f"num_classes must be >= 3 when predictor_type is "
            f"'multiclass_classifier'; got {k} (weights shape {weights.shape}). "
            "Use 'binary_classifier' for two classes."
        )
    if predictor_type is not PredictorType.MULTICLASS and k != 1:
        raise ModelFormatError(
            f"weights must have shape (feature_dim, 1) when predictor_type is "
            f"{predictor_type.value!r}; got {weights.shape}."
        )
    if bias.shape != (k,):
        raise ModelFormatError(
            f"bias must have shape ({k},) to match weights {weights.shape}; "
            f"got {bias.shape}."
        )


def _check_link(predictor_type: PredictorType, link: Any) -> str:
    allowed = _LINKS[predictor_type]
    if link not in allowed:
        raise ModelFormatError(
            f"link {link!r} does not fit predictor_type {predictor_type.value!r}; "
            f"expected one of {', '.join(map(repr, allowed))}."
        )
    return str(link)


def _check_threshold(predictor_type: PredictorType, threshold: Any) -> float | None:
    if predictor_type is not PredictorType.BINARY:
        if threshold is not None:
            raise ModelFormatError(
                f"threshold applies only to 'binary_classifier'; got "
                f"threshold={threshold!r} for {predictor_type.value!r}."
            )
        return None
    if threshold is None:
        return DEFAULT_THRESHOLD
    if not _is_real(threshold):
        raise ModelFormatError(f"threshold must be a real number; got {threshold!r}.")
    if not math.isfinite(float(threshold)):
        raise ModelFormatError(f"threshold must be finite; got {threshold!r}.")
    return float(threshold)


def _check_names(names: Any, field_name: str, length: int) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, np.ndarray):
        names = names.tolist()
    if not isinstance(names, list | tuple) or not all(
        isinstance(name, str) for name in names
    ):
        raise ModelFormatError(
            f"{field_name} must be a sequence of strings; got {names!r}."
        )
    frozen = tuple(str.__str__(name) for name in names)
    if len(frozen) != length:
        raise ModelFormatError(
            f"{field_name} must have {length} entries to match the weights; "
            f"got {len(frozen)}."
        )
    if len(set(frozen)) != len(frozen):
        duplicates = sorted({n for n in frozen if frozen.count(n) > 1})
        raise ModelFormatError(f"{field_name} must be distinct; {duplicates!r} repeat.")
    return frozen


def _freeze_mapping(value: Any, where: str) -> Mapping[str, Any]:
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


def _freeze_metrics(metrics: Any) -> Mapping[str, Mapping[str, float]]:
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
            if not isinstance(name, str) or not _is_real(value):
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


def _is_real(value: Any) -> bool:
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
    k = num_classes if document["predictor_type"] == "multiclass_classifier" else 1
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
