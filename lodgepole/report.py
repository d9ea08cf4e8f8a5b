"""Write a self-contained HTML report comparing evaluations, with PNG plots.

:func:`write_report` turns one or more :class:`~lodgepole.evaluation.Evaluation`
objects (e.g. ``"default"`` and ``"balanced"`` models on the same test set)
and, optionally, their training histories into a directory::

    report/
      index.html          inline CSS, no scripts, no external URLs
      label_counts.png    records per true label
      confusion_<name>.png  row-normalised confusion heatmap per classifier
      recall.png          per-class recall, one bar per evaluation
      curves.png          per-epoch objective loss and accuracy-type metric

The HTML shows the metrics and the per-class recall of all evaluations side
by side and refers to each PNG by relative path. Needs matplotlib and pandas:
``pip install "lodgepole[report]"``.

Examples
--------
>>> import tempfile, numpy as np
>>> from pathlib import Path
>>> from lodgepole.evaluation import evaluate
>>> from lodgepole.model import LinearModel
>>> model = LinearModel("multiclass_classifier", np.eye(3), np.zeros(3), "softmax")
>>> result = evaluate(model, np.eye(3), [0, 1, 1])
>>> with tempfile.TemporaryDirectory() as tmp:
...     out = write_report(Path(tmp) / "report", {"eye": result})
...     sorted(p.name for p in out.iterdir())
['confusion_eye.png', 'index.html', 'label_counts.png', 'recall.png']
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lodgepole import _plots
from lodgepole._artifact import _fsync_directory, _swap_in
from lodgepole.evaluation import Evaluation
from lodgepole.exceptions import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["write_report"]

logger = logging.getLogger(__name__)

History = list[dict[str, float]]

#: Metric drawn next to the objective loss in ``curves.png``: the first of
#: these found in a history, after the channel prefix.
_CURVE_METRICS = ("multiclass_accuracy", "binary_classification_accuracy", "rmse")
_CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 75em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #eef; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; }
"""


def write_report(
    path: str | os.PathLike[str],
    evaluations: Mapping[str, Evaluation],
    *,
    histories: Mapping[str, History] | None = None,
    title: str = "Lodgepole report",
) -> Path:
    """Write ``index.html`` and its PNG plots into the directory ``path``, atomically.

    Parameters
    ----------
    path
        Report directory; missing parents are created. An existing directory
        is replaced only if it holds an ``index.html`` (an earlier report).
    evaluations
        Name (e.g. ``"default"``, ``"balanced"``) to evaluation, in the
        order the tables show them.
    histories
        Optional name to training history (``TrainingResult.history``: one
        dict per epoch with ``"train:objective_loss"``,
        ``"validation:multiclass_accuracy"``, ...) for ``curves.png``.
    title
        Title of the page.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ConfigError
        If ``evaluations`` is empty.
    FileExistsError
        If ``path`` exists and is not a report directory.
    ImportError
        If matplotlib or pandas is missing.

    Notes
    -----
    The report is built in a hidden sibling directory and renamed into
    place; replacing an old report takes two renames, and a crash between
    them leaves the old one in a hidden ``.<name>.<hex>.old`` sibling.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from lodgepole.evaluation import evaluate
    >>> from lodgepole.model import LinearModel
    >>> model = LinearModel("regressor", np.ones((1, 1)), np.zeros(1), "identity")
    >>> result = evaluate(model, np.array([[1.0], [2.0]]), [1.0, 3.0])
    >>> history = [{"epoch": 0, "train:objective_loss": 1.0},
    ...            {"epoch": 1, "train:objective_loss": 0.5}]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_report(Path(tmp) / "r", {"linear": result},
    ...                        histories={"linear": history})
    ...     sorted(p.name for p in out.iterdir())
    ['curves.png', 'index.html']
    """
    if not evaluations:
        raise ConfigError("evaluations is empty; pass at least one Evaluation.")
    target = Path(path)
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)

    staging = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    )
    try:
        os.chmod(staging, 0o755)
        images = _write_images(staging, evaluations, histories or {})
        page = _page(title, evaluations, images)
        (staging / "index.html").write_text(page, encoding="utf-8")
        _check_replaceable(target)
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_directory(target.parent)
    logger.info(
        "report written path=%s evaluations=%d images=%d",
        target,
        len(evaluations),
        len(images),
    )
    return target


def _check_replaceable(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise FileExistsError(
            f"cannot write a report at {str(target)!r}: it exists and is not a "
            "directory. Remove it or choose another path."
        )
    # An empty directory is replaced too: nothing can be lost.
    is_report = (target / "index.html").is_file()
    if target.is_dir() and not is_report and any(target.iterdir()):
        raise FileExistsError(
            f"refusing to replace {str(target)!r}: it is a directory without "
            "index.html, so not a lodgepole report. Choose a new or empty "
            "directory."
        )


# --- images -----------------------------------------------------------------


class _Image:
    """A PNG of the report: file name, alt text and caption."""

    def __init__(self, file: str, alt: str, caption: str) -> None:
        self.file, self.alt, self.caption = file, alt, caption


def _write_images(
    directory: Path,
    evaluations: Mapping[str, Evaluation],
    histories: Mapping[str, History],
) -> list[_Image]:
    classifiers = {n: e for n, e in evaluations.items() if e.recall is not None}
    slugs = _slugs(list(classifiers))
    images: list[_Image] = []

    def save(file: str, alt: str, caption: str, draw: Callable[[], Figure]) -> None:
        figure = draw()
        figure.savefig(directory / file, dpi=_plots.DPI, format="png")
        figure.clear()
        images.append(_Image(file, alt, caption))

    if classifiers:
        save(
            "label_counts.png",
            "Bar chart of the number of records per true label",
            "Records per true label",
            lambda: _label_counts_figure(classifiers),
        )
    for name, evaluation in classifiers.items():
        save(
            f"confusion_{slugs[name]}.png",
            f"Row-normalised confusion matrix heatmap of {name}",
            f"Confusion matrix of {name}, each row divided by its true-label count",
            lambda e=evaluation: e.plot_confusion(normalized=True).figure,
        )
    if classifiers:
        save(
            "recall.png",
            "Bar chart of the recall of each class, one bar per evaluation",
            "Recall per class",
            lambda: _recall_figure(classifiers),
        )
    curves = _curve_series(histories)
    if any(curves):
        save(
            "curves.png",
            "Line charts of objective loss and accuracy per epoch",
            "Per-epoch training (dashed) and validation (solid) curves",
            lambda: _curves_figure(*curves),
        )
    return images


def _slugs(names: list[str]) -> dict[str, str]:
    """A distinct file-name-safe form of each name."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for i, name in enumerate(names):
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or f"model{i}"
        while slug in taken:
            slug = f"{slug}-{i}"
        taken.add(slug)
        slugs[name] = slug
    return slugs


def _label_counts_figure(classifiers: Mapping[str, Evaluation]) -> Figure:
    pd = _plots.require("pandas", "write_report")
    counts = {name: e.label_counts for name, e in classifiers.items()}
    first = next(iter(counts.values()))
    if all(first.equals(other) for other in counts.values()):
        return _plots.bar_chart(
            first, title="Records per label", ylabel="records", fmt="{:d}"
        ).figure
    table = pd.DataFrame(counts)
    return _plots.grouped_bars(
        table, title="Records per label", ylabel="records"
    ).figure


def _recall_figure(classifiers: Mapping[str, Evaluation]) -> Figure:
    pd = _plots.require("pandas", "write_report")
    table = pd.DataFrame({name: e.recall["recall"] for name, e in classifiers.items()})
    ax = _plots.grouped_bars(
        table, title="Recall per class", ylabel="recall", ylim=(0.0, 1.05)
    )
    return ax.figure


Series = dict[str, tuple[list[float], list[float]]]


def _curve_series(histories: Mapping[str, History]) -> tuple[Series, Series, str]:
    """Loss and metric lines per model and channel, and the metric's name."""
    loss: Series = {}
    metric: Series = {}
    metric_name = ""
    for model, history in histories.items():
        for channel in ("train", "validation"):
            found = _column(history, f"{channel}:objective_loss")
            if found is not None:
                loss[f"{model} ({channel})"] = found
            for name in _CURVE_METRICS:
                found = _column(history, f"{channel}:{name}")
                if found is not None:
                    metric[f"{model} ({channel})"] = found
                    metric_name = metric_name or name
                    break
    return loss, metric, metric_name


def _column(history: History, key: str) -> tuple[list[float], list[float]] | None:
    points = [
        (float(row.get("epoch", i)), float(row[key]))
        for i, row in enumerate(history)
        if key in row
    ]
    if not points:
        return None
    epochs, values = zip(*points, strict=True)
    return list(epochs), list(values)


def _curves_figure(loss: Series, metric: Series, metric_name: str) -> Figure:
    figure_module = _plots.require("matplotlib.figure", "write_report")
    panels = [(loss, "objective loss")] if loss else []
    if metric:
        panels.append((metric, metric_name))
    figure = figure_module.Figure(
        figsize=(5.5 * len(panels), 4.0), dpi=_plots.DPI, layout="constrained"
    )
    for ax, (series, label) in zip(
        figure.subplots(1, len(panels), squeeze=False)[0], panels, strict=True
    ):
        _plots.curves(ax, series, title=f"{label} per epoch", ylabel=label)
    return figure


# --- HTML -------------------------------------------------------------------


def _page(
    title: str, evaluations: Mapping[str, Evaluation], images: list[_Image]
) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style></head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
        "<h2>Metrics</h2>",
        _metrics_table(evaluations),
    ]
    recall = _recall_table(evaluations)
    if recall:
        parts += ["<h2>Recall per class</h2>", recall]
    if images:
        parts.append("<h2>Plots</h2>")
    parts += [
        f'<figure><img src="{e(image.file)}" alt="{e(image.alt)}">'
        f"<figcaption>{e(image.caption)}</figcaption></figure>"
        for image in images
    ]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _metrics_table(evaluations: Mapping[str, Evaluation]) -> str:
    rows: dict[str, dict[str, Any]] = {"records": {}, "predictor_type": {}}
    for name, evaluation in evaluations.items():
        rows["records"][name] = evaluation.num_records
        rows["predictor_type"][name] = evaluation.predictor_type.value
        if evaluation.accuracy is not None:
            rows.setdefault("accuracy", {})[name] = evaluation.accuracy
        for metric, value in evaluation.metrics.items():
            rows.setdefault(metric, {})[name] = value
    return _table("metric", list(evaluations), rows)


def _recall_table(evaluations: Mapping[str, Evaluation]) -> str:
    classifiers = {n: ev for n, ev in evaluations.items() if ev.recall is not None}
    if not classifiers:
        return ""
    rows: dict[str, dict[str, Any]] = {}
    for name, evaluation in classifiers.items():
        for label, row in evaluation.recall.iterrows():
            cells = rows.setdefault(str(label), {})
            cells.setdefault("records", int(row["count"]))
            cells[name] = float(row["recall"])
    return _table("label", ["records", *classifiers], rows)


def _table(
    corner: str, columns: list[str], rows: Mapping[str, Mapping[str, Any]]
) -> str:
    e = html.escape
    head = "".join(f"<th>{e(column)}</th>" for column in [corner, *columns])
    body = [
        f"<tr><th>{e(row)}</th>"
        + "".join(f"<td>{e(_cell(cells.get(column)))}</td>" for column in columns)
        + "</tr>"
        for row, cells in rows.items()
    ]
    return "\n".join(
        [
            "<table>",
            f"<thead><tr>{head}</tr></thead>",
            "<tbody>",
            *body,
            "</tbody>",
            "</table>",
        ]
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | np.floating):
        return f"{float(value):.4f}"
    return str(value)
