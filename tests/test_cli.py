"""The command line, run through its real entry point."""

from __future__ import annotations

import subprocess
import sys

from lodgepole.cli import main
from lodgepole.model import LinearModel


def test_cli_demo_runs_the_walkthrough_through_jobs_and_endpoints(
    tmp_path, capsys, monkeypatch
):
    from lodgepole.jobs import list_jobs
    from lodgepole.serving import list_endpoints

    monkeypatch.setenv("LODGEPOLE_DATA_HOME", str(tmp_path / "data"))
    endpoints_before = {e.name for e in list_endpoints(check=False)}
    code = main(
        [
            "demo",
            "covtype",
            "--rows",
            "20000",
            "--epochs",
            "3",
            "--batches",
            "10",
            "--output",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Data: covtype_like" in out
    assert (
        "Shuffled and split 80/10/10: train 16,000, validation 2,000, test 2,000" in out
    )
    assert "== default model ==" in out and "== balanced model ==" in out
    assert out.count("Scored 2,000 test records through HTTP in 10 batches") == 2
    assert "Aspen" in out and "confusion matrix" in out
    # Two completed jobs whose models are 7-class, endpoints all deleted.
    jobs = [j for j in list_jobs() if j.name.startswith("covtype-")]
    names = {j.name.rsplit("-", 7)[0] for j in jobs}
    assert {"covtype-default", "covtype-balanced"} <= names
    for job in jobs[-2:]:
        assert job.status == "Completed" and job.name in out
        assert LinearModel.load(job.model_path).num_classes == 7
        assert len(job.history) == 3
    assert {e.name for e in list_endpoints(check=False)} == endpoints_before
    report = tmp_path / "out" / "report"
    html = (report / "index.html").read_text()
    for png in ("label_counts", "confusion_default", "confusion_balanced", "curves"):
        assert f'src="{png}.png"' in html and (report / f"{png}.png").stat().st_size
    # Record sets were written once, in the SageMaker SDK's layout.
    manifests = list((tmp_path / "out" / "data").glob("*/train/.amazon.manifest"))
    assert len(manifests) == 1


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
