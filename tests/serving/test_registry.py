"""Endpoints outlive the process that deployed them; the registry manages them.

Every test here runs real server processes on 127.0.0.1 and the real CLI in
subprocesses; the state directory is the session's (see the root conftest).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from lodgepole._process import running as _alive
from lodgepole.exceptions import ConfigError, EndpointError, LodgepoleError
from lodgepole.model import LinearModel
from lodgepole.serving import (
    Predictor,
    delete_endpoint,
    deploy,
    describe_endpoint,
    list_endpoints,
)
from lodgepole.serving.registry import check_endpoint_name, default_endpoint_name
from lodgepole.state import connect, state_dir

pytest.importorskip("uvicorn")

JSON = "application/json"


def _model() -> LinearModel:
    weights = np.array([[1.0, -1.0, 0.0], [0.5, 2.0, -1.0], [0.0, 1.0, 0.5]])
    return LinearModel("multiclass_classifier", weights, np.zeros(3), "softmax")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _deploy_in_subprocess(tmp_path: Path, name: str) -> None:
    model_dir = _model().save(tmp_path / "model")
    script = textwrap.dedent(
        f"""
        from lodgepole.model import LinearModel
        predictor = LinearModel.load({str(model_dir)!r}).deploy(
            endpoint_name={name!r}
        )
        print(predictor.url)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_endpoint_outlives_the_deploying_process(tmp_path: Path):
    name = "outlives-its-maker"
    _deploy_in_subprocess(tmp_path, name)  # that process has exited now

    endpoint = describe_endpoint(name)
    assert endpoint.status == "InService"
    assert endpoint.predictor_type == "multiclass_classifier"
    assert _alive(endpoint.pid)

    predictor = Predictor.attach(name, accept=JSON)
    X = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.5]])
    reply = predictor.predict(X, content_type="text/csv")
    labels = [p["predicted_label"] for p in reply["predictions"]]
    assert labels == _model().predict(X).predicted_label.tolist()

    listed = _cli("endpoints", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if name in line)
    assert "InService" in row and endpoint.url in row

    described = _cli("endpoints", "describe", name, "--json")
    assert described.returncode == 0, described.stderr
    assert json.loads(described.stdout)["url"] == endpoint.url

    deleted = _cli("endpoints", "delete", name)
    assert deleted.returncode == 0, deleted.stderr
    assert name in deleted.stdout
    assert not _alive(endpoint.pid)
    assert not Path(endpoint.directory).exists()
    assert name not in {e.name for e in list_endpoints()}

    again = _cli("endpoints", "delete", name)
    assert again.returncode == 2
    assert f"no endpoint named {name!r}" in again.stderr
    assert "Traceback" not in again.stderr


def test_a_live_name_cannot_be_taken_twice():
    with deploy(_model(), endpoint_name="taken-name") as first:
        with pytest.raises(EndpointError, match="already exists"):
            deploy(_model(), endpoint_name="taken-name")
        # The failed attempt left the first endpoint alone.
        assert describe_endpoint("taken-name").url == first.url
        assert first.predict([[1.0, 1.0, 1.0]], "text/csv", JSON)["predictions"]


def test_a_killed_server_shows_failed_and_its_name_can_be_reused():
    predictor = deploy(_model(), endpoint_name="killed-server")
    pid = describe_endpoint("killed-server").pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert describe_endpoint("killed-server").status == "Failed"

    with deploy(_model(), endpoint_name="killed-server") as again:
        assert describe_endpoint("killed-server").status == "InService"
        assert again.url != predictor.url or again.predict([[0.0, 0.0, 1.0]])
    assert "killed-server" not in {e.name for e in list_endpoints()}


def test_delete_is_graceful_and_second_delete_is_a_no_op():
    predictor = _model().deploy(endpoint_name="deleted-twice")
    endpoint = describe_endpoint("deleted-twice")
    predictor.delete_endpoint()
    assert not _alive(endpoint.pid)
    log = Path(endpoint.directory) / "server.log"
    assert not log.exists()
    predictor.delete_endpoint()  # nothing left to do
    with pytest.raises(EndpointError, match="no endpoint named 'deleted-twice'"):
        delete_endpoint("deleted-twice")
    delete_endpoint("deleted-twice", missing_ok=True)


def test_default_names_are_unique_and_valid():
    with deploy(_model()) as predictor:
        name = predictor.endpoint_name
        assert name is not None and name.startswith("lodgepole-multiclass-classifier-")
        assert check_endpoint_name(name) == name
        # The server answers the runtime path under its own name only.
        assert describe_endpoint(name).status == "InService"


@pytest.mark.parametrize("bad", ["", "-x", "x-", "a" * 64, "has space", "ünï"])
def test_bad_names_fail_before_anything_starts(bad: str):
    before = {e.name for e in list_endpoints(check=False)}
    with pytest.raises(ConfigError, match="is not valid"):
        deploy(_model(), endpoint_name=bad)
    assert {e.name for e in list_endpoints(check=False)} == before


def test_default_endpoint_name_format():
    from datetime import datetime

    name = default_endpoint_name("regressor", datetime(2026, 12, 3, 18, 0, 1, 42000))
    assert name == "lodgepole-regressor-2026-12-03-18-00-01-042"


def test_state_dir_follows_environment(tmp_path: Path):
    assert state_dir({"LODGEPOLE_HOME": str(tmp_path)}) == tmp_path
    assert state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "lodgepole"
    home = state_dir({"HOME": str(tmp_path)})
    assert home == tmp_path / ".local" / "state" / "lodgepole"
    assert state_dir() == Path(os.environ["LODGEPOLE_HOME"])


def test_state_written_by_a_newer_version_is_refused(tmp_path: Path):
    with connect(tmp_path) as db:
        db.execute("PRAGMA user_version = 999")
    with pytest.raises(LodgepoleError, match="newer lodgepole"), connect(tmp_path):
        pass
    # The database itself is intact and readable.
    raw = sqlite3.connect(tmp_path / "lodgepole.db")
    assert raw.execute("SELECT count(*) FROM endpoints").fetchone()[0] == 0
    raw.close()


def test_cli_endpoints_list_empty_and_json(tmp_path: Path):
    env = {**os.environ, "LODGEPOLE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", "endpoints", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    plain = subprocess.run(
        [sys.executable, "-m", "lodgepole.cli", "endpoints", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert plain.returncode == 0
    assert "No endpoints" in plain.stdout


def test_cli_endpoints_create_then_delete(tmp_path: Path):
    model_dir = _model().save(tmp_path / "model")
    created = _cli(
        "endpoints",
        "create",
        str(model_dir),
        "--name",
        "from-the-cli",
        "--workers",
        "1",
    )
    assert created.returncode == 0, created.stderr
    endpoint = describe_endpoint("from-the-cli")
    assert endpoint.status == "InService"
    assert endpoint.url in created.stdout
    assert _cli("endpoints", "delete", "from-the-cli").returncode == 0
    assert not _alive(endpoint.pid)


def test_cli_endpoints_create_with_a_token_file(tmp_path: Path):
    model = _model()
    token_file = tmp_path / "token"
    token_file.write_text("cli-s3cret\n")
    created = _cli(
        "endpoints",
        "create",
        str(model.save(tmp_path / "model")),
        "--name",
        "with-token",
        "--auth-token-file",
        str(token_file),
    )
    assert created.returncode == 0, created.stderr
    try:
        endpoint = describe_endpoint("with-token")
        with pytest.raises(EndpointError, match="401"):
            Predictor(endpoint.url, auth_token=None).predict(
                [[0.0] * model.feature_dim], "text/csv", "application/json"
            )
        reply = Predictor(endpoint.url, auth_token="cli-s3cret").predict(
            [[0.0] * model.feature_dim], "text/csv", "application/json"
        )
        assert len(reply["predictions"]) == 1
    finally:
        assert _cli("endpoints", "delete", "with-token").returncode == 0
    token_file.write_text("  \n")
    refused = _cli(
        "endpoints",
        "create",
        str(tmp_path / "model"),
        "--auth-token-file",
        str(token_file),
    )
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "empty" in refused.stderr
