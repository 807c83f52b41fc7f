from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import erroranalysis as ea
from erroranalysis.widgets import Dashboard, show

from .helpers import recount, wrong_cell


def test_show_composes_every_view_with_stable_classes(scanned_store):
    dash = show(scanned_store, poll_interval=None)
    try:
        assert isinstance(dash, Dashboard)
        assert "ea-dashboard" in dash._dom_classes
        classes = {c for view in dash.views for c in view._dom_classes}
        assert {
            "ea-confusion",
            "ea-gallery",
            "ea-scatter",
            "ea-issues",
            "ea-slices",
            "ea-inspector",
        } <= classes
        assert all(view.selection is dash.selection for view in dash.views)
        assert all(view.data is dash.data for view in dash.views)
    finally:
        dash.close()


def test_show_opens_a_path(scanned_store):
    dash = ea.show(str(scanned_store.path), poll_interval=None)
    assert dash.data.num_samples == 60
    dash.close()


def test_confusion_cell_to_gallery_and_scatter(dashboard):
    r, c = wrong_cell(dashboard)
    dashboard.confusion.heatmap.simulate_click(row=int(r), col=int(c))
    n = int(dashboard.confusion.counts[r, c])
    assert len(dashboard.selection.sample_ids) == n > 0
    assert set(dashboard.gallery.order_ids()) == set(dashboard.selection.sample_ids)
    assert f">{n}<" in dashboard.gallery.count.value
    assert len(dashboard.scatter.selected_positions) == n


def test_lasso_to_gallery_then_thumbnail_to_inspector(dashboard):
    dashboard.scatter.canvas.simulate_select([0, 3, 6, 9], kind="lasso")
    ids = dashboard.data.sample_ids[[0, 3, 6, 9]].tolist()
    assert set(dashboard.gallery.order_ids()) == set(ids)
    dashboard.gallery.grid.simulate_click(sample_id=dashboard.gallery.page_ids()[1])
    focused = dashboard.gallery.page_ids()[1]
    assert dashboard.inspector.sample_id == focused
    assert dashboard.scatter.focus_marker[0] == pytest.approx(
        float(dashboard.scatter.xy[dashboard.data.position(focused), 0])
    )
    # previous / next walk the gallery's order
    dashboard.inspector.next_button.click()
    assert dashboard.selection.focused == dashboard.gallery.order_ids()[2]


def test_point_and_row_to_inspector(dashboard):
    dashboard.scatter.canvas.simulate_click(11)
    assert dashboard.inspector.sample_id == dashboard.data.sample_ids[11]
    dashboard.issues.table.simulate_click(row=0)
    assert dashboard.inspector.sample_id == dashboard.issues.table.row_ids[0]
    assert dashboard.gallery.grid.focused == dashboard.issues.table.row_ids[0]


def test_relabel_updates_every_view_and_undo_restores(dashboard, scanned_store):
    frame = scanned_store.frame()
    dashboard.issues.table.simulate_click(row=0)
    sid = dashboard.inspector.sample_id
    pos = dashboard.data.position(sid)
    dashboard.scatter.color_by.value = "correct"
    dashboard.selection.select([sid], source="api")
    before = dashboard.confusion.counts.copy()
    colour_before = int(dashboard.scatter.point_codes[pos])
    suggestion = dashboard.inspector.suggestion_labels()[0]
    assert suggestion == frame["predicted_label"].iat[pos]
    dashboard.inspector.suggestions.children[0].click()
    # confusion
    np.testing.assert_array_equal(dashboard.confusion.counts, recount(scanned_store, frame))
    assert not np.array_equal(dashboard.confusion.counts, before)
    # scatter colour: wrong → correct
    assert colour_before == 1 and int(dashboard.scatter.point_codes[pos]) == 0
    # gallery badge and issue table label
    assert "relabeled" in dashboard.gallery.grid.items[0]["badges"]
    row = dashboard.issues.table.row_ids.index(sid)
    assert dashboard.issues.table.rows[row][1] == suggestion
    # undo
    dashboard.inspector.undo_button.click()
    np.testing.assert_array_equal(dashboard.confusion.counts, before)
    assert int(dashboard.scatter.point_codes[pos]) == 1
    assert "relabeled" not in dashboard.gallery.grid.items[0]["badges"]


def _relabel_in_another_process(path, sample_id, label):
    code = textwrap.dedent(
        f"""
        import erroranalysis as ea
        store = ea.Store.open({str(path)!r})
        store.relabel({sample_id!r}, {label!r}, author="other-process", source="test")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_refresh_picks_up_another_process(dashboard, scanned_store):
    sid = scanned_store.sample_ids[0]
    current = scanned_store.labels()[sid]
    target = next(c for c in scanned_store.classes if c != current)
    before = dashboard.confusion.counts.copy()
    _relabel_in_another_process(scanned_store.path, sid, target)
    assert (dashboard.confusion.counts == before).all()  # nothing until we look
    assert dashboard.refresh() is True
    assert dashboard.data.label_codes[0] == scanned_store.classes.index(target)
    assert dashboard.confusion.counts.sum() == before.sum()
    assert not np.array_equal(dashboard.confusion.counts, before)
    assert dashboard.refresh() is False


def test_poller_on_the_asyncio_loop_picks_up_another_process(scanned_store):
    sid = scanned_store.sample_ids[1]
    target = next(c for c in scanned_store.classes if c != scanned_store.labels()[sid])
    code = scanned_store.classes.index(target)

    async def scenario():
        dash = Dashboard(scanned_store, poll_interval=0.2)
        try:
            assert dash.polling
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                f"import erroranalysis as ea; ea.Store.open({str(scanned_store.path)!r}).relabel({sid!r}, {target!r})",
            )
            assert await process.wait() == 0
            for _ in range(100):
                if dash.data.label_codes[1] == code:
                    return True
                await asyncio.sleep(0.05)
            return False
        finally:
            dash.close()
            assert not dash.polling

    assert asyncio.run(scenario())


def test_no_loop_means_no_poller(scanned_store):
    dash = Dashboard(scanned_store, poll_interval=1.0)
    assert not dash.polling
    dash.close()


def test_unscanned_and_runless_stores_show_hints(unscanned_store, tmp_path):
    dash = Dashboard(unscanned_store, poll_interval=None)
    assert "ea.scan(store)" in dash.confusion.message.value
    assert "ea.scan(store)" in dash.scatter.message.value
    dash.gallery.grid.simulate_click(sample_id=unscanned_store.sample_ids[0])
    assert dash.inspector.sample_id == unscanned_store.sample_ids[0]
    assert "top-3 probabilities" in dash.inspector.details.value
    dash.close()
    import pandas as pd

    bare = ea.Store.create(
        tmp_path / "bare",
        classes=["a", "b"],
        samples=pd.DataFrame({"sample_id": ["x", "y"], "label": ["a", "b"]}),
    )
    dash = Dashboard(bare, poll_interval=None)
    assert dash.data.run is None
    dash.gallery.grid.simulate_click(sample_id="y")
    dash.inspector.relabel("a")
    assert bare.labels()["y"] == "a"
    dash.close()


def test_reload_rebuilds_views(dashboard):
    old = dashboard.confusion
    dashboard.reload()
    assert dashboard.confusion is not old
    assert old._closed


def test_export_tab_exports_the_selection(dashboard, tmp_path):
    from erroranalysis.widgets.export_panel import ExportPanel

    assert isinstance(dashboard.export, ExportPanel)  # never silently missing
    r, c = wrong_cell(dashboard)
    dashboard.confusion.click(int(r), int(c))
    panel = dashboard.export
    panel.what.value = "selection"
    panel.format.value = "csv"
    panel.path.value = str(tmp_path / "selection.csv")
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    import pandas as pd

    exported = pd.read_csv(tmp_path / "selection.csv")
    assert len(exported) == int(dashboard.confusion.counts[r, c])


def test_a_broken_export_panel_is_an_error_not_a_missing_tab(scanned_store, monkeypatch):
    """The export panel is part of the package: failing to import it must not hide the tab."""
    import sys

    monkeypatch.setitem(sys.modules, "erroranalysis.widgets.export_panel", None)
    with pytest.raises(ImportError):
        Dashboard(scanned_store, poll_interval=None)


def test_rerunning_the_cell_leaves_one_poller(scanned_store):
    """A second dashboard of the same store and run stops the first one's poller."""

    async def scenario():
        first = Dashboard(scanned_store, poll_interval=0.05)
        second = Dashboard(scanned_store, poll_interval=0.05)
        await asyncio.sleep(0.01)
        states = (first.polling, second.polling)
        second.close()
        first.close()
        return states

    assert asyncio.run(scenario()) == (False, True)
