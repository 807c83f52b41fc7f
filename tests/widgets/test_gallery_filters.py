"""Filters and hover (issue 17 item 5): the gallery filters, page and thumbnail size; a hovered
scatter point shows its thumbnail and labels; an issue row fills the gallery with its issue."""

from __future__ import annotations

import numpy as np


def _shown(gallery) -> np.ndarray:
    return gallery.order


def test_wrong_only_label_predicted_and_issue_filters(dashboard):
    gallery, data = dashboard.gallery, dashboard.data
    every = len(gallery.order)
    gallery.filter_wrong.value = True
    assert set(gallery.order.tolist()) == set(np.flatnonzero(data.wrong()).tolist())
    assert "wrong only" in gallery.count.value
    gallery.filter_wrong.value = False
    label = data.classes[1]
    gallery.filter_label.value = label
    assert (data.label_codes[gallery.order] == 1).all()
    assert len(gallery.order) == int((data.label_codes == 1).sum())
    gallery.filter_predicted.value = data.classes[2]
    assert (data.pred_codes[gallery.order] == 2).all()
    gallery.filter_label.value = gallery.filter_predicted.value = ""
    gallery.filter_issue.value = "is_label_issue"
    issues = data.frame["is_label_issue"].to_numpy(bool)
    assert set(gallery.order.tolist()) == set(np.flatnonzero(issues).tolist()) != set()
    gallery.filter_issue.value = ""
    assert len(gallery.order) == every


def test_filters_apply_to_a_selection_and_follow_relabels(dashboard, scanned_store):
    gallery, data = dashboard.gallery, dashboard.data
    dashboard.scatter.canvas.simulate_select(np.arange(30), kind="box")
    gallery.filter_wrong.value = True
    wrong = np.flatnonzero(data.wrong()[:30])
    assert set(gallery.order.tolist()) == set(wrong.tolist())
    pos = int(wrong[0])
    scanned_store.relabel(data.sample_ids[pos], data.classes[data.pred_codes[pos]])
    assert pos not in gallery.order.tolist()  # now right: no longer "wrong only"


def test_flag_and_score_range_filters(dashboard, scanned_store):
    gallery, data = dashboard.gallery, dashboard.data
    sid = data.sample_ids[4]
    scanned_store.flag(sid, "weak_spot")
    gallery.filter_flag.value = "weak_spot"
    assert gallery.order.tolist() == [4]
    gallery.filter_flag.value = "-"
    assert 4 not in gallery.order.tolist() and len(gallery.order) == data.num_samples - 1
    gallery.filter_flag.value = ""
    gallery.sort_by.value = "label_quality"
    values = data.frame["label_quality"].to_numpy(np.float64)
    lo, hi = gallery.score_range.min, gallery.score_range.max
    assert (lo, hi) == (float(values.min()), float(values.max()))
    cut = float(np.median(values))
    gallery.score_range.value = (lo, cut)
    shown = values[gallery.order]
    assert (shown <= cut + 1e-9).all() and len(shown) == int((values <= cut + 1e-9).sum())
    assert "label_quality in" in gallery.count.value


def test_page_and_thumbnail_size(dashboard):
    gallery = dashboard.gallery
    gallery.page_size_choice.value = 12
    assert len(gallery.page_ids()) == 12 and gallery.num_pages == -(-len(gallery.order) // 12)
    gallery.thumb_size_choice.value = 128
    assert gallery.grid.thumb_size == 128
    assert (
        "--ea-thumb-size"
        in (
            __import__("erroranalysis.widgets._frontend", fromlist=["x"]).STATIC / "grid.js"
        ).read_text()
    )


def test_hovering_a_point_shows_its_thumbnail_and_labels(dashboard):
    canvas = dashboard.scatter.canvas
    assert canvas.hover_enabled
    canvas.simulate_hover(3)
    tip = canvas.tooltip
    assert "<img" in tip and "data:image" in tip
    assert dashboard.data.sample_ids[3] in tip and dashboard.data.label_name(3) in tip
    canvas.simulate_hover(-1)
    assert canvas.tooltip == ""


def test_an_issue_row_fills_the_gallery_with_that_issue(dashboard):
    issues = dashboard.issues
    issues.table.simulate_click(row=0)
    flagged = set(np.flatnonzero(dashboard.data.frame["is_label_issue"].to_numpy(bool)).tolist())
    assert set(dashboard.gallery.order.tolist()) == flagged
    assert dashboard.inspector.sample_id == issues.table.row_ids[0]
    assert "label issues" in dashboard.gallery.count.value
