"""The label journal: an append-only SQLite event log (WAL, synchronous=FULL).

Nothing is ever deleted. An undo is an event that names the event it undoes; the current label of a
sample is its given label overridden by its latest relabel that has not been undone. Every write
runs in a ``BEGIN IMMEDIATE`` transaction, so writers from several processes serialise, and a write
is acknowledged (its event id returned) only after the commit has reached the disk.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from erroranalysis.errors import InvalidArgumentError, StoreFormatError

EVENT_KINDS = ("relabel", "flag", "unflag", "note", "undo")
EVENT_COLUMNS = [
    "event_id",
    "sample_id",
    "kind",
    "label",
    "previous_label",
    "flag",
    "author",
    "source",
    "note",
    "time",
    "undone",
    "batch",
    "undoes",
    "session",
]

# Every connection the store opens gets these, and tests assert them on each (durability: a
# relabel is acknowledged only after its commit reached the disk).
PRAGMAS = {"busy_timeout": 60000, "journal_mode": "wal", "synchronous": 2}  # 2 = FULL

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    sample_id TEXT,
    label TEXT,
    previous_label TEXT,
    flag TEXT,
    author TEXT,
    source TEXT,
    note TEXT,
    time REAL NOT NULL,
    undoes INTEGER,
    batch TEXT,
    session TEXT
);
CREATE INDEX IF NOT EXISTS events_by_sample ON events (sample_id, event_id);
CREATE INDEX IF NOT EXISTS events_by_undoes ON events (undoes);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

_SELECT = (
    "SELECT e.event_id, e.sample_id, e.kind, e.label, e.previous_label, e.flag, e.author, "
    "e.source, e.note, e.time, EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.event_id) "
    "AS undone, e.batch, e.undoes, e.session FROM events e"
)


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """Open the journal file with the store's pragmas (WAL, synchronous=FULL); the only way in.

    ``isolation_level=None``: writers issue ``BEGIN IMMEDIATE`` themselves, so a write transaction
    takes the write lock up front and concurrent writers queue instead of failing mid-way. A
    read-only connection (``mode=ro``) cannot switch the journal mode, but reads the file's WAL
    mode and still runs with synchronous=FULL.
    """
    if read_only:
        connection = sqlite3.connect(
            f"{Path(path).resolve().as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            timeout=60.0,
            check_same_thread=False,
        )
    else:
        connection = sqlite3.connect(
            path, isolation_level=None, timeout=60.0, check_same_thread=False
        )
    connection.execute(f"PRAGMA busy_timeout = {PRAGMAS['busy_timeout']}")
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal" and not read_only:
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    connection.execute("PRAGMA synchronous = FULL")
    if mode != "wal":
        connection.close()
        raise StoreFormatError(
            f"the journal {path} is not in WAL mode (got {mode!r}); open the store once "
            "writable (ea.Store.open(path)) so it can switch, then read it read-only"
        )
    return connection


class Journal:
    """Append-only event log of one store.

    Parameters
    ----------
    path : Path
        The SQLite file.
    given_label : callable
        Maps a sample id to its given label (the journal only stores changes).
    """

    def __init__(
        self, path: Path, given_label: Callable[[str], str], read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.read_only = bool(read_only)
        self._given_label = given_label
        self.connection = connect(self.path, read_only=self.read_only)
        if not self.read_only:
            self.connection.executescript(_SCHEMA)
            self._add_session_column()
        # an old journal opened read-only has no session column: its events have no session
        self._select = (
            _SELECT
            if "session" in self._columns()
            else _SELECT.replace("e.session FROM", "NULL AS session FROM")
        )

    def _add_session_column(self) -> None:
        """Journals written before sessions existed get the column (NULL for old events)."""
        if "session" in self._columns():
            return
        self.connection.execute("BEGIN IMMEDIATE")  # a second process may be adding it too
        try:
            if "session" not in self._columns():
                self.connection.execute("ALTER TABLE events ADD COLUMN session TEXT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def _columns(self) -> set[str]:
        return {row[1] for row in self.connection.execute("PRAGMA table_info(events)")}

    def close(self) -> None:
        self.connection.close()

    # -- reading -------------------------------------------------------------------------------

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's cheap change check)."""
        return int(self.connection.execute("PRAGMA data_version").fetchone()[0])

    def last_event_id(self) -> int:
        row = self.connection.execute("SELECT MAX(event_id) FROM events").fetchone()
        return int(row[0] or 0)

    def read(
        self, since: int = 0, sample_id: str | None = None, until: int | None = None
    ) -> pd.DataFrame:
        """Events with ``since < event_id [<= until]`` (optionally of one sample), oldest first."""
        query, parameters = self._select + " WHERE e.event_id > ?", [since]
        if until is not None:
            query += " AND e.event_id <= ?"
            parameters.append(until)
        if sample_id is not None:
            query += " AND e.sample_id = ?"
            parameters.append(sample_id)
        rows = self.connection.execute(query + " ORDER BY e.event_id", parameters).fetchall()
        frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
        frame["undone"] = frame["undone"].astype(bool)
        frame["time"] = pd.to_datetime(frame["time"].astype(float), unit="s", utc=True)
        frame["undoes"] = frame["undoes"].astype("Int64")
        return frame

    def read_raw(self, since: int) -> list[tuple]:
        """New events as tuples (event_id, sample_id, kind, label, flag, undoes, note)."""
        return self.connection.execute(
            "SELECT event_id, sample_id, kind, label, flag, undoes, note FROM events "
            "WHERE event_id > ? ORDER BY event_id",
            (since,),
        ).fetchall()

    def label_version(self) -> int:
        row = self.connection.execute(
            "SELECT MAX(event_id) FROM events WHERE kind = 'relabel' "
            "OR (kind = 'undo' AND previous_label IS NOT NULL)"
        ).fetchone()
        return int(row[0] or 0)

    # -- writing -------------------------------------------------------------------------------

    def _current_label(self, sample_id: str) -> str:
        row = self.connection.execute(
            "SELECT label FROM events e WHERE sample_id = ? AND kind = 'relabel' AND NOT EXISTS "
            "(SELECT 1 FROM events u WHERE u.undoes = e.event_id) ORDER BY event_id DESC LIMIT 1",
            (sample_id,),
        ).fetchone()
        return row[0] if row else self._given_label(sample_id)

    def _insert(self, **values: Any) -> int:
        values.setdefault("time", time.time())
        columns = ", ".join(values)
        placeholders = ", ".join("?" for _ in values)
        cursor = self.connection.execute(
            f"INSERT INTO events ({columns}) VALUES ({placeholders})", tuple(values.values())
        )
        return int(cursor.lastrowid)

    def _transaction(self, work: Callable[[], Any]) -> Any:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return result

    def _append_one(
        self,
        event: dict[str, Any],
        source: str,
        author: str | None,
        batch: str | None,
        session: str | None,
    ) -> int:
        kind = event["kind"]
        common = {
            "kind": kind,
            "sample_id": event["sample_id"],
            "author": event.get("author") or author,
            "source": event.get("source", source),
            "note": event.get("note"),
            "batch": batch,
            "session": session,
        }
        if kind == "relabel":
            previous = self._current_label(event["sample_id"])
            return self._insert(**common, label=event["label"], previous_label=previous)
        if kind in ("flag", "unflag"):
            return self._insert(**common, flag=event["flag"])
        if kind == "note":
            return self._insert(**common)
        raise InvalidArgumentError(
            f"unknown event kind {kind!r}; expected one of relabel, flag, unflag, note"
        )

    def append(
        self,
        events: Sequence[dict[str, Any]],
        source: str = "api",
        author: str | None = None,
        batch: str | None = None,
        session: str | None = None,
    ) -> list[int]:
        """Append events in one transaction (all or nothing); returns their ids once committed."""
        if batch is None and len(events) > 1:
            batch = uuid.uuid4().hex
        return self._transaction(
            lambda: [self._append_one(event, source, author, batch, session) for event in events]
        )

    def undo(
        self,
        event_id: int | None,
        author: str | None,
        source: str,
        session: str | None = None,
        of_author: str | None = None,
        of_session: str | None = None,
    ) -> list[int]:
        """Undo one event or, for a batch, the whole batch.

        ``event_id`` names the event; without it, the latest undoable event, of ``of_author``
        and/or ``of_session`` when given (so a dashboard undoes only its own work). The undo
        events are written by ``author`` in ``session`` from ``source``.
        """

        def work() -> list[int]:
            if event_id is None:
                where, parameters = "", []
                if of_author is not None:
                    where += " AND author = ?"
                    parameters.append(of_author)
                if of_session is not None:
                    where += " AND session = ?"
                    parameters.append(of_session)
                row = self.connection.execute(
                    "SELECT event_id, batch FROM events e WHERE kind != 'undo' AND NOT EXISTS "
                    "(SELECT 1 FROM events u WHERE u.undoes = e.event_id)"
                    + where
                    + " ORDER BY event_id DESC LIMIT 1",
                    parameters,
                ).fetchone()
                if row is None:
                    whose = " and ".join(
                        part
                        for part in (
                            None if of_author is None else f"by {of_author!r}",
                            None if of_session is None else f"from session {of_session}",
                        )
                        if part
                    )
                    raise LookupError(
                        f"nothing to undo{' ' + whose if whose else ''}: no event left to undo"
                        + (
                            "; another person's change is undone by its event id: "
                            "store.undo(event_id) (see store.events())"
                            if whose
                            else ""
                        )
                    )
            else:
                row = self.connection.execute(
                    "SELECT event_id, batch FROM events WHERE event_id = ? AND kind != 'undo'",
                    (event_id,),
                ).fetchone()
                if row is None:
                    raise LookupError(
                        f"event {event_id} does not exist or is itself an undo; "
                        "see store.events() for event ids"
                    )
            targets: Iterable[int] = [row[0]]
            if row[1] is not None:
                targets = [
                    target
                    for (target,) in self.connection.execute(
                        "SELECT event_id FROM events e WHERE batch = ? AND kind != 'undo' AND NOT "
                        "EXISTS (SELECT 1 FROM events u WHERE u.undoes = e.event_id) "
                        "ORDER BY event_id DESC",
                        (row[1],),
                    )
                ]
            undo_batch = uuid.uuid4().hex if len(list(targets)) > 1 else None
            created = []
            for target in targets:
                created.append(self._undo_one(target, author, source, undo_batch, session))
            return created

        return self._transaction(work)

    def _undo_one(
        self,
        target: int,
        author: str | None,
        source: str,
        batch: str | None,
        session: str | None,
    ) -> int:
        kind, sample_id, flag = self.connection.execute(
            "SELECT kind, sample_id, flag FROM events WHERE event_id = ?", (target,)
        ).fetchone()
        if self.connection.execute("SELECT 1 FROM events WHERE undoes = ?", (target,)).fetchone():
            raise LookupError(f"event {target} was already undone")
        if kind == "relabel":
            before = self._current_label(sample_id)
            undo_id = self._insert(
                kind="undo",
                sample_id=sample_id,
                undoes=target,
                author=author,
                source=source,
                batch=batch,
                session=session,
                previous_label=before,
                label="",  # filled in below, once the target counts as undone
            )
            after = self._current_label(sample_id)
            self.connection.execute(
                "UPDATE events SET label = ? WHERE event_id = ?", (after, undo_id)
            )
            return undo_id
        return self._insert(
            kind="undo",
            sample_id=sample_id,
            undoes=target,
            flag=flag,
            author=author,
            source=source,
            batch=batch,
            session=session,
        )

    def integrity_check(self) -> str:
        return str(self.connection.execute("PRAGMA integrity_check").fetchone()[0])
