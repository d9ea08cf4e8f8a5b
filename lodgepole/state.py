"""Where lodgepole keeps what outlives one Python process.

Endpoints started by :func:`lodgepole.serving.deploy` and training jobs
(:mod:`lodgepole.jobs`) are recorded in one SQLite database in a per-user
state directory, so ``lodgepole endpoints list`` or ``lodgepole jobs list`` in
another shell sees them. The directory is

1. ``$LODGEPOLE_HOME`` when set;
2. else ``$XDG_STATE_HOME/lodgepole`` when ``XDG_STATE_HOME`` is set;
3. else ``~/.local/state/lodgepole`` (``%LOCALAPPDATA%\\lodgepole`` on Windows).

The database uses SQLite's write-ahead log and a busy timeout, so several
processes can read and write it at once; every change is one transaction.

Examples
--------
>>> import os, tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     state_dir({"LODGEPOLE_HOME": tmp}) == Path(tmp)
True
>>> state_dir({"XDG_STATE_HOME": "/var/state", "HOME": "/home/ada"}).as_posix()
'/var/state/lodgepole'
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from lodgepole.exceptions import LodgepoleError

__all__ = ["STATE_ENV", "connect", "state_dir"]

STATE_ENV = "LODGEPOLE_HOME"
DATABASE_NAME = "lodgepole.db"
BUSY_TIMEOUT_SECONDS = 30.0

# Each entry upgrades the schema by one version (PRAGMA user_version).
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE endpoints (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        pid INTEGER,
        instance_count INTEGER NOT NULL,
        model_path TEXT NOT NULL,
        directory TEXT NOT NULL,
        predictor_type TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2: training jobs (lodgepole.jobs) and their per-epoch metrics.
    """
    CREATE TABLE jobs (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        predictor_type TEXT NOT NULL,
        hyperparameters TEXT NOT NULL,
        user_hyperparameters TEXT NOT NULL,
        channels TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        failure_reason TEXT,
        model_path TEXT,
        log_path TEXT NOT NULL,
        directory TEXT NOT NULL,
        metrics TEXT NOT NULL,
        best_epoch INTEGER,
        candidate TEXT,
        pid INTEGER,
        pid_started TEXT,
        host TEXT NOT NULL,
        seconds REAL
    );
    CREATE TABLE job_epochs (
        job_name TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        metrics TEXT NOT NULL,
        PRIMARY KEY (job_name, epoch)
    );
    """,
)


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The per-user state directory (not created here).

    Parameters
    ----------
    environ
        The environment to read; ``os.environ`` when None.

    Returns
    -------
    pathlib.Path
        See the module docstring for the order of precedence.

    Examples
    --------
    >>> state_dir({"HOME": "/home/ada"}).as_posix()
    '/home/ada/.local/state/lodgepole'
    """
    env = os.environ if environ is None else environ
    if env.get(STATE_ENV):
        return Path(env[STATE_ENV]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "lodgepole"
    if sys.platform == "win32" and env.get("LOCALAPPDATA"):  # pragma: no cover
        return Path(env["LOCALAPPDATA"]) / "lodgepole"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / "lodgepole"


def _migrate(connection: sqlite3.Connection) -> None:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > len(_MIGRATIONS):
        raise LodgepoleError(
            f"the state database was written by a newer lodgepole (schema "
            f"{version}, this one knows {len(_MIGRATIONS)}); upgrade lodgepole "
            f"or set {STATE_ENV} to another directory."
        )
    for number in range(version, len(_MIGRATIONS)):
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited.
            current = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if current == number:
                for statement in _MIGRATIONS[number].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


@contextmanager
def connect(directory: Path | None = None) -> Iterator[sqlite3.Connection]:
    """Open the state database, creating and migrating it as needed.

    Parameters
    ----------
    directory
        The state directory; :func:`state_dir` when None.

    Yields
    ------
    sqlite3.Connection
        In autocommit mode (use ``BEGIN IMMEDIATE`` ... ``COMMIT`` for a
        transaction); rows are :class:`sqlite3.Row`. Closed on exit.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with connect(Path(tmp)) as db:
    ...         db.execute("SELECT count(*) FROM endpoints").fetchone()[0]
    0
    """
    root = state_dir() if directory is None else directory
    root.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(
        root / DATABASE_NAME, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
    )
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        _migrate(connection)
        yield connection
    finally:
        connection.close()
