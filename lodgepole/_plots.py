"""Matplotlib drawing shared by :mod:`lodgepole.evaluation` and :mod:`lodgepole.report`.

Every function draws on a given ``Axes`` or, when ``ax`` is None, on a new
:class:`matplotlib.figure.Figure`: no pyplot state, no GUI backend. pandas and
matplotlib are optional (``pip install "lodgepole[report]"``) and imported
only here and only when a plot is drawn, through :func:`require`.

Examples
--------
>>> import pandas as pd
>>> ax = bar_chart(pd.Series([3, 1], index=["a", "b"]), title="counts")
>>> [float(patch.get_height()) for patch in ax.patches]
[3.0, 1.0]
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "DPI",
    "bar_chart",
    "curves",
    "grouped_bars",
    "heatmap",
    "new_axes",
    "require",
]

#: Resolution of every saved figure, in dots per inch.
DPI = 100
_INSTALL_HINT = 'pip install "lodgepole[report]"'


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional dependency or raise an ImportError naming the extra.

    Examples
    --------
    >>> require("numpy", "arrays").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        raise ImportError(
            f"{purpose} needs {top}, which is not installed; install it with "
            f"{_INSTALL_HINT}."
        ) from err


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.8)) -> Axes:
    """Return ``ax``, or the axes of a new constrained-layout Figure.

    Examples
    --------
    >>> new_axes(None, (3.0, 2.0)).figure.get_size_inches().tolist()
    [3.0, 2.0]
    """
    if ax is not None:
        return ax
    figure_module = require("matplotlib.figure", "plotting")
    figure = figure_module.Figure(figsize=figsize, dpi=DPI, layout="constrained")
    return figure.add_subplot()


def bar_chart(
    values: pd.Series,
    *,
    title: str,
    ylabel: str = "",
    ax: Axes | None = None,
    fmt: str = "{:g}",
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """Vertical bars, one per index entry, each labelled with its value."""
    ax = new_axes(ax, (max(4.0, 0.8 * len(values) + 2.0), 4.0))
    positions = np.arange(len(values))
    bars = ax.bar(positions, values.to_numpy(dtype=np.float64), color="#4c72b0")
    ax.bar_label(bars, labels=[fmt.format(v) for v in values.to_numpy()], fontsize=8)
    _category_ticks(ax, positions, values.index)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    return ax


def grouped_bars(
    table: pd.DataFrame,
    *,
    title: str,
    ylabel: str = "",
    ax: Axes | None = None,
    ylim: tuple[float, float] | None = None,
) -> Axes:
    """One group of bars per row of ``table``, one bar per column (with legend).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"x": [0.5, 1.0], "y": [0.25, 0.0]}, index=["a", "b"])
    >>> ax = grouped_bars(table, title="recall")
    >>> len(ax.patches), [t.get_text() for t in ax.get_legend().get_texts()]
    (4, ['x', 'y'])
    """
    rows, cols = table.shape
    ax = new_axes(ax, (max(4.0, 0.5 * rows * max(cols, 1) + 2.5), 4.0))
    positions = np.arange(rows)
    width = 0.8 / max(cols, 1)
    for i, column in enumerate(table.columns):
        offset = (i - (cols - 1) / 2) * width
        values = table[column].to_numpy(dtype=np.float64)
        ax.bar(positions + offset, np.nan_to_num(values), width, label=str(column))
    _category_ticks(ax, positions, table.index)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8)
    return ax


def heatmap(
    table: pd.DataFrame,
    *,
    title: str,
    ax: Axes | None = None,
    fmt: str = "{:.2f}",
    vmax: float | None = None,
) -> Axes:
    """Annotated heatmap of a square table with a colour bar.

    Cell text is white where the colour is dark (over half the colour scale)
    and black elsewhere, so every value stays readable.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame([[0.9, 0.1], [0.0, 1.0]], index=["a", "b"],
    ...                      columns=["a", "b"])
    >>> ax = heatmap(table, title="confusion", vmax=1.0)
    >>> [(t.get_text(), t.get_color()) for t in ax.texts][:2]
    [('0.90', 'white'), ('0.10', 'black')]
    """
    rows, cols = table.shape
    side = max(4.0, 0.7 * cols + 2.5)
    ax = new_axes(ax, (side + 1.0, side))
    values = table.to_numpy(dtype=np.float64)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, aspect="equal")
    ax.figure.colorbar(image, ax=ax)

    for (i, j), value in np.ndenumerate(values):
        dark = image.norm(value) > 0.5
        ax.text(
            j,
            i,
            fmt.format(value),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )
    _category_ticks(ax, np.arange(cols), table.columns)
    ax.set_yticks(np.arange(rows), [str(name) for name in table.index])
    ax.set_xlabel(str(table.columns.name or ""))
    ax.set_ylabel(str(table.index.name or ""))
    ax.set_title(title)
    return ax


def curves(
    ax: Axes,
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str,
    ylabel: str,
) -> Axes:
    """Line plot of named ``(epochs, values)`` pairs; names ending in
    ``"(train)"`` are dashed.

    Examples
    --------
    >>> ax = curves(new_axes(None), {"a (train)": ([0, 1], [2.0, 1.0])},
    ...             title="loss", ylabel="loss")
    >>> ax.lines[0].get_linestyle()
    '--'
    """
    colours: dict[str, Any] = {}
    for name, (epochs, values) in series.items():
        model = name.rsplit(" (", 1)[0]
        colour = colours.setdefault(model, f"C{len(colours) % 10}")
        style = "--" if name.endswith("(train)") else "-"
        ax.plot(epochs, values, style, color=colour, marker=".", label=name)
    ticker = require("matplotlib.ticker", "plotting")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if series:
        ax.legend(fontsize=8)
    return ax


def _category_ticks(ax: Axes, positions: np.ndarray, names: Sequence[Any]) -> None:
    labels = [str(name) for name in names]
    rotate = max((len(label) for label in labels), default=0) > 6
    ax.set_xticks(
        positions,
        labels,
        rotation=30 if rotate else 0,
        ha="right" if rotate else "center",
    )
