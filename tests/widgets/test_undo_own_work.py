"""A dashboard's undo undoes only its own latest action and says what it undid (issue 15, 1–2)."""

from __future__ import annotations

import getpass
import socket

import erroranalysis as ea
from erroranalysis.widgets import Dashboard


def other_label(store, sample_id):
    return next(c for c in store.classes if c != store.labels()[sample_id])


def test_dashboard_undo_skips_a_colleague_and_an_import(scanned_store):
    dashboard = Dashboard(scanned_store, poll_interval=None)
    try:
        ids = list(scanned_store.sample_ids)
        sid = ids[0]
        dashboard.selection.focus(sid, source="gallery")
        target = other_label(scanned_store, sid)
        mine = dashboard.inspector.relabel(target)
        # a colleague (another handle, another author) and an import batch land afterwards
        colleague = ea.Store.open(scanned_store.path)
        colleague.relabel(ids[1], other_label(colleague, ids[1]), author="colleague")
        colleague.apply_events(
            [
                {"kind": "relabel", "sample_id": ids[2], "label": other_label(colleague, ids[2])},
                {"kind": "relabel", "sample_id": ids[3], "label": other_label(colleague, ids[3])},
            ],
            source="import:csv:x",
            author="annotator",
        )
        # the same OS user in another dashboard is not this dashboard either
        second = Dashboard(scanned_store, poll_interval=None)
        second.selection.focus(ids[4], source="gallery")
        second.inspector.relabel(other_label(scanned_store, ids[4]))
        dashboard.refresh()
        before = scanned_store.labels().copy()

        dashboard.inspector.shortcuts.simulate_key("u")
        undo = scanned_store.event(scanned_store.last_event_id)
        assert undo["kind"] == "undo" and undo["undoes"] == mine
        assert undo["source"] == "widget"
        assert undo["author"] == f"{getpass.getuser()}@{socket.gethostname().split('.')[0]}"
        assert undo["session"] == dashboard.session
        status = dashboard.inspector.status.value
        assert f"undid relabel of {sid}" in status and f"event {mine}" in status
        after = scanned_store.labels()
        assert after[sid] != target
        assert (after.drop(sid) == before.drop(sid)).all()  # nobody else's work changed

        dashboard.inspector.undo_button.click()  # nothing of ours is left
        assert scanned_store.event(scanned_store.last_event_id)["event_id"] == undo["event_id"]
        assert "nothing to undo" in dashboard.inspector.status.value
        assert "event id" in dashboard.inspector.status.value
        second.close()
    finally:
        dashboard.close()


def test_explicit_event_id_undoes_another_persons_change(scanned_store):
    dashboard = Dashboard(scanned_store, poll_interval=None)
    try:
        sid = scanned_store.sample_ids[5]
        theirs = ea.Store.open(scanned_store.path).relabel(
            sid, other_label(scanned_store, sid), author="colleague"
        )
        dashboard.refresh()
        dashboard.inspector.undo(theirs)
        undo = scanned_store.event(scanned_store.last_event_id)
        assert undo["undoes"] == theirs and undo["source"] == "widget"
        assert f"event {theirs}" in dashboard.inspector.status.value
    finally:
        dashboard.close()


def test_dashboard_header_names_the_author(scanned_store):
    dashboard = Dashboard(scanned_store, poll_interval=None)
    try:
        user = f"{getpass.getuser()}@{socket.gethostname().split('.')[0]}"
        assert "ea-dashboard-author" in dashboard.header.value
        assert user in dashboard.header.value
        assert dashboard.inspector.author == user
        named = Dashboard(scanned_store, author="ana", poll_interval=None)
        assert "<b>ana</b>" in named.header.value
        named.close()
    finally:
        dashboard.close()


def test_history_never_shows_nan_as_author(scanned_store):
    dashboard = Dashboard(scanned_store, poll_interval=None)
    try:
        sid = scanned_store.sample_ids[6]
        scanned_store.relabel(sid, other_label(scanned_store, sid), author=float("nan"))
        dashboard.refresh()
        dashboard.selection.focus(sid, source="gallery")
        history = dashboard.inspector.history_html.value
        assert ">nan<" not in history and ">None<" not in history
        assert getpass.getuser() in history
    finally:
        dashboard.close()


def test_the_undo_button_is_journaled_as_widget_and_shown_so(scanned_store):
    """Issue 17.7: an undo from the widget's button (not only the key) has source ``widget``,
    and the inspector's history names that source."""
    dashboard = Dashboard(scanned_store, poll_interval=None)
    try:
        sid = list(scanned_store.sample_ids)[5]
        dashboard.selection.focus(sid, source="gallery")
        mine = dashboard.inspector.relabel(other_label(scanned_store, sid))
        dashboard.inspector.undo_button.click()
        undo = scanned_store.event(scanned_store.last_event_id)
        assert undo["kind"] == "undo" and undo["undoes"] == mine and undo["source"] == "widget"
        assert undo["author"] not in (None, "", "nan")
        assert "<td>undo</td>" in dashboard.inspector.history_html.value
        assert "<td>widget</td>" in dashboard.inspector.history_html.value
    finally:
        dashboard.close()
