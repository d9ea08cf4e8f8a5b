"""Score a labelled data set with a model or an endpoint and summarise the result.

:func:`evaluate` runs a :class:`~lodgepole.model.LinearModel` in process, or
sends the records to an endpoint through a
:class:`~lodgepole.serving.endpoint.Predictor` in ``batches`` requests (the
forest cover walkthrough uses 100), and returns an :class:`Evaluation`:
accuracy, the per-class recall table and the confusion matrix as pandas
objects for classifiers, and the metrics of
:func:`lodgepole.metrics.compute_metrics` for every predictor type. Its
``plot_*`` methods draw with matplotlib; :mod:`lodgepole.report` writes them
into an HTML report. pandas and matplotlib are optional:
``pip install "lodgepole[report]"``.

Examples
--------
>>> import numpy as np
>>> from lodgepole.model import LinearModel
>>> model = LinearModel("multiclass_classifier", np.eye(3), np.zeros(3), "softmax")
>>> X = np.array([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0], [3.0, 0, 0]])
>>> result = evaluate(model, X, [0, 1, 1, 0], label_names=["a", "b", "c"])
>>> result.accuracy, result.recall["recall"].tolist()
(0.75, [1.0, 0.5, 0.0])
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from lodgepole import _plots
from lodgepole._types import PredictorType
from lodgepole.exceptions import ConfigError, DataFormatError
from lodgepole.metrics import (
    accuracy_score,
    compute_metrics,
    confusion_matrix,
    per_class_scores,
)
from lodgepole.model import LinearModel

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["Evaluation", "evaluate"]

logger = logging.getLogger(__name__)

_JSON = "application/json"


@dataclass(frozen=True, eq=False)
class Evaluation:
    """How a model scored on one labelled data set; made by :func:`evaluate`.

    Attributes
    ----------
    predictor_type
        What the evaluated model predicts.
    num_records
        Number of records scored.
    metrics
        Metric name to value, under the names of
        :func:`lodgepole.metrics.compute_metrics` (``multiclass_accuracy``,
        ``macro_recall``, ... or ``mse``, ``rmse``, ``absolute_loss``, ``r2``).
    label_names
        One name per class for classifiers; for regressors the target's
        name when known, else None.
    accuracy
        Fraction of records labelled correctly; None for regressors.
    recall
        Indexed by label name (index name ``"label"``): columns ``count``
        (true records of the class), ``correct``, ``recall``, ``precision``
        and ``f1``; None for regressors.
    confusion
        Record counts, index the true and columns the predicted label names
        (axes named ``"true"`` and ``"predicted"``); None for regressors.
    confusion_normalized
        ``confusion`` with each row divided by its sum; a class without
        records has a row of zeros. None for regressors.
    label_counts
        Number of records of each true label; None for regressors.

    Examples
    --------
    >>> model = LinearModel("binary_classifier", np.ones((1, 1)), np.zeros(1),
    ...                     "sigmoid", label_names=("no", "yes"))
    >>> result = evaluate(model, np.array([[1.0], [-1.0], [2.0]]), [1, 1, 1])
    >>> result.confusion.loc["yes"].tolist(), result.label_counts.to_dict()
    ([1, 2], {'no': 0, 'yes': 3})
    """

    predictor_type: PredictorType
    num_records: int
    metrics: Mapping[str, float]
    label_names: tuple[str, ...] | None
    accuracy: float | None = None
    recall: pd.DataFrame | None = None
    confusion: pd.DataFrame | None = None
    confusion_normalized: pd.DataFrame | None = None
    label_counts: pd.Series | None = None

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """A plain-text report: accuracy, per-class recall, normalised confusion.

        Returns
        -------
        str
            Several lines, ending with every metric; what ``lodgepole
            evaluate`` prints.

        Examples
        --------
        >>> model = LinearModel("regressor", np.ones((1, 1)), np.zeros(1),
        ...                     "identity")
        >>> print(evaluate(model, np.array([[1.0], [2.0]]), [1.0, 3.0]).summary())
        regressor evaluated on 2 records
        <BLANKLINE>
        metrics
          mse            0.5000
          rmse           0.7071
          absolute_loss  0.5000
          r2             0.5000
        """
        lines = [f"{self.predictor_type.value} evaluated on {self.num_records} records"]
        if self.accuracy is not None:
            lines.append(f"accuracy: {self.accuracy:.4f}")
        if self.recall is not None and self.confusion_normalized is not None:
            lines += ["", "per-class recall", _table_text(self.recall)]
            lines += [
                "",
                "confusion matrix, each row divided by its true-label count",
                _table_text(self.confusion_normalized),
            ]
        width = max((len(name) for name in self.metrics), default=0)
        lines += ["", "metrics"]
        lines += [
            f"  {name:<{width}}  {value:.4f}" for name, value in self.metrics.items()
        ]
        return "\n".join(lines)

    def plot_label_counts(self, ax: Axes | None = None) -> Axes:
        """Bar chart of the number of records of each true label.

        Parameters
        ----------
        ax
            Axes to draw on; a new matplotlib Figure's when None.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.

        Examples
        --------
        >>> model = LinearModel("binary_classifier", np.ones((1, 1)),
        ...                     np.zeros(1), "sigmoid")
        >>> result = evaluate(model, np.array([[1.0], [-1.0], [2.0]]), [0, 1, 1])
        >>> [float(bar.get_height()) for bar in result.plot_label_counts().patches]
        [1.0, 2.0]
        """
        counts = self._classifier_part(self.label_counts, "plot_label_counts")
        return _plots.bar_chart(
            counts, title="Records per label", ylabel="records", ax=ax, fmt="{:d}"
        )

    def plot_confusion(self, normalized: bool = True, ax: Axes | None = None) -> Axes:
        """Heatmap of the confusion matrix, each cell annotated, with a colour bar.

        Parameters
        ----------
        normalized
            Draw the row-normalised matrix (fractions of each true label)
            when True, record counts when False.
        ax
            Axes to draw on; a new matplotlib Figure's when None.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.

        Examples
        --------
        >>> model = LinearModel("binary_classifier", np.ones((1, 1)),
        ...                     np.zeros(1), "sigmoid")
        >>> result = evaluate(model, np.array([[1.0], [-1.0], [2.0]]), [0, 1, 1])
        >>> [text.get_text() for text in result.plot_confusion().texts]
        ['0.00', '1.00', '0.50', '0.50']
        """
        if normalized:
            table = self._classifier_part(self.confusion_normalized, "plot_confusion")
            return _plots.heatmap(
                table, title="Confusion matrix (row-normalised)", ax=ax, vmax=1.0
            )
        table = self._classifier_part(self.confusion, "plot_confusion")
        return _plots.heatmap(
            table, title="Confusion matrix (counts)", ax=ax, fmt="{:.0f}"
        )

    def plot_recall(self, ax: Axes | None = None) -> Axes:
        """Bar chart of the recall of each class.

        Parameters
        ----------
        ax
            Axes to draw on; a new matplotlib Figure's when None.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on.

        Examples
        --------
        >>> model = LinearModel("binary_classifier", np.ones((1, 1)),
        ...                     np.zeros(1), "sigmoid")
        >>> result = evaluate(model, np.array([[1.0], [-1.0], [2.0]]), [0, 1, 1])
        >>> [float(bar.get_height()) for bar in result.plot_recall().patches]
        [0.0, 0.5]
        """
        table = self._classifier_part(self.recall, "plot_recall")
        return _plots.bar_chart(
            table["recall"],
            title="Recall per class",
            ylabel="recall",
            ax=ax,
            fmt="{:.2f}",
            ylim=(0.0, 1.05),
        )

    def _classifier_part(self, part: Any, method: str) -> Any:
        if part is None:
            raise ConfigError(
                f"{method}() needs the evaluation of a classifier; this one is of a "
                f"{self.predictor_type.value!r}, which has no classes."
            )
        return part


def evaluate(
    model_or_predictor: Any,
    X: Any,
    y: Any,
    *,
    label_names: Sequence[str] | None = None,
    batches: int = 1,
) -> Evaluation:
    """Score labelled records and compute accuracy, recall and the confusion matrix.

    Parameters
    ----------
    model_or_predictor
        A :class:`~lodgepole.model.LinearModel`, scored in process, or an
        endpoint's :class:`~lodgepole.serving.endpoint.Predictor` (anything
        with ``predict(data, accept="application/json")``); its predictor
        type is read from the answers.
    X
        Shape (n, feature_dim): numpy array, pandas DataFrame or
        scipy.sparse matrix.
    y
        Shape (n,) true labels (numpy array, list or pandas Series): class
        indices ``0 .. num_classes - 1`` (ints or integral floats) or, when
        label names are known, the names themselves; target values for
        regressors.
    label_names
        One name per class; defaults to the model's ``label_names``, else
        ``"0"``, ``"1"``, ...
    batches
        Number of nearly equal row blocks (:func:`numpy.array_split`) scored
        one at a time: one request each for an endpoint. A model is scored
        block by block too, so a model and its endpoint given the same
        ``batches`` produce identical scores (a float32 matrix product can
        round differently for different block sizes).

    Returns
    -------
    Evaluation
        The results; for regressors only ``metrics`` and ``num_records``.

    Raises
    ------
    DataFormatError
        If X and y differ in length, or a label is not a class of the model.
    ConfigError
        If ``batches`` is not a positive integer, or ``label_names`` does not
        have one distinct name per class.
    EndpointError
        If the endpoint answers an error.

    Examples
    --------
    >>> model = LinearModel("binary_classifier", np.array([[1.0]]),
    ...                     np.zeros(1), "sigmoid")
    >>> result = evaluate(model, np.array([[2.0], [-1.0], [0.5]]), [1, 0, 0])
    >>> result.accuracy, result.confusion.to_numpy().tolist()
    (0.6666666666666666, [[1, 1], [0, 1]])
    >>> evaluate(model, np.array([[2.0]]), [3])
    Traceback (most recent call last):
    ...
    lodgepole.exceptions.DataFormatError: y row 0: label 3 is not a class of ...
    """
    batches = _check_batches(batches)
    features, labels = _check_inputs(X, y)

    if isinstance(model_or_predictor, LinearModel):
        kind = model_or_predictor.predictor_type
        score, predicted = _predict_local(model_or_predictor, features, batches)
        default_names = model_or_predictor.label_names
    elif callable(getattr(model_or_predictor, "predict", None)):
        kind, score, predicted = _predict_remote(model_or_predictor, features, batches)
        default_names = None
    else:
        raise ConfigError(
            "model_or_predictor must be a LinearModel or a Predictor with a "
            f"predict method; got {type(model_or_predictor).__name__}."
        )
    logger.info(
        "evaluation scored predictor_type=%s records=%d batches=%d",
        kind.value,
        labels.shape[0],
        batches,
    )

    if kind is PredictorType.REGRESSOR:
        names = tuple(label_names) if label_names is not None else default_names
        metrics = compute_metrics(kind, _as_targets(labels), score)
        return Evaluation(kind, labels.shape[0], metrics, names)
    num_classes = score.shape[1] if kind is PredictorType.MULTICLASS else 2
    names = _label_names(
        label_names if label_names is not None else default_names, num_classes
    )
    true = _class_indices(labels, names)
    return _classifier_evaluation(kind, names, true, score, predicted)


# --- inputs -----------------------------------------------------------------


def _check_batches(batches: Any) -> int:
    if isinstance(batches, bool) or not isinstance(batches, int | np.integer):
        raise ConfigError(f"batches must be an integer >= 1; got {batches!r}.")
    if batches < 1:
        raise ConfigError(f"batches must be an integer >= 1; got {batches!r}.")
    return int(batches)


def _check_inputs(X: Any, y: Any) -> tuple[Any, np.ndarray]:
    """X as a CSR matrix or 2-D array and y as a 1-D array of equal length."""
    features = sp.csr_matrix(X) if sp.issparse(X) else np.asarray(X)
    if features.ndim != 2:
        raise DataFormatError(
            f"X must be 2-D (records, features); got shape {features.shape!r}."
        )
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels.ravel()
    if labels.ndim != 1:
        raise DataFormatError(
            f"y must be 1-D (one label per record); got shape {labels.shape!r}."
        )
    if labels.shape[0] != features.shape[0]:
        raise DataFormatError(
            f"X has {features.shape[0]} records but y has {labels.shape[0]} labels; "
            "pass one label per record."
        )
    if labels.shape[0] == 0:
        raise DataFormatError(
            "X and y are empty; evaluation needs at least one record."
        )
    return features, labels


def _as_targets(labels: np.ndarray) -> np.ndarray:
    if labels.dtype.kind not in "biuf":
        raise DataFormatError(
            f"y must hold numbers for a regressor; got dtype {str(labels.dtype)!r}."
        )
    return labels.astype(np.float64)


def _label_names(names: Sequence[str] | None, num_classes: int) -> tuple[str, ...]:
    if names is None:
        return tuple(str(i) for i in range(num_classes))
    frozen = tuple(names)
    if not all(isinstance(name, str) for name in frozen):
        raise ConfigError(f"label_names must be strings; got {frozen!r}.")
    if len(frozen) != num_classes:
        raise ConfigError(
            f"label_names has {len(frozen)} names but the model predicts "
            f"{num_classes} classes; pass one name per class."
        )
    if len(set(frozen)) != len(frozen):
        repeated = sorted({name for name in frozen if frozen.count(name) > 1})
        raise ConfigError(f"label_names must be distinct; {repeated!r} repeat.")
    return frozen


def _class_indices(labels: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Class indices of ``labels``, given as indices or as label names."""
    num_classes = len(names)
    if labels.dtype.kind in "US" or labels.dtype == object:
        lookup = {name: i for i, name in enumerate(names)}
        true = np.array([lookup.get(label, -1) for label in labels.tolist()])
        if (true < 0).any():
            row = int(np.flatnonzero(true < 0)[0])
            label = labels.tolist()[row]
            raise DataFormatError(
                f"y row {row}: label {label!r} is not a class of the model; "
                f"expected one of {list(names)!r}."
            )
        return true.astype(np.int64)
    if labels.dtype.kind not in "biuf":
        raise DataFormatError(
            f"y must hold class indices or label names; got dtype "
            f"{str(labels.dtype)!r}."
        )
    values = labels.astype(np.float64)
    good = np.isfinite(values) & (values == np.round(values))
    good &= (values >= 0) & (values < num_classes)
    if not good.all():
        row = int(np.flatnonzero(~good)[0])
        raise DataFormatError(
            f"y row {row}: label {labels[row].item()!r} is not a class of the model; "
            f"expected an integer in [0, {num_classes}) (num_classes={num_classes})."
        )
    return values.astype(np.int64)


# --- scoring ----------------------------------------------------------------


def _blocks(features: Any, batches: int) -> Iterator[tuple[int, Any]]:
    """Non-empty row blocks of ``features`` as :func:`numpy.array_split` cuts them."""
    for index, rows in enumerate(np.array_split(np.arange(features.shape[0]), batches)):
        if rows.size:
            logger.debug("evaluation batch batch=%d records=%d", index, rows.size)
            yield index, features[rows[0] : rows[-1] + 1]


def _predict_local(
    model: LinearModel, features: Any, batches: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Score ``features`` with ``model`` block by block."""
    predictions = [model.predict(block) for _, block in _blocks(features, batches)]
    score = np.concatenate([p.score for p in predictions])
    if predictions[0].predicted_label is None:
        return score, None
    return score, np.concatenate([p.predicted_label for p in predictions])


def _predict_remote(
    predictor: Any, features: Any, batches: int
) -> tuple[PredictorType, np.ndarray, np.ndarray | None]:
    """Score ``features`` on an endpoint in ``batches`` JSON requests."""
    answers: list[dict[str, Any]] = []
    for index, block in _blocks(features, batches):
        reply = predictor.predict(block, accept=_JSON)
        answers.extend(_predictions(reply, block.shape[0], index))

    score = np.asarray([answer["score"] for answer in answers], dtype=np.float32)
    if "predicted_label" not in answers[0]:
        return PredictorType.REGRESSOR, score, None
    predicted = np.asarray(
        [answer["predicted_label"] for answer in answers], dtype=np.float32
    )
    kind = PredictorType.MULTICLASS if score.ndim == 2 else PredictorType.BINARY
    return kind, score, predicted


def _predictions(reply: Any, expected: int, batch: int) -> list[dict[str, Any]]:
    predictions = reply.get("predictions") if isinstance(reply, dict) else None
    if not isinstance(predictions, list) or len(predictions) != expected:
        got = len(predictions) if isinstance(predictions, list) else "no"
        raise DataFormatError(
            f"batch {batch}: the endpoint answered {got} predictions for "
            f"{expected} records; expected a JSON object "
            '{"predictions": [...]} with one entry per record.'
        )
    return predictions


# --- results ----------------------------------------------------------------


def _classifier_evaluation(
    kind: PredictorType,
    names: tuple[str, ...],
    true: np.ndarray,
    score: np.ndarray,
    predicted: np.ndarray,
) -> Evaluation:
    pd = _plots.require("pandas", "lodgepole.evaluate")
    num_classes = len(names)
    pred = predicted.astype(np.int64)

    counts = confusion_matrix(true, pred, num_classes)
    normalized = confusion_matrix(true, pred, num_classes, normalize="true")
    scores = per_class_scores(true, pred, num_classes)
    metrics = compute_metrics(kind, true, score, predicted, num_classes=num_classes)

    index = pd.Index(names, name="label")
    recall = pd.DataFrame(
        {
            "count": scores["support"],
            "correct": np.diag(counts),
            "recall": scores["recall"],
            "precision": scores["precision"],
            "f1": scores["f_beta"],
        },
        index=index,
    )
    return Evaluation(
        predictor_type=kind,
        num_records=int(true.shape[0]),
        metrics=metrics,
        label_names=names,
        accuracy=accuracy_score(true, pred),
        recall=recall,
        confusion=_square(pd, counts, names),
        confusion_normalized=_square(pd, normalized, names),
        label_counts=pd.Series(scores["support"], index=index, name="count"),
    )


def _square(pd: Any, values: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        values,
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )


def _table_text(table: pd.DataFrame) -> str:
    return table.to_string(float_format=lambda value: f"{value:.4f}")
