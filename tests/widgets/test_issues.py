from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.widgets import IssueTable, Selection


def test_label_issues_sorted_by_label_quality(scanned_store):
    table = IssueTable(scanned_store, page_size=100)
    frame = scanned_store.frame()
    issues = frame[frame["is_label_issue"]].sort_values("label_quality", kind="stable")
    assert table.table.row_ids == issues["sample_id"].tolist()
    assert len(issues) > 0
    assert table.table.sort_by == "label_quality" and not table.table.sort_desc
    assert table.table.columns[:3] == ["sample_id", "label", "given_label"]
    assert "ea-issues" in table._dom_classes


def test_filter_by_issue_type(scanned_store):
    table = IssueTable(scanned_store, page_size=100)
    frame = scanned_store.frame()
    table.issue.value = "outliers"
    assert set(table.table.row_ids) == set(frame.loc[frame["is_outlier"], "sample_id"])
    assert table.sort_column == "outlier_score" and table.descending
    scores = frame.set_index("sample_id").loc[table.table.row_ids, "outlier_score"].to_numpy()
    assert np.all(np.diff(scores) <= 0)
    table.issue.value = "near-duplicates"
    assert set(table.table.row_ids) == set(frame.loc[frame["is_near_duplicate"], "sample_id"])
    table.issue.value = "all"
    flagged = frame["is_label_issue"] | frame["is_outlier"] | frame["is_near_duplicate"]
    assert set(table.table.row_ids) == set(frame.loc[flagged, "sample_id"])


def test_header_click_sorts_and_reverses(scanned_store):
    table = IssueTable(scanned_store, issue="all", page_size=100)
    table.table.simulate_click(sort="loss")
    frame = scanned_store.frame().set_index("sample_id")
    losses = frame.loc[table.table.row_ids, "loss"].to_numpy()
    assert np.all(np.diff(losses) >= 0)
    table.table.simulate_click(sort="loss")
    losses = frame.loc[table.table.row_ids, "loss"].to_numpy()
    assert np.all(np.diff(losses) <= 0)
    with pytest.raises(ValueError, match="choose one of"):
        table.sort("nope")


def test_row_click_focuses(scanned_store):
    sel = Selection()
    table = IssueTable(scanned_store, selection=sel)
    table.table.simulate_click(row=1, sample_id="ignored")
    assert sel.focused == table.table.row_ids[1]
    assert sel.focus_source == "issues"
    assert table.table.focused == sel.focused


def test_relabel_updates_row_and_hide_reviewed(scanned_store):
    table = IssueTable(scanned_store, page_size=100)
    sid = table.table.row_ids[0]
    label_col = table.table.columns.index("label")
    current = table.table.rows[0][label_col]
    other = next(c for c in scanned_store.classes if c != current)
    scanned_store.relabel(sid, other)
    assert table.table.rows[0][label_col] == other
    n = len(table.table.row_ids)
    table.hide_reviewed.value = True
    scanned_store.flag(sid, "not_an_issue")
    assert sid not in table.table.row_ids and len(table.table.row_ids) == n - 1
    scanned_store.undo()
    assert sid in table.table.row_ids


def test_paging(scanned_store):
    table = IssueTable(scanned_store, issue="all", page_size=3)
    assert len(table.table.rows) == 3
    table.next_button.click()
    assert table.page == 1
    assert table.table.row_ids == [table.data.sample_ids[p] for p in table.rows[3:6]]


def test_unscanned_store_shows_hint(unscanned_store):
    table = IssueTable(unscanned_store)
    assert "ea.scan(store)" in table.message.value
    assert table.table.rows == []
