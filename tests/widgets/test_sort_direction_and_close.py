"""Worst first whatever the column (issue 15 item 3) and a quiet, idempotent close (item 5)."""

from __future__ import annotations

import gc
import sys

import numpy as np

from erroranalysis.analysis.scores import attach_metric
from erroranalysis.widgets import Dashboard, Gallery


def _page_values(gallery, column):
    frame = gallery.data.frame
    return frame[column].to_numpy(dtype=np.float64)[gallery.page_positions()]


def test_choosing_a_column_in_the_sort_menu_sorts_worst_first(scanned_store):
    n = len(scanned_store.sample_ids)
    rng = np.random.default_rng(1)
    attach_metric(scanned_store, None, "iou", rng.random(n), higher_is_better=True)
    attach_metric(scanned_store, None, "error_px", rng.random(n) * 10, higher_is_better=False)
    gallery = Gallery(scanned_store)
    everything = gallery.data.frame
    for column, worst in (("loss", "high"), ("iou", "low"), ("error_px", "high")):
        gallery.sort_by.value = column
        shown = _page_values(gallery, column)
        values = everything[column].to_numpy(dtype=np.float64)
        if worst == "high":
            assert not gallery.ascending.value and gallery.ascending.description == "highest first"
            assert shown[0] == np.nanmax(values) and np.all(np.diff(shown) <= 0), column
        else:
            assert gallery.ascending.value and gallery.ascending.description == "lowest first"
            assert shown[0] == np.nanmin(values) and np.all(np.diff(shown) >= 0), column
    # the user can still reverse it
    gallery.ascending.value = True
    assert _page_values(gallery, "error_px")[0] == np.nanmin(everything["error_px"])
    gallery.close()


def test_a_metric_where_lower_is_better_opens_worst_first(scanned_store):
    n = len(scanned_store.sample_ids)
    attach_metric(scanned_store, None, "cost", np.arange(n, dtype=float), higher_is_better=False)
    gallery = Gallery(scanned_store, sort_by="cost")
    assert not gallery.ascending.value
    assert _page_values(gallery, "cost")[0] == n - 1
    gallery.close()


def test_closing_twice_and_garbage_collection_are_quiet(scanned_store):
    unraisable = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(repr(info.exc_value))
    try:
        dash = Dashboard(scanned_store, poll_interval=None)
        dash.close()
        dash.close()  # idempotent
        dash.export.close()
        dash.__del__()  # what the garbage collector does to a closed dashboard
        dash.export.__del__()
        other = Dashboard(scanned_store, poll_interval=None)
        other.__del__()  # a dashboard never closed: __del__ closes it, quietly
        del dash, other
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert unraisable == []
