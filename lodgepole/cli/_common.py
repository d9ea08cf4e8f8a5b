"""What every command shares: exit codes, argument types, output helpers."""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO, Any

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns separated by two spaces; the first row is a header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


class Progress:
    """A one-line progress bar with rate and ETA, drawn on a terminal only.

    When the stream is not a terminal (a pipe, a CI log) nothing is drawn
    until :meth:`close`, which writes one summary line.
    """

    def __init__(
        self,
        label: str,
        total: float | None,
        unit: str,
        *,
        stream: IO[str] | None = None,
        scale: float = 1.0,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.scale = scale
        self.done = 0.0
        self.note = ""
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._drawn = 0.0

    def update(self, done: float, note: str = "") -> None:
        """Set the amount done (in units) and an optional note; redraw."""
        self.done = done
        self.note = note
        now = time.perf_counter()
        if self.live and (now - self._drawn > 0.1 or done == self.total):
            self._drawn = now
            self.stream.write("\r" + self.line() + "\x1b[K")
            self.stream.flush()

    def line(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.done / elapsed
        shown = f"{self.done / self.scale:,.0f}"
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            bar = "#" * int(20 * fraction)
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            eta_text = f"ETA {eta:4.0f}s" if eta == eta else "ETA    ?"
            progress = (
                f"[{bar:<20}] {shown}/{self.total / self.scale:,.0f} {self.unit} "
                f"{rate / self.scale:,.2f} {self.unit}/s {eta_text}"
            )
        else:
            progress = f"{shown} {self.unit} {rate / self.scale:,.2f} {self.unit}/s"
        note = f"  {self.note}" if self.note else ""
        return f"{self.label:>9} {progress} {elapsed:.1f}s{note}"

    def close(self) -> None:
        """Finish the line (or write the summary line when not a terminal)."""
        if self.live:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is None:
            self.close()
        elif self.live and self._drawn:
            self.stream.write("\n")  # keep the partial bar; the error follows


def epoch_callback(progress: Progress):  # type: ignore[no-untyped-def]
    """A training callback that advances ``progress`` by one epoch per report."""

    def report(epoch_report) -> None:  # type: ignore[no-untyped-def]
        if progress.total != epoch_report.epochs:
            progress.total = float(epoch_report.epochs)
        metrics = epoch_report.metrics
        note = ""
        for key in (
            "validation:multiclass_accuracy",
            "validation:binary_classification_accuracy",
            "validation:objective_loss",
            "train:objective_loss",
        ):
            if key in metrics:
                note = f"{key} {metrics[key]:.4f}"
                break
        progress.update(epoch_report.epoch + 1, note)

    return report


class CommandError(Exception):
    """A bad argument found after parsing: one line on stderr, exit code 2."""


def load_model(path: str) -> Any:
    """Load a saved model, turning a missing path into a :class:`CommandError`."""
    from lodgepole.model import LinearModel

    try:
        return LinearModel.load(path)
    except FileNotFoundError as err:
        raise CommandError(f"no model at {err.filename or path}") from None
