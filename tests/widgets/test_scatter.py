from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.widgets import EmbeddingScatter, Selection

from .helpers import plotly_event


def test_points_are_float32_and_colours_small_ints(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    trace = scatter.points_trace
    assert trace.type == "scattergl"
    assert trace.x.dtype == np.float32 and trace.y.dtype == np.float32
    assert trace.marker.color.dtype == np.uint8
    frame = scanned_store.frame()
    np.testing.assert_allclose(trace.x, frame["x"].to_numpy(np.float32))
    assert "ea-scatter" in scatter._dom_classes


def test_click_point_focuses(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    plotly_event(scatter, "plotly_click", 0, [7])
    assert sel.focused == scanned_store.sample_ids[7]
    assert sel.focus_source == "scatter"
    assert scatter.focus_marker == pytest.approx(
        (float(scatter.points_trace.x[7]), float(scatter.points_trace.y[7])), rel=1e-5
    )


def test_box_selection_selects(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    plotly_event(
        scatter,
        "plotly_selected",
        0,
        [1, 2, 5],
        selector={"type": "box", "selector_state": {"xrange": [0, 1], "yrange": [0, 1]}},
    )
    assert list(sel.sample_ids) == [scanned_store.sample_ids[i] for i in (1, 2, 5)]
    assert sel.source == "scatter"
    assert len(scatter.selection_trace.x) == 3


def test_lasso_selection_selects(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    plotly_event(
        scatter,
        "plotly_selected",
        0,
        [4, 9],
        selector={"type": "lasso", "selector_state": {"xs": [0, 1, 1], "ys": [0, 0, 1]}},
    )
    assert list(sel.sample_ids) == [scanned_store.sample_ids[i] for i in (4, 9)]


def test_click_on_empty_traces_is_ignored(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    # a click event that names no points of any trace (plotly dispatches to every trace)
    scatter.figure._js2py_pointsCallback = {
        "event_type": "plotly_click",
        "points": {"trace_indexes": [], "point_indexes": [], "xs": [], "ys": []},
    }
    assert sel.focused is None


def test_selection_from_elsewhere_is_highlighted(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    ids = scanned_store.sample_ids[[3, 4, 10]].tolist()
    sel.select(ids, source="confusion")
    np.testing.assert_allclose(scatter.selection_trace.x, scatter.points_trace.x[[3, 4, 10]])
    assert scatter.selection_trace.x.dtype == np.float32
    # clicking a highlighted point focuses the sample under it
    plotly_event(scatter, "plotly_click", 1, [2])
    assert sel.focused == ids[2]


def test_recolour_after_relabel(scanned_store):
    scatter = EmbeddingScatter(scanned_store, color_by="correct")
    frame = scanned_store.frame()
    i = 0
    wrong_before = int(scatter.points_trace.marker.color[i])
    target = (
        frame["predicted_label"].iat[i]
        if wrong_before
        else next(c for c in scanned_store.classes if c != frame["label"].iat[i])
    )
    scanned_store.relabel(frame["sample_id"].iat[i], target)
    assert int(scatter.points_trace.marker.color[i]) == 1 - wrong_before
    assert scatter.points_trace.marker.color.dtype == np.uint8


def test_colour_modes(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    modes = [v for _, v in scatter.color_by.options]
    assert {"label", "given", "predicted", "correct", "issue", "slice:source"} <= set(modes)
    for mode in modes:
        scatter.color_by.value = mode
        assert scatter.points_trace.marker.color.dtype == np.uint8
        assert "<span" in scatter.legend.value
    with pytest.raises(ValueError, match="choose one of"):
        EmbeddingScatter(scanned_store, color_by="rainbow")


def test_large_n_degrades_to_density_and_suspects(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel, max_points=20)
    assert scatter.degraded
    assert scatter.figure.data[0].type == "heatmap"
    frame = scanned_store.frame()
    suspects = (
        frame["is_label_issue"]
        | frame["is_outlier"]
        | frame["is_near_duplicate"]
        | (frame["predicted_label"] != frame["label"].astype(str))
    )
    assert len(scatter.point_positions) == min(20, int(suspects.sum()))
    assert suspects.to_numpy()[scatter.point_positions].all()
    # a click maps through to the right sample
    plotly_event(scatter, "plotly_click", 1, [0])
    assert sel.focused == scanned_store.sample_ids[scatter.point_positions[0]]
    # a box selects every sample in the box, not only the drawn suspects
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    box = {
        "xrange": [float(np.median(x)), float(x.max())],
        "yrange": [float(y.min()), float(y.max())],
    }
    plotly_event(
        scatter, "plotly_selected", 1, [0], selector={"type": "box", "selector_state": box}
    )
    inside = np.flatnonzero((x >= box["xrange"][0]) & (x <= box["xrange"][1]))
    assert list(sel.sample_ids) == scanned_store.sample_ids[inside].tolist()
    assert "density" in scatter.message.value


def test_unscanned_store_shows_hint(unscanned_store):
    scatter = EmbeddingScatter(unscanned_store)
    assert "ea.scan(store)" in scatter.message.value
    assert len(scatter.figure.data) == 0


def test_lasso_in_degraded_mode_selects_every_point_inside(scanned_store):
    from erroranalysis.widgets.scatter import _in_polygon

    square = np.array([[0.5, 0.5], [2.0, 2.0], [-1.0, 0.5], [0.5, 1.5]], dtype=np.float32)
    assert _in_polygon(square, [0, 1, 1, 0], [0, 0, 1, 1]).tolist() == [True, False, False, False]
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel, max_points=20)
    frame = scanned_store.frame()
    x, y = frame["x"].to_numpy(), frame["y"].to_numpy()
    x0, x1, y0, y1 = float(np.median(x)), float(x.max()) + 1, float(y.min()) - 1, float(y.max()) + 1
    lasso = {"xs": [x0, x1, x1, x0], "ys": [y0, y0, y1, y1]}
    plotly_event(
        scatter,
        "plotly_selected",
        1,
        [0],
        selector={"type": "lasso", "selector_state": lasso},
    )
    assert list(sel.sample_ids) == scanned_store.sample_ids[np.flatnonzero(x > x0)].tolist()
