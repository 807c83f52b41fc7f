"""EmbeddingScatter without a browser: what it sends to the page, and what it does with the
page's events (simulated through ScatterCanvas.simulate_*, the same handler the page's custom
messages reach). The real page is driven in tests/browser/test_dashboard.py and
tests/browser/test_scatter_million.py."""

from __future__ import annotations

import numpy as np
import pytest

from erroranalysis.widgets import EmbeddingScatter, Selection
from erroranalysis.widgets.scatter import ScatterCanvas, normalize_positions


def _planar(scatter):
    raw = np.frombuffer(scatter.canvas.positions, dtype=np.float32)
    n = len(raw) // 2
    return raw[:n], raw[n:]


def test_positions_sent_once_as_float32_and_colours_as_one_byte(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    n = len(scanned_store.sample_ids)
    assert "ea-scatter" in scatter._dom_classes
    assert len(scatter.canvas.positions) == 8 * n  # float32 x then y
    assert len(scatter.canvas.codes) == n  # one byte per point
    x, y = _planar(scatter)
    frame = scanned_store.frame()
    expected = normalize_positions(frame[["x", "y"]].to_numpy(np.float64))
    np.testing.assert_array_equal(x, expected[:, 0])
    np.testing.assert_array_equal(y, expected[:, 1])
    assert np.nanmax(np.abs(x)) <= 1 and np.nanmax(np.abs(y)) <= 1
    # the colour slots name the current labels, the palette has a slot more (unknown)
    codes = scatter.point_codes
    labels = scanned_store.labels().reindex(frame["sample_id"]).astype(str).to_numpy()
    classes = list(scanned_store.classes)
    np.testing.assert_array_equal(codes, [classes.index(v) for v in labels])
    assert len(scatter.canvas.palette) == len(classes) + 1
    # a colour change sends codes again, never the positions
    sent = []
    scatter.canvas.observe(
        lambda change: sent.append(change["name"]), names=["positions", "codes", "palette"]
    )
    scatter.color_by.value = "correct"
    assert "positions" not in sent and "codes" in sent


def test_normalize_keeps_aspect_and_nan_rows():
    xy = np.array([[0, 0], [10, 2], [np.nan, 1], [5, 1]], dtype=np.float32)
    out = normalize_positions(xy)
    assert out.dtype == np.float32
    assert np.isnan(out[2]).all()
    # x spans the range, y keeps its proportion (1/5 of the x span)
    span_x = out[1, 0] - out[0, 0]
    span_y = out[1, 1] - out[0, 1]
    assert span_y == pytest.approx(span_x / 5, rel=1e-5)
    assert np.nanmax(np.abs(out)) < 1


def test_click_point_focuses(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    scatter.canvas.simulate_click(7)
    assert sel.focused == scanned_store.sample_ids[7]
    assert sel.focus_source == "scatter"
    assert scatter.canvas.focused == 7
    assert scatter.focus_marker == pytest.approx(tuple(scatter.xy[7]))


def test_click_outside_the_rows_is_ignored(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    scatter.canvas.simulate_click(-1)
    scatter.canvas.simulate_click(10**9)
    assert sel.focused is None and scatter.focus_marker is None


def test_box_and_lasso_selections_select_those_rows(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    scatter.canvas.simulate_select([5, 1, 2], kind="box", polygon=[[0, 0], [1, 0], [1, 1]])
    assert list(sel.sample_ids) == [scanned_store.sample_ids[i] for i in (1, 2, 5)]
    assert sel.source == "scatter"
    assert "box" in sel.description
    assert scatter.selected_positions.tolist() == [1, 2, 5]
    assert scatter.last_polygon == [[0, 0], [1, 0], [1, 1]]
    scatter.canvas.simulate_select([4, 9], kind="lasso")
    assert list(sel.sample_ids) == [scanned_store.sample_ids[i] for i in (4, 9)]
    assert "lasso" in sel.description
    # double click / Escape in the page clears it
    scatter.canvas.simulate_deselect()
    assert list(sel.sample_ids) == [] and len(scatter.selected_positions) == 0


def test_selection_from_elsewhere_is_highlighted_as_uint32(scanned_store):
    sel = Selection()
    scatter = EmbeddingScatter(scanned_store, selection=sel)
    ids = scanned_store.sample_ids[[3, 4, 10]].tolist()
    sel.select(ids, source="confusion")
    assert len(scatter.canvas.selected) == 3 * 4
    assert scatter.selected_positions.tolist() == [3, 4, 10]
    sel.focus(ids[1], source="gallery")
    assert scatter.canvas.focused == 4
    sel.clear(source="api")
    assert len(scatter.selected_positions) == 0 and scatter.canvas.focused == -1


def test_recolour_after_relabel(scanned_store):
    scatter = EmbeddingScatter(scanned_store, color_by="correct")
    frame = scanned_store.frame()
    i = 0
    wrong_before = int(scatter.point_codes[i])
    target = (
        frame["predicted_label"].iat[i]
        if wrong_before
        else next(c for c in scanned_store.classes if c != frame["label"].iat[i])
    )
    scanned_store.relabel(frame["sample_id"].iat[i], target)
    assert int(scatter.point_codes[i]) == 1 - wrong_before


def test_colour_modes(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    modes = [v for _, v in scatter.color_by.options]
    assert {"label", "given", "predicted", "correct", "issue", "slice:source"} <= set(modes)
    frame = scanned_store.frame()
    for mode in modes:
        scatter.color_by.value = mode
        codes = scatter.point_codes
        assert len(codes) == len(frame)
        assert int(codes.max()) < len(scatter.canvas.palette)
        assert "<span" in scatter.legend.value
    scatter.color_by.value = "issue"
    issue = frame["is_label_issue"].to_numpy(bool)
    assert (scatter.point_codes[issue] == 1).all()
    with pytest.raises(ValueError, match="choose one of"):
        EmbeddingScatter(scanned_store, color_by="rainbow")


def test_more_categories_than_a_byte_share_colour_slots(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    n = len(scanned_store.sample_ids)
    codes = np.arange(n, dtype=np.int32) % 1000
    codes[0] = -1
    names = [f"c{i}" for i in range(1000)]
    colours = [f"#{i % 20:02x}0000" for i in range(1000)]  # 20 colours, repeated
    scatter.category_codes = lambda: (codes, names, colours)
    slots, palette = scatter.colour_slots()
    assert slots.dtype == np.uint8 and len(palette) == 21
    assert palette[slots[0]] == "#bdbdbd"  # unknown
    for i in range(1, min(n, 300)):
        assert palette[slots[i]] == colours[codes[i]]
    # 1,000 distinct colours cannot each have a byte: they fold onto the standard palette
    distinct = [f"#{i:06x}" for i in range(1000)]
    scatter.category_codes = lambda: (codes, names, distinct)
    slots, palette = scatter.colour_slots()
    assert slots.dtype == np.uint8 and len(palette) == 21
    assert slots[1] != slots[2] and slots[1] == slots[21]


def test_ids_go_to_the_page_only_when_asked(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    sent = []
    scatter.canvas.send = lambda content, buffers=None: sent.append((content, buffers))
    assert sent == []
    scatter.canvas._on_page_message(scatter.canvas, {"type": "need_ids"}, [])
    ((content, buffers),) = sent
    assert content == {"type": "ids"}
    assert bytes(buffers[0]).decode().split("\0") == list(scanned_store.sample_ids.astype(str))


def test_hover_hook_reports_sample_ids(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    assert not scatter.canvas.hover_enabled
    seen = []
    scatter.on_hover(seen.append)
    assert scatter.canvas.hover_enabled
    scatter.canvas.simulate_hover(3)
    scatter.canvas.simulate_hover(-1)
    assert seen == [scanned_store.sample_ids[3], None]


def test_page_error_shows_in_the_status_line(scanned_store):
    scatter = EmbeddingScatter(scanned_store)
    scatter.canvas._on_page_message(scatter.canvas, {"type": "error", "message": "no WebGL"}, [])
    assert "no WebGL" in scatter.message.value


def test_unscanned_store_shows_hint(unscanned_store):
    scatter = EmbeddingScatter(unscanned_store)
    assert "ea.scan(store)" in scatter.message.value
    assert scatter.canvas.positions == b""
    scatter.canvas.simulate_click(0)  # nothing to click: ignored
    assert scatter.selection.focused is None


def test_front_end_bundle_is_shipped():
    source = ScatterCanvas._esm
    text = source.read_text() if hasattr(source, "read_text") else str(source)
    assert "eaPointPosition" in text and "eaLoadIds" in text
    assert len(text) > 100_000  # regl-scatterplot is bundled in, nothing fetched at runtime
