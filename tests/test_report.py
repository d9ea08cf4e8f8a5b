"""Tests for lodgepole.report: files, decodable PNGs, HTML references and escaping."""

from __future__ import annotations

import html.parser
from pathlib import Path

import numpy as np
import pytest

from lodgepole import report as report_module
from lodgepole.evaluation import Evaluation, evaluate
from lodgepole.exceptions import ConfigError
from lodgepole.model import LinearModel
from lodgepole.report import write_report

pytest.importorskip("pandas")
image = pytest.importorskip("matplotlib.image")

NAMES = ("spruce", "lodgepole", "<b>&")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Images(html.parser.HTMLParser):
    """Collects the ``src`` and ``alt`` of every ``img`` and every URL attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag == "img":
            self.images.append((values.get("src") or "", values.get("alt") or ""))
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]


def _parse(page: str) -> _Images:
    parser = _Images()
    parser.feed(page)
    parser.close()
    return parser


def _evaluation(bias: list[float], seed: int = 0) -> Evaluation:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = np.argmax(X + rng.normal(scale=0.7, size=(300, 3)), axis=1)
    model = LinearModel("multiclass_classifier", np.eye(3), np.array(bias), "softmax")
    return evaluate(model, X, y, label_names=NAMES)


@pytest.fixture(scope="module")
def evaluations() -> dict[str, Evaluation]:
    return {
        "default": _evaluation([0.0, 0.8, -0.5]),
        "balanced": _evaluation([0.0, 0.0, 0.0]),
    }


def _history(start: float) -> list[dict[str, float]]:
    return [
        {
            "epoch": float(epoch),
            "train:objective_loss": start / (epoch + 1),
            "validation:objective_loss": start / (epoch + 1) + 0.05,
            "validation:multiclass_accuracy": 0.5 + 0.05 * epoch,
        }
        for epoch in range(4)
    ]


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory, evaluations: dict[str, Evaluation]
) -> Path:
    histories = {"default": _history(1.0), "balanced": _history(1.2)}
    path = tmp_path_factory.mktemp("reports") / "covtype"
    return write_report(path, evaluations, histories=histories, title="Cover & <type>")


def test_write_report_writes_index_and_pngs(written: Path):
    assert written.is_dir()
    assert sorted(p.name for p in written.iterdir()) == [
        "confusion_balanced.png",
        "confusion_default.png",
        "curves.png",
        "index.html",
        "label_counts.png",
        "recall.png",
    ]
    siblings = [p.name for p in written.parent.iterdir()]
    assert siblings == ["covtype"]  # no staging directory left behind


def test_write_report_pngs_decode_with_sane_sizes(written: Path):
    for png in written.glob("*.png"):
        assert png.read_bytes()[:8] == PNG_SIGNATURE
        pixels = image.imread(png)
        height, width, channels = pixels.shape
        assert 200 <= height <= 1500 and 200 <= width <= 2000, png.name
        assert channels in (3, 4)
        assert pixels[..., :3].std() > 0.05, f"{png.name} is blank"


def test_write_report_html_references_every_png_with_alt_text(written: Path):
    parsed = _parse((written / "index.html").read_text(encoding="utf-8"))
    sources = [src for src, _ in parsed.images]

    assert sorted(sources) == sorted(p.name for p in written.glob("*.png"))
    for src, alt in parsed.images:
        assert (written / src).is_file()
        assert alt
    assert all("://" not in url and not url.startswith("/") for url in parsed.urls)
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert "style" in parsed.tags


def test_write_report_html_shows_metrics_side_by_side(
    written: Path, evaluations: dict[str, Evaluation]
):
    page = (written / "index.html").read_text(encoding="utf-8")
    assert "<th>metric</th><th>default</th><th>balanced</th>" in page
    default, balanced = evaluations["default"], evaluations["balanced"]
    accuracy = f"<th>accuracy</th><td>{default.accuracy:.4f}</td>"
    assert accuracy + f"<td>{balanced.accuracy:.4f}</td>" in page
    recall = default.recall.loc["lodgepole", "recall"]
    count = default.recall.loc["lodgepole", "count"]
    assert f"<th>lodgepole</th><td>{count}</td><td>{recall:.4f}</td>" in page


def test_write_report_escapes_names_and_title(written: Path):
    page = (written / "index.html").read_text(encoding="utf-8")
    assert "<b>&" not in page
    assert "<th>&lt;b&gt;&amp;</th>" in page
    assert "<title>Cover &amp; &lt;type&gt;</title>" in page


def test_write_report_escapes_evaluation_names_and_keeps_file_names_safe(
    tmp_path: Path, evaluations: dict[str, Evaluation]
):
    odd = {'<i>x</i> "q"': evaluations["default"]}
    out = write_report(tmp_path / "odd", odd)
    page = (out / "index.html").read_text(encoding="utf-8")

    assert "<i>" not in page
    assert "&lt;i&gt;x&lt;/i&gt; &quot;q&quot;" in page
    sources = [src for src, _ in _parse(page).images]
    assert "confusion_i-x-i-q.png" in sources
    assert all((out / src).is_file() for src in sources)


def test_write_report_replaces_an_earlier_report(
    tmp_path: Path, evaluations: dict[str, Evaluation]
):
    path = tmp_path / "report"
    write_report(path, evaluations)
    assert (path / "confusion_balanced.png").is_file()

    write_report(path, {"default": evaluations["default"]})

    assert not (path / "confusion_balanced.png").exists()
    assert (path / "confusion_default.png").is_file()
    assert "<th>balanced</th>" not in (path / "index.html").read_text("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_write_report_keeps_the_old_report_when_writing_fails(
    tmp_path: Path, evaluations: dict[str, Evaluation], monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "report"
    path.mkdir()
    (path / "index.html").write_text("old report", encoding="utf-8")

    def fail(*args: object) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "_page", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(path, evaluations)

    assert (path / "index.html").read_text(encoding="utf-8") == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_write_report_refuses_to_replace_a_directory_that_is_not_a_report(
    tmp_path: Path, evaluations: dict[str, Evaluation]
):
    path = tmp_path / "mine"
    path.mkdir()
    (path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError, match="not a lodgepole report"):
        write_report(path, evaluations)
    assert [p.name for p in path.iterdir()] == ["notes.txt"]

    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(FileExistsError, match="not a directory"):
        write_report(a_file, evaluations)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine"]


def test_write_report_of_a_regressor_has_metrics_and_curves_only(tmp_path: Path):
    model = LinearModel("regressor", np.ones((2, 1)), np.zeros(1), "identity")
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    result = evaluate(model, X, [1.5, 2.0, 1.0])
    history = [
        {"epoch": 0.0, "train:objective_loss": 2.0, "validation:rmse": 1.5},
        {"epoch": 1.0, "train:objective_loss": 1.0, "validation:rmse": 1.2},
    ]
    out = write_report(
        tmp_path / "r", {"linear": result}, histories={"linear": history}
    )

    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "index.html"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f"<th>rmse</th><td>{result.metrics['rmse']:.4f}</td>" in page
    assert "Recall per class" not in page


def test_write_report_rejects_no_evaluations(tmp_path: Path):
    with pytest.raises(ConfigError, match="evaluations is empty"):
        write_report(tmp_path / "r", {})
    assert not (tmp_path / "r").exists()
