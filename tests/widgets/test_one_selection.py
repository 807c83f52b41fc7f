"""One selection, everywhere (issue 17 item 1): every view shows the same selection and counts."""

from __future__ import annotations

import re

import numpy as np

from .helpers import wrong_cell


def _gallery_count(dashboard) -> int:
    return int(re.search(r'ea-gallery-count-n">(\d+)<', dashboard.gallery.count.value).group(1))


def test_after_a_relabel_the_gallery_counts_what_the_cell_says(dashboard):
    r, c = (int(v) for v in wrong_cell(dashboard))
    dashboard.confusion.heatmap.simulate_click(row=r, col=c)
    before = int(dashboard.confusion.counts[r, c])
    assert _gallery_count(dashboard) == before
    sid = dashboard.gallery.page_ids()[0]
    dashboard.gallery.click(sid)
    predicted = dashboard.data.classes[c]
    dashboard.inspector.relabel(predicted)  # leaves the cell: it is now right
    assert int(dashboard.confusion.counts[r, c]) == before - 1
    assert _gallery_count(dashboard) == before - 1
    assert len(dashboard.selection.sample_ids) == before - 1
    assert len(dashboard.scatter.selected_positions) == before - 1
    assert sid not in dashboard.gallery.order_ids()
    # the cell stays outlined and the gallery describes it still
    assert dashboard.confusion.heatmap.selected_cell
    assert "given" in dashboard.gallery.count.value


def test_clear_and_slice_clicks_replace_the_scatter_selection(dashboard):
    dashboard.scatter.canvas.simulate_select([0, 3, 6, 9], kind="box")
    assert len(dashboard.scatter.selected_positions) == 4
    dashboard.clear_button.click()
    assert len(dashboard.scatter.selected_positions) == 0
    assert dashboard.gallery.order_ids()[: len(dashboard.gallery.page_ids())] == (
        dashboard.gallery.page_ids()
    )
    assert "all samples" in dashboard.gallery.count.value
    dashboard.scatter.canvas.simulate_select([1, 2], kind="box")
    dashboard.slices.table.simulate_click(row=0)
    n = len(dashboard.selection.sample_ids)
    assert len(dashboard.scatter.selected_positions) == n == _gallery_count(dashboard)
    assert set(dashboard.data.ids_at(dashboard.scatter.selected_positions)) == set(
        dashboard.selection.sample_ids
    )


def test_the_status_line_is_cleared_on_a_sample_change(dashboard):
    ids = dashboard.data.sample_ids
    dashboard.gallery.click(ids[0])
    other = next(c for c in dashboard.data.classes if c != dashboard.data.label_name(0))
    dashboard.inspector.relabel(other)
    dashboard.inspector.undo()
    assert "undid" in dashboard.inspector.status.value
    dashboard.gallery.click(ids[1])
    assert dashboard.inspector.status.value == ""
    dashboard.inspector.relabel(
        next(c for c in dashboard.data.classes if c != dashboard.data.label_name(1))
    )
    assert dashboard.inspector.status.value
    dashboard.inspector.next_button.click()
    assert dashboard.inspector.status.value == ""
    assert np.isin(dashboard.data.position(dashboard.selection.focused), np.arange(len(ids)))
