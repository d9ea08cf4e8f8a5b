"""The trained linear model and its predictions.

A :class:`LinearModel` is immutable. The trainer folds feature normalisation
and regression label scaling into ``weights`` and ``bias``, so prediction is
one matrix product ``X @ weights + bias`` followed by the link function.

:meth:`LinearModel.save` and :meth:`LinearModel.load` write and read the
model artifact, a directory or ``.tar.gz`` file holding ``model.json`` and
``weights.npz``; the private module ``lodgepole._artifact`` does the work
and its docstring describes the format.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from lodgepole._artifact import (
    FORMAT_NAME,
    FORMAT_VERSION,
    _thaw,
    freeze_mapping,
    freeze_metrics,
    is_real,
    read_artifact,
    write_artifact,
)
from lodgepole._types import PredictorType
from lodgepole.data._tabular import check_columns, column_names, numeric_table
from lodgepole.exceptions import DataFormatError, ModelFormatError

if TYPE_CHECKING:
    from lodgepole.serving.endpoint import Predictor

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "LinearModel", "Prediction"]

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.5
_LINKS = {
    PredictorType.BINARY: ("sigmoid", "identity"),
    PredictorType.MULTICLASS: ("softmax",),
    PredictorType.REGRESSOR: ("identity",),
    PredictorType.MULTILABEL: ("sigmoid",),
}


@dataclass(frozen=True, eq=False)
class Prediction:
    """Scores and predicted labels for a batch of records.

    Attributes
    ----------
    score
        float32. Shape (n,) for binary classifiers (a probability with the
        ``sigmoid`` link, a raw margin with ``identity``) and regressors (the
        value in label units); shape (n, num_classes) of class probabilities
        for multiclass classifiers, and of per-label probabilities for
        multilabel classifiers.
    predicted_label
        float32 shape (n,): 0.0 or 1.0 for binary, the class index for
        multiclass; shape (n, num_classes) of 0.0/1.0 (each label's score
        against its threshold) for multilabel; ``None`` for regressors.

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
        regressors, K = num_classes (>= 3) for multiclass classifiers and the
        number of labels (>= 2) for multilabel classifiers. Stored
        as a read-only float32 C-contiguous copy.
    bias
        Shape (K,); stored like ``weights``.
    link
        ``"sigmoid"`` (binary with logistic loss, multilabel), ``"identity"``
        (binary with hinge loss, regressor) or ``"softmax"`` (multiclass).
    threshold
        Binary: ``predicted_label`` is 1.0 where ``score >= threshold``;
        ``None`` means 0.5 (the centre of both the sigmoid and the hinge
        score). Multilabel: one threshold per label (``None``: 0.5 each),
        stored as a tuple. Must be ``None`` for the other types.
    label_names
        One name per class (2 for binary, num_classes for multiclass), per
        label (multilabel), or one name of the target for regressors.
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
    threshold: float | tuple[float, ...] | None = None
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
            "threshold": _check_threshold(
                predictor_type, self.threshold, weights.shape[1]
            ),
            "label_names": _check_names(self.label_names, "label_names", num_classes),
            "feature_names": _check_names(
                self.feature_names, "feature_names", weights.shape[0]
            ),
            "hyperparameters": freeze_mapping(self.hyperparameters, "hyperparameters"),
            "metrics": freeze_metrics(self.metrics),
            "metadata": freeze_mapping(self.metadata, "metadata"),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle through the constructor, so a model can travel between processes.

        joblib (scikit-learn's parallel search) and Dask send models this way.
        Model *files* never hold pickles: :meth:`save` writes JSON and ``.npz``.
        """
        fields = {
            "predictor_type": self.predictor_type.value,
            "weights": np.array(self.weights),
            "bias": np.array(self.bias),
            "link": self.link,
            "threshold": self.threshold,
            "label_names": self.label_names,
            "feature_names": self.feature_names,
            "hyperparameters": _thaw(self.hyperparameters),
            "metrics": _thaw(self.metrics),
            "metadata": _thaw(self.metadata),
        }
        return (_rebuild, (fields,))

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
        """2 for binary, K for multiclass, the number of labels for multilabel,
        1 for regressors."""
        return _num_classes(self.predictor_type, self.weights)

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw scores ``X @ weights + bias`` before the link, in float32.

        Parameters
        ----------
        X
            Shape (n, feature_dim): a numpy array of any real dtype, anything
            ``numpy.asarray`` turns into one, a pandas DataFrame or pyarrow
            Table, or a scipy.sparse matrix or array. A 1-D array is one
            record. A DataFrame's or table's columns must be the model's
            ``feature_names`` in order, when the model has them.

        Returns
        -------
        numpy.ndarray
            float32, shape (n,) when K = 1, else (n, num_classes).

        Raises
        ------
        DataFormatError
            If X has the wrong number of features, is not real-valued, or
            holds NaN or inf (or a number too large for float32), if its
            columns are missing, unexpected or out of order (naming them), or
            if a score overflows float32.

        Examples
        --------
        >>> w, b = np.array([[2.0], [1.0]]), np.array([1.0])
        >>> model = LinearModel("regressor", w, b, "identity")
        >>> model.decision_function(np.array([[1.0, 1.0], [0.0, -1.0]])).tolist()
        [4.0, 0.0]
        """
        check_columns(column_names(X), self.feature_names, "X")
        features = _check_features(numeric_table(X, "X"), self.feature_dim)
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
        if self.predictor_type in _THRESHOLDED:
            threshold = np.asarray(self.threshold, dtype=np.float64)
            label = (score.astype(np.float64) >= threshold).astype(np.float32)
        elif self.predictor_type is PredictorType.MULTICLASS:
            label = np.argmax(score, axis=1).astype(np.float32)
        else:
            label = None
        return Prediction(score=score, predicted_label=label)

    def deploy(
        self,
        initial_instance_count: int = 1,
        *,
        endpoint_name: str | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        auth_token: str | None = None,
    ) -> Predictor:
        """Serve this model from a new local endpoint; return its predictor.

        The counterpart of ``estimator.deploy`` in the SageMaker SDK. The
        server is a separate process that keeps running after this Python
        process exits, until ``predictor.delete_endpoint()`` or
        ``lodgepole endpoints delete NAME``. Needs ``lodgepole[serve]``.
        See :func:`lodgepole.serving.deploy` for the parameters.

        Examples
        --------
        >>> model = LinearModel("regressor", np.ones((2, 1)), np.zeros(1), "identity")
        >>> with model.deploy(endpoint_name="doc-regressor") as predictor:
        ...     predictor.predict([[1.0, 2.0]], "text/csv", "application/jsonlines")
        [{'score': 3.0}]
        """
        from lodgepole.serving.endpoint import deploy

        return deploy(
            self,
            initial_instance_count=initial_instance_count,
            endpoint_name=endpoint_name,
            host=host,
            port=port,
            auth_token=auth_token,
        )

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
        write_artifact(self, target)
        logger.info(
            "model artifact written path=%s predictor_type=%s feature_dim=%d",
            target,
            self.predictor_type.value,
            self.feature_dim,
        )
        return target

    def to_onnx(self, path: str | os.PathLike[str]) -> Path:
        """Export the model as an ONNX file, atomically.

        The graph reads ``features`` (float32, shape (N, feature_dim), any N)
        and returns what :meth:`predict` returns: ``score`` and, for
        classifiers, ``predicted_label``, both float32. The file's
        ``metadata_props`` hold the predictor type, link, threshold, label
        and feature names and the lodgepole version. Needs
        ``pip install "lodgepole[onnx]"``.

        Parameters
        ----------
        path
            The file to write; missing parent directories are created and an
            existing file is replaced.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        ImportError
            If the ``onnx`` package is not installed.
        ModelFormatError
            If the weights are too large for one ONNX file (2 GiB).

        Notes
        -----
        Scores agree with :meth:`predict` to float32 rounding. The graph
        does not check its input: it must be float32, and NaN or inf give
        NaN scores instead of a :class:`DataFormatError`.

        Examples
        --------
        >>> import tempfile
        >>> import onnxruntime
        >>> model = LinearModel("regressor", np.ones((2, 1)), np.zeros(1), "identity")
        >>> X = np.array([[1.0, 2.0]], np.float32)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = model.to_onnx(Path(tmp) / "model.onnx")
        ...     session = onnxruntime.InferenceSession(
        ...         path, providers=["CPUExecutionProvider"]
        ...     )
        ...     session.run(["score"], {"features": X})[0].tolist()
        [3.0]
        """
        from lodgepole._onnx import write_onnx

        target = Path(path)
        write_onnx(self, target)
        logger.info(
            "onnx model written path=%s predictor_type=%s feature_dim=%d",
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
        model = read_artifact(cls, source)
        logger.info(
            "model artifact loaded path=%s predictor_type=%s feature_dim=%d",
            source,
            model.predictor_type.value,
            model.feature_dim,
        )
        return model


# --- link functions ---------------------------------------------------------


def _rebuild(fields: dict[str, Any]) -> LinearModel:
    return LinearModel(**fields)


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


#: Predictor types whose labels come from comparing scores with thresholds.
_THRESHOLDED = frozenset({PredictorType.BINARY, PredictorType.MULTILABEL})
#: Predictor types with one score column per class or label.
_SEVERAL_OUTPUTS = frozenset({PredictorType.MULTICLASS, PredictorType.MULTILABEL})


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
    if predictor_type is PredictorType.MULTILABEL and k < 2:
        raise ModelFormatError(
            "weights must have one column per label (>= 2) when predictor_type "
            f"is 'multilabel_classifier'; got {weights.shape}. Use "
            "'binary_classifier' for one label."
        )
    if predictor_type is PredictorType.MULTICLASS and k < 3:
        raise ModelFormatError(
            f"num_classes must be >= 3 when predictor_type is "
            f"'multiclass_classifier'; got {k} (weights shape {weights.shape}). "
            "Use 'binary_classifier' for two classes."
        )
    if predictor_type not in _SEVERAL_OUTPUTS and k != 1:
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


def _check_threshold(
    predictor_type: PredictorType, threshold: Any, num_outputs: int
) -> float | tuple[float, ...] | None:
    if predictor_type not in _THRESHOLDED:
        if threshold is not None:
            raise ModelFormatError(
                "threshold applies only to 'binary_classifier' and "
                f"'multilabel_classifier'; got threshold={threshold!r} for "
                f"{predictor_type.value!r}."
            )
        return None
    if predictor_type is PredictorType.MULTILABEL:
        if threshold is None:
            return (DEFAULT_THRESHOLD,) * num_outputs
        values = (
            np.asarray(threshold).tolist()
            if isinstance(threshold, np.ndarray)
            else threshold
        )
        if not isinstance(values, list | tuple) or len(values) != num_outputs:
            raise ModelFormatError(
                f"threshold must be {num_outputs} numbers, one per label, for "
                f"'multilabel_classifier'; got {threshold!r}."
            )
        return tuple(_one_threshold(v) for v in values)
    if threshold is None:
        return DEFAULT_THRESHOLD
    return _one_threshold(threshold)


def _one_threshold(threshold: Any) -> float:
    if not is_real(threshold):
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
