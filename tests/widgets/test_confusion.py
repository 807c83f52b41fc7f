from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.widgets import ConfusionMatrix, Selection
from erroranalysis.widgets._data import ViewData, confusion_counts, update_confusion

from .helpers import recount


def test_rows_are_given_columns_are_predicted_with_class_names(scanned_store):
    cm = ConfusionMatrix(scanned_store)
    frame = scanned_store.frame()
    np.testing.assert_array_equal(cm.counts, recount(scanned_store, frame))
    assert cm.heatmap.row_labels == list(scanned_store.classes)
    assert cm.heatmap.col_labels == list(scanned_store.classes)
    assert (cm.heatmap.row_title, cm.heatmap.col_title) == ("given", "predicted")
    # the displayed texts are the counts, row by row
    assert cm.heatmap.texts == [[str(v) for v in row] for row in cm.counts.tolist()]
    assert "ea-confusion" in cm._dom_classes


def test_click_cell_selects_exactly_its_samples(scanned_store):
    sel = Selection()
    cm = ConfusionMatrix(scanned_store, selection=sel)
    frame = scanned_store.frame()
    counts = cm.counts.copy()
    np.fill_diagonal(counts, -1)
    r, c = np.unravel_index(int(np.argmax(counts)), counts.shape)
    cm.heatmap.simulate_click(row=int(r), col=int(c))
    classes = scanned_store.classes
    expected = frame.loc[
        (frame["label"].astype(str) == classes[r]) & (frame["predicted_label"] == classes[c]),
        "sample_id",
    ].tolist()
    assert list(sel.sample_ids) == expected
    assert len(expected) == cm.counts[r, c] > 0
    assert sel.source == "confusion"
    assert cm.heatmap.selected_cell == [int(r), int(c)]
    assert classes[r] in sel.description and classes[c] in sel.description


def test_bad_normalize_is_refused(scanned_store):
    with pytest.raises(ValueError, match="normalize must be"):
        ConfusionMatrix(scanned_store, normalize="all")


def test_click_outside_matrix_is_ignored(scanned_store):
    sel = Selection()
    cm = ConfusionMatrix(scanned_store, selection=sel)
    cm.heatmap.simulate_click(row=99, col=0)
    assert sel.sample_ids == ()


def test_normalised_rows_sum_to_one(scanned_store):
    cm = ConfusionMatrix(scanned_store, normalize="true")
    np.testing.assert_allclose(cm.values().sum(axis=1), 1.0)
    cm.mode.value = "pred"
    np.testing.assert_allclose(cm.values().sum(axis=0), 1.0)
    assert "." in cm.heatmap.texts[0][0]
    cm.mode.value = "counts"
    assert cm.heatmap.texts[0][0] == str(cm.counts[0, 0])


def test_relabel_moves_one_count_incrementally(scanned_store):
    cm = ConfusionMatrix(scanned_store)
    frame = scanned_store.frame()
    sid = frame["sample_id"].iat[0]
    old = scanned_store.classes.index(str(frame["label"].iat[0]))
    new = (old + 1) % 3
    before = cm.counts.copy()
    scanned_store.relabel(sid, scanned_store.classes[new])
    pred = scanned_store.classes.index(frame["predicted_label"].iat[0])
    assert cm.counts[old, pred] == before[old, pred] - 1
    assert cm.counts[new, pred] == before[new, pred] + 1
    np.testing.assert_array_equal(cm.counts, recount(scanned_store, frame))
    scanned_store.undo()
    np.testing.assert_array_equal(cm.counts, before)
    assert cm.heatmap.texts == [[str(v) for v in row] for row in before.tolist()]


def test_update_confusion_matches_recount_on_batches():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, 1000).astype(np.int32)
    pred = rng.integers(0, 5, 1000).astype(np.int32)
    counts = confusion_counts(labels, pred, 5)
    positions = rng.choice(1000, 50, replace=False)
    new = rng.integers(0, 5, 50).astype(np.int32)
    update_confusion(counts, pred, positions, labels[positions].copy(), new)
    labels[positions] = new
    np.testing.assert_array_equal(counts, confusion_counts(labels, pred, 5))


def test_unscanned_store_shows_hint(unscanned_store):
    cm = ConfusionMatrix(unscanned_store)
    assert cm.counts is None
    assert "ea.scan(store)" in cm.message.value
    cm.heatmap.simulate_click(row=0, col=0)  # nothing to click; no error


def test_many_classes_show_the_most_confused(tmp_path):
    from tests.stores import make_store

    classes = tuple(f"c{i}" for i in range(12))
    store = make_store(tmp_path / "big", n=200, classes=classes, images=False)
    cm = ConfusionMatrix(store, max_classes=5)
    assert len(cm.heatmap.row_labels) == 5
    assert "5 of 12" in cm.heatmap.caption
    errors = cm.counts.sum(0) + cm.counts.sum(1) - 2 * np.diag(cm.counts)
    assert errors[cm.shown].min() >= np.sort(errors)[-5]


def test_shared_data_is_used_as_is(scanned_store):
    data = ViewData(scanned_store)
    cm = ConfusionMatrix(data)
    assert cm.data is data
    with pytest.raises(ValueError):
        cm.click("no-such-class", "cat")
