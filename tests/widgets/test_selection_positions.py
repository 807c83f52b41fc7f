"""The shared selection carries row positions (issue 11): views select and read arrays, and sample
ids are made only for whoever asks for them (the API, the export panel)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from erroranalysis.widgets._data import stable_argsort
from erroranalysis.widgets.selection import Selection

from .helpers import wrong_cell

IDS = ["a", "b", "c", "d", "e"]


def test_ids_in_positions_out_in_the_given_order():
    sel = Selection(ids=IDS)
    sel.select(["d", "a", "zz", "c"], source="api")
    assert sel.sample_ids == ("d", "a", "zz", "c")
    assert sel.positions.tolist() == [3, 0, 2]  # the store has no "zz"
    assert sel.positions.dtype == np.int64 and not sel.positions.flags.writeable
    assert len(sel) == 4


def test_positions_in_ids_out_made_only_when_read():
    sel = Selection(ids=pd.Index(IDS))
    sel.select_positions(np.array([4, 1]), source="slices", description="a slice")
    assert sel._ids is None  # nothing read the ids yet: none were made
    assert len(sel) == 2 and sel.source == "slices" and sel.description == "a slice"
    assert sel.positions.tolist() == [4, 1]
    assert sel.sample_ids == ("e", "b")
    assert sel.sample_ids is sel.sample_ids  # made once


def test_positions_are_copied_and_a_mask_selects_where_true():
    sel = Selection(ids=IDS)
    rows = np.array([0, 2])
    sel.select_positions(rows)
    rows[0] = 4
    assert sel.positions.tolist() == [0, 2]
    sel.select_positions(np.array([False, True, False, True, True]))
    assert sel.sample_ids == ("b", "d", "e")
    sel.select_positions([], source="scatter")
    assert sel.sample_ids == () and len(sel) == 0


def test_binding_mistakes_give_clear_errors():
    unbound = Selection()
    with pytest.raises(ValueError, match="bound to the store's sample ids"):
        unbound.select_positions([0])
    unbound.select(["a"])
    with pytest.raises(ValueError, match="not bound"):
        _ = unbound.positions
    sel = Selection(ids=IDS)
    with pytest.raises(ValueError, match="not the 5 ids this selection is bound to"):
        sel.select_positions([0], ids=["x", "y"])
    with pytest.raises(IndexError, match="position 5 is outside the 5 samples"):
        sel.select_positions([1, 5])
    with pytest.raises(IndexError, match="position -1"):
        sel.select_positions([-1])
    with pytest.raises(ValueError, match="one entry per sample"):
        sel.select_positions(np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="integers"):
        sel.select_positions([0.5])
    assert sel.version == 0  # nothing was selected by the failed calls


def test_ids_passed_with_positions_bind_an_unbound_selection():
    sel = Selection()
    sel.select_positions([1], ids=IDS)
    assert sel.bound_ids.tolist() == IDS and sel.sample_ids == ("b",)
    sel.select_positions([2], ids=list(IDS))  # an equal copy is the same binding
    assert sel.sample_ids == ("c",)


def test_version_counts_every_change_in_either_form():
    sel = Selection(ids=IDS)
    seen = []
    sel.observe(lambda change: seen.append(change["new"]), "version")
    sel.select_positions([0])
    sel.select_positions([0])
    sel.select(["a"])
    sel.clear()
    assert seen == [1, 2, 3, 4]


def test_sample_ids_observers_still_hear_positions_selections():
    sel = Selection(ids=IDS)
    heard = []
    handler = lambda change: heard.append((change["old"], change["new"], sel.source))  # noqa: E731
    sel.observe(handler, "sample_ids")
    sel.select_positions([2, 3], source="confusion")
    sel.select(["c", "d"])  # the same ids: no change, as with a trait
    sel.clear()
    assert heard == [((), ("c", "d"), "confusion"), (("c", "d"), (), "api")]
    sel.unobserve(handler, "sample_ids")
    sel.select_positions([1])
    assert len(heard) == 2 and sel._ids is None


def test_rebinding_keeps_the_selected_samples():
    sel = Selection(ids=IDS)
    sel.select_positions([1, 3])
    sel.bind(["z", *IDS])  # the store gained a sample at the front
    assert sel.positions.tolist() == [2, 4]
    assert sel.sample_ids == ("b", "d")


def test_positions_in_other_ids_look_up_by_sample_id():
    sel = Selection(ids=IDS)
    sel.select_positions([0, 4])
    other = pd.Index(["e", "q", "a"])
    assert sel.positions_in(other).tolist() == [2, 0]
    assert sel.positions_in(pd.Index(list(IDS))).tolist() == [0, 4]


def test_a_dashboard_selects_rows_and_makes_no_ids(dashboard):
    r, c = (int(v) for v in wrong_cell(dashboard))
    dashboard.confusion.heatmap.simulate_click(row=r, col=c)
    sel = dashboard.selection
    expected = dashboard.confusion.cell_positions(r, c)
    assert sel.source == "confusion" and sel.positions.tolist() == expected.tolist()
    # the gallery, the scatter and the inspector have followed it, all without one sample id
    assert sorted(dashboard.gallery.order.tolist()) == expected.tolist()
    assert sorted(dashboard.scatter.selected_positions.tolist()) == expected.tolist()
    assert sel._ids is None
    assert set(sel.sample_ids) == set(dashboard.data.ids_at(expected))
    dashboard.slices.table.simulate_click(row=0)
    assert sel.source == "slices" and sel._ids is None
    assert sorted(dashboard.gallery.order.tolist()) == sorted(sel.positions.tolist())


def test_the_export_panel_counts_and_exports_a_positions_selection(scanned_store, tmp_path):
    from erroranalysis.widgets.export_panel import ExportPanel

    sel = Selection(ids=scanned_store.sample_ids)
    panel = ExportPanel(scanned_store, selection=sel)
    panel.what.value = "selection"
    sel.select_positions([1, 4, 7], source="slices")
    assert "3 samples selected" in panel.selection_info.value
    assert sel._ids is None  # counting made no ids
    panel.format.value = "csv"
    panel.path.value = str(tmp_path / "three.csv")
    panel.button.click()
    exported = pd.read_csv(tmp_path / "three.csv")
    assert set(exported["sample_id"].astype(str)) == set(scanned_store.sample_ids[[1, 4, 7]])
    panel.close()


def test_views_on_their_own_data_share_one_selection(scanned_store):
    from erroranalysis.widgets import EmbeddingScatter, Gallery

    sel = Selection()
    gallery = Gallery(scanned_store, selection=sel)
    gallery.sort_by.value = ""  # store order
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    assert gallery.data is not scatter.data  # two copies of the ids: equal, so one binding
    scatter.select_positions(np.array([8, 3, 5]))
    assert gallery.order.tolist() == [8, 3, 5]  # store order: the selecting view's order
    sel.select(scanned_store.sample_ids[[2, 6]].tolist(), source="api")
    assert scatter.selected_positions.tolist() == [2, 6]
    gallery.close()
    scatter.close()


def test_inspector_walks_a_positions_selection_in_its_order(scanned_store):
    from erroranalysis.widgets import Inspector

    sel = Selection()
    inspector = Inspector(scanned_store, selection=sel)
    ids = scanned_store.sample_ids
    sel.select_positions([9, 2, 5], source="scatter")
    sel.focus(ids[9])
    assert inspector.prev_button.disabled and not inspector.next_button.disabled
    inspector.next_button.click()
    assert sel.focused == ids[2]
    inspector.next_button.click()
    assert sel.focused == ids[5] and inspector.next_button.disabled
    inspector.close()


def test_a_selection_shared_with_another_store_goes_by_sample_id(scanned_store, tmp_path):
    from erroranalysis.widgets import EmbeddingScatter, Gallery
    from tests.stores import make_store

    smaller = make_store(tmp_path / "smaller", n=30)
    sel = Selection()
    big = Gallery(scanned_store, selection=sel)
    small = Gallery(smaller, selection=sel)
    big.sort_by.value = small.sort_by.value = ""  # store order
    scatter = EmbeddingScatter(smaller, selection=sel)
    # bound to the first gallery's ids, the selection hears the smaller store's rows as ids
    scatter.select_positions(np.array([4, 1]))
    wanted = smaller.sample_ids[[4, 1]].tolist()
    assert sel.sample_ids == tuple(wanted)
    assert small.order.tolist() == [4, 1]
    assert big.data.ids_at(big.order) == [i for i in wanted if i in set(scanned_store.sample_ids)]
    for view in (big, small, scatter):
        view.close()


def test_the_gallery_sorts_a_large_selection_as_a_stable_sort_does(scanned_store):
    from erroranalysis.widgets import Gallery

    sel = Selection()
    gallery = Gallery(scanned_store, selection=sel, sort_by="margin", ascending=True)
    values = gallery._sort_keys("margin", True)
    for rows in (np.arange(0, 60, 2), np.array([50, 3, 17]), np.array([7, 7, 1])):
        sel.select_positions(rows, source="api")
        expected = rows[np.argsort(values[rows], kind="stable")]
        assert gallery.order.tolist() == expected.tolist()
    gallery.close()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_stable_argsort_is_numpys_stable_sort(dtype):
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 5_000, 120_000).astype(dtype)  # many ties
    if dtype != np.int64:
        keys[rng.integers(0, len(keys), 300)] = np.nan
        keys[:5] = np.inf  # ties with NaN: by position
        expected = np.argsort(np.where(np.isnan(keys), np.inf, keys), kind="stable")
    else:
        expected = np.argsort(keys, kind="stable")
    assert np.array_equal(stable_argsort(keys), expected)
    unique = rng.permutation(100_000).astype(dtype)  # no ties: the quick path
    assert np.array_equal(stable_argsort(unique), np.argsort(unique, kind="stable"))


def test_sample_id_sort_keys_follow_string_order(scanned_store):
    from erroranalysis.widgets._data import ViewData

    data = ViewData(scanned_store)
    rows = np.array([5, 0, 33, 12])
    keys = data.id_sort_keys(rows)
    assert rows[np.argsort(keys)].tolist() == sorted(rows, key=lambda p: data.sample_ids[p])
    data._id_index = pd.Index(data.sample_ids[::-1])  # ids out of order: ranked by Arrow
    data.sample_ids = data.sample_ids[::-1]
    data._id_rank = None
    keys = data.id_sort_keys(rows)
    assert rows[np.argsort(keys)].tolist() == sorted(rows, key=lambda p: data.sample_ids[p])
