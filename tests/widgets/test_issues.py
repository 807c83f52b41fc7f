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


def _weak_run(store, name="weak", out_of_sample=True):
    """Add and scan a run whose predictions barely beat chance (about 45 % on 3 classes)."""
    import erroranalysis as ea
    from tests.stores import FAST_SCAN_PARAMS

    rng = np.random.default_rng(1)
    codes = np.asarray(store.label_codes())
    probs = rng.dirichlet(np.ones(store.num_classes), size=store.num_samples)
    right = rng.random(store.num_samples) < 0.25  # push the label up on a quarter of the samples
    probs[right, codes[right]] += 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    embeddings = rng.normal(size=(store.num_samples, 8)).astype(np.float32)
    store.add_run(
        name, probs.astype(np.float32), embeddings=embeddings, out_of_sample=out_of_sample
    )
    ea.scan(store, run=name, progress=False, params=FAST_SCAN_PARAMS)
    return name


def test_a_weak_model_warns_that_its_label_issues_are_not_reliable(scanned_store):
    strong = IssueTable(scanned_store)
    assert strong.trust is not None and strong.trust.trusted
    assert strong.trust_note.layout.display == "none" and strong.trust_note.value == ""

    run = _weak_run(scanned_store)
    table = IssueTable(scanned_store, run=run)
    frame = scanned_store.frame(run)
    accuracy = (frame["predicted_label"] == frame["label"]).mean()
    flagged = int(frame["is_label_issue"].sum())
    assert accuracy < 0.6 and flagged > 0
    assert table.trust is not None and not table.trust.trusted
    assert table.trust.kappa < 0.6
    assert table.trust_note.layout.display is None  # shown, above the table
    assert table.children.index(table.trust_note) < table.children.index(table.table)
    text = table.trust_note.value
    assert "ea-issues-trust" in table.trust_note._dom_classes and "ea-trust-weak" in text
    assert "not reliable" in text and f"{accuracy:.1%}" in text
    assert f"{flagged:,} flagged samples" in text and "κ = " in text


def test_in_sample_predictions_are_a_caution(scanned_store):
    run = _weak_run(scanned_store, name="in-sample", out_of_sample=False)
    table = IssueTable(scanned_store, run=run)
    assert "in-sample" in table.trust_note.value
