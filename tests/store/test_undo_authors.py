"""Undo only one's own work (issue 15 item 1) and a default author on every event (item 2)."""

from __future__ import annotations

import getpass
import socket
import sqlite3

import numpy as np
import pytest

import erroranalysis as ea
from erroranalysis.errors import ErrorAnalysisError, NothingToUndoError
from erroranalysis.store.identity import default_author


def os_user_at_host() -> str:
    return f"{getpass.getuser()}@{socket.gethostname().split('.')[0]}"


def test_default_author_is_the_operating_system_user_at_this_host(store):
    assert default_author() == os_user_at_host()
    store.relabel("s000", "dog")
    store.flag("s001", "weak_spot")
    store.note("s002", "look again")
    store.undo()
    assert store.events()["author"].tolist() == [os_user_at_host()] * 4


@pytest.mark.parametrize("nobody", [None, float("nan"), "", "  ", "nan", np.nan])
def test_an_author_that_names_nobody_becomes_the_default_never_nan(store, nobody):
    store.relabel("s000", "dog", author=nobody)
    store.apply_events([{"kind": "flag", "sample_id": "s001", "flag": "x", "author": nobody}])
    authors = store.events()["author"].tolist()
    assert authors == [os_user_at_host()] * 2


def test_undo_by_author_leaves_a_colleagues_later_change_alone(store, tmp_path):
    mine = store.relabel("s000", "dog", author="ana")
    colleague = ea.Store.open(store.path)
    theirs = colleague.relabel("s001", "fox", author="bob")
    store.refresh()
    undo = store.undo(author="ana")
    assert store.event(undo)["undoes"] == mine
    assert store.labels()["s000"] == "cat" and store.labels()["s001"] == "fox"
    with pytest.raises(NothingToUndoError, match=r"by 'ana'.*store\.undo\(event_id\)"):
        store.undo(author="ana")
    # another person's event needs its explicit id
    store.undo(theirs, author="ana")
    assert store.labels()["s001"] == "dog"  # its given label again
    assert store.event(store.last_event_id)["author"] == "ana"


def test_undo_by_session_undoes_only_that_handles_work(store):
    other = ea.Store.open(store.path)
    assert other.session != store.session
    mine = store.relabel("s000", "dog")
    other.relabel("s001", "fox")  # same OS user, another notebook
    store.refresh()
    undo = store.undo(session=store.session, author=store.author)
    assert store.event(undo)["undoes"] == mine
    assert store.event(undo)["session"] == store.session
    assert store.labels()["s001"] == "fox"


def test_undo_without_filters_still_undoes_the_latest_event(store):
    store.relabel("s000", "dog", author="ana")
    last = store.relabel("s001", "fox", author="bob")
    assert store.event(store.undo())["undoes"] == last


def test_undo_errors_are_erroranalysis_errors(store):
    with pytest.raises(NothingToUndoError, match="nothing to undo"):
        store.undo()
    with pytest.raises(ErrorAnalysisError, match="does not exist"):
        store.undo(42)


def test_a_journal_without_the_session_column_is_upgraded_on_open(store):
    store.relabel("s000", "dog")
    store.close()
    connection = sqlite3.connect(store.path / "journal.sqlite")
    if sqlite3.sqlite_version_info < (3, 35):
        pytest.skip("DROP COLUMN needs SQLite 3.35")
    connection.execute("ALTER TABLE events DROP COLUMN session")
    connection.commit()
    connection.close()
    old = ea.Store.open(store.path, read_only=True)  # read-only: no upgrade, sessions NULL
    assert old.events()["session"].isna().all()
    old.close()
    reopened = ea.Store.open(store.path)
    assert reopened.events()["session"].isna().all()
    reopened.relabel("s001", "fox")
    assert reopened.events()["session"].tolist()[-1] == reopened.session
