"""The pseudo-label tab (python side): sliders move the yield, Accept writes a batch, Undo."""

from __future__ import annotations

import numpy as np

from erroranalysis.analysis.pseudo_label import PSEUDO_FLAG
from erroranalysis.widgets.pseudo_label import PseudoLabelPanel
from tests.analysis.test_pseudo_label import make


def panel_on(tmp_path, **kwargs):
    store, _ = make(tmp_path, n=4000)
    return store, PseudoLabelPanel(store, target_precision=0.95, plan_now=True, **kwargs)


def test_slider_moves_yield_and_precision_from_the_plans_curve(tmp_path):
    _, panel = panel_on(tmp_path)
    table = panel.plan.table_.set_index("class")
    assert panel.yield_of("cat") == table.loc["cat", "yield"]
    before_total, before = panel.total.value, panel.yield_of("cat")
    slider = panel.sliders["cat"]
    slider.value = slider.max  # the lowest candidate threshold
    assert panel.yield_of("cat") > before
    assert panel.total.value != before_total
    curve = panel.plan.curves_["cat"]
    assert f"{curve['precision'][slider.max]:.3f}" in panel._readouts["cat"].value
    slider.value = -1
    assert panel.yield_of("cat") == 0 and panel.threshold("cat") is None


def test_spot_check_shows_samples_on_both_sides(tmp_path):
    _, panel = panel_on(tmp_path)
    panel.spot_class.value = "dog"
    above, below = panel.plan.near_threshold("dog", panel.threshold("dog"), 8)
    assert len(above) and len(below)
    assert above["score"].min() >= panel.threshold("dog") > below["score"].max()
    assert above["sample_id"].iloc[0] in panel.spot.value
    assert below["sample_id"].iloc[0] in panel.spot.value


def test_accept_writes_the_sliders_thresholds_and_undo_reverts(tmp_path):
    store, panel = panel_on(tmp_path, author="ann")
    before = store.label_codes().copy()
    panel.sliders["eel"].value = -1
    expected = sum(panel.yield_of(name) for name in panel.sliders)
    events = panel.accept()
    assert len(events) == 2 * expected > 0
    written = store.events()
    assert set(written["source"]) == {"pseudo"} and written["batch"].nunique() == 1
    assert set(written["session"]) == {panel.session}
    flagged = store.flags().query("flag == @PSEUDO_FLAG")["sample_id"]
    assert not (store.labels()[flagged].astype(str) == "eel").any()
    assert "pseudo-labelled" in panel.status.value
    assert panel.spot_class.value is not None and "just above" in panel.spot.value
    # a colleague's later change is not what the panel's undo reverts
    other = store.sample_ids[~store.is_labelled()][0]
    store.relabel(other, "ant", author="bob")
    panel.undo()
    codes = store.label_codes()
    changed = np.flatnonzero(codes != before)
    assert [store.sample_ids[i] for i in changed] == [other]
    assert not (store.flags()["flag"] == PSEUDO_FLAG).any()


def test_unreachable_target_shows_why_and_in_sample_warns(tmp_path):
    store, _ = make(tmp_path, n=500, out_of_sample=False)
    panel = PseudoLabelPanel(store)
    panel.target.value = 0.9999
    panel.make_plan()
    assert all(slider.value == -1 for slider in panel.sliders.values())
    assert "label none — " in panel._readouts["ant"].value  # and the reason
    assert "in-sample" in panel.status.value and "ea-error" in panel.status.value
    assert panel.accept() == [] and len(store.events()) == 0


def test_dashboard_has_the_tab_and_its_views_see_the_batch(tmp_path):
    import erroranalysis as ea

    store, _ = make(tmp_path, n=2000)
    board = ea.show(store, poll_interval=None)
    try:
        tabs = board.tabs
        titles = [tabs.get_title(i) for i in range(len(tabs.children))]
        assert "pseudo-labels" in titles and board.pseudo in tabs.children
        assert board.pseudo.plan is None  # planned on the first click, not at every open
        board.pseudo.target.value = 0.9
        board.pseudo.plan_button.click()
        events = board.pseudo.accept()
        assert events and board.pseudo.session == board.session
        assert (board.data.label_codes == store.label_codes()).all()  # views follow the batch
        assert board.data.frame["label"].notna().sum() == int(store.is_labelled().sum())
    finally:
        board.close()
