"""The command line, run through its real entry point."""

from __future__ import annotations

import subprocess
import sys

from lodgepole.cli import main
from lodgepole.model import LinearModel


def test_cli_demo_trains_both_models_and_prints_the_report(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("LODGEPOLE_DATA_HOME", str(tmp_path / "data"))
    code = main(
        [
            "demo",
            "covtype",
            "--rows",
            "20000",
            "--epochs",
            "3",
            "--output",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Data: covtype_like" in out
    assert "== default model: test accuracy" in out
    assert "== balanced model: test accuracy" in out
    assert "Aspen" in out and "confusion matrix" in out
    for name in ("default", "balanced"):
        model = LinearModel.load(tmp_path / "out" / f"model-{name}")
        assert model.num_classes == 7
        assert model.label_names[1] == "Lodgepole Pine"


def test_cli_entry_point_version_and_usage_errors():
    version = subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert version.returncode == 0
    assert version.stdout.startswith("lodgepole ")
    bad = subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", "demo", "nosuchset"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid choice" in bad.stderr


def test_cli_reports_lodgepole_errors_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LODGEPOLE_DATA_HOME", str(tmp_path / "data"))
    code = main(
        ["demo", "covtype", "--rows", "500", "--epochs", "0", "--output", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("lodgepole: error: epochs must be")
    assert "Traceback" not in err
