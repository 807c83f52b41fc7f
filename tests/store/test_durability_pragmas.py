"""Every SQLite connection the store opens runs WAL with synchronous=FULL (issue 15 item 6).

The crash tests cannot see ``synchronous=OFF`` (the kernel still holds the writes after a
SIGKILL), so the promise is pinned here: each connection is recorded where it is made and its
pragmas are read before it closes, in this process, read-only, and in a second process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import erroranalysis as ea
from erroranalysis.store.journal import PRAGMAS
from tests.conftest import make_probs

REPO = Path(__file__).resolve().parents[2]

# Installed before the store is used: every sqlite3.connect returns a connection that reports its
# pragmas (at close, and at the end for those still open). Shared by both processes.
SPY = textwrap.dedent(
    """
    import sqlite3, weakref

    RECORDED = []
    _OPEN = weakref.WeakSet()
    _connect = sqlite3.connect

    def _pragmas(connection):
        return {
            "journal_mode": connection.execute("PRAGMA journal_mode").fetchone()[0],
            "synchronous": connection.execute("PRAGMA synchronous").fetchone()[0],
            "busy_timeout": connection.execute("PRAGMA busy_timeout").fetchone()[0],
            "read_only": bool(getattr(connection, "ea_read_only", False)),
        }

    class Recording(sqlite3.Connection):
        def close(self):
            if self in _OPEN:
                RECORDED.append(_pragmas(self))
                _OPEN.discard(self)
            super().close()

    def connect(database, *args, **kwargs):
        kwargs["factory"] = Recording
        connection = _connect(database, *args, **kwargs)
        connection.ea_read_only = "mode=ro" in str(database)
        _OPEN.add(connection)
        return connection

    def report():
        return RECORDED + [_pragmas(c) for c in list(_OPEN)]

    sqlite3.connect = connect
    """
)

SECOND_PROCESS = textwrap.dedent(
    """
    import json, sys
    exec(SPY)
    import erroranalysis as ea
    store = ea.Store.open(sys.argv[1])
    store.relabel("s001", "fox", author="second")
    store.undo(author="second")
    reader = ea.Store.open(sys.argv[1], read_only=True)
    reader.events(); reader.labels()
    print(json.dumps(report()))
    """
)


@pytest.fixture
def spy(monkeypatch):
    namespace: dict = {}
    original = sqlite3.connect
    exec(SPY, namespace)
    connect = sqlite3.connect
    sqlite3.connect = original  # let monkeypatch own the change, so it is undone after the test
    monkeypatch.setattr(sqlite3, "connect", connect)
    return namespace["report"]


def check(reports: list[dict]) -> None:
    assert reports, "the store opened no SQLite connection at all"
    for report in reports:
        assert report["journal_mode"] == PRAGMAS["journal_mode"] == "wal", report
        assert report["synchronous"] == PRAGMAS["synchronous"] == 2, report  # 2 = FULL
        assert report["busy_timeout"] == PRAGMAS["busy_timeout"], report


def test_every_connection_in_this_process_is_wal_and_full_sync(tmp_path, spy):
    from tests.conftest import CLASSES, make_samples

    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=make_samples())
    store.add_run("m", make_probs())
    store.relabel("s000", "dog")
    store.flag("s000", "weak_spot")
    store.undo()
    again = ea.Store.open(store.path)
    again.refresh()
    reader = ea.Store.open(store.path, read_only=True)
    assert reader.labels()["s000"] == "dog"
    with pytest.raises(ea.errors.StoreReadOnlyError, match="read-only"):
        reader.relabel("s000", "fox")
    store.close()
    reports = spy()
    check(reports)
    assert sum(report["read_only"] for report in reports) >= 1
    assert sum(not report["read_only"] for report in reports) >= 3  # create, open, open again


def test_cli_connections_are_wal_and_full_sync(tmp_path, spy):
    from erroranalysis.cli import main
    from tests.conftest import CLASSES, make_samples

    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=make_samples())
    store.close()
    before = len(spy())
    assert main(["info", str(store.path)]) == 0  # `info` opens the store read-only
    reports = spy()
    assert any(report["read_only"] for report in reports[before:])
    check(reports)


def test_second_process_connections_are_wal_and_full_sync(tmp_path):
    from tests.conftest import CLASSES, make_samples

    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=make_samples())
    code = f"SPY = {SPY!r}\n" + SECOND_PROCESS
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(store.path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=True,
    )
    reports = json.loads(done.stdout.strip().splitlines()[-1])
    check(reports)
    assert any(report["read_only"] for report in reports)
    assert store.refresh()
    assert store.events()["author"].tolist() == ["second", "second"]
