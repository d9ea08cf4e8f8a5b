"""Session-wide isolation for tests and doctests alike.

Endpoints started during the run are registered in a state directory of
their own (``LODGEPOLE_HOME``), never the user's, and any still registered
when the session ends are deleted, so no server outlives the test run.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_STATE = tempfile.mkdtemp(prefix="lodgepole-test-state-")
os.environ["LODGEPOLE_HOME"] = _STATE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from lodgepole.serving.registry import delete_endpoint, list_endpoints

    for endpoint in list_endpoints(check=False):
        delete_endpoint(endpoint.name, missing_ok=True, timeout=5.0)
    shutil.rmtree(_STATE, ignore_errors=True)
