"""Embedding scatter view: every sample of the run's 2-D projection (``x``, ``y``), in WebGL.

The front-end is our own small anywidget over regl-scatterplot (the renderer jupyter-scatter is
built on; source in ``js/scatter/``, bundled into ``widgets/static/scatter.js``). One code path for
every size up to 1.28M points and beyond:

- positions travel once, as one binary buffer of float32 (8 bytes a point);
- a colour change sends one uint8 colour slot per point (1 byte a point) and the palette;
- a click is hit-tested in the page against the positions it already holds and reaches Python as
  a custom message before anything is redrawn (click → focus → inspector);
- box and lasso selections come back as uint32 row positions (custom message + buffer) and write
  the shared :class:`Selection`; selections made elsewhere are highlighted (uint32 positions).

Why not jupyter-scatter's own widget (measured beside ours and plotly Scattergl with
bench/scatter_render.py, BENCHMARKS.md 2026-12-04: headless Chromium, software WebGL, 2 cores):
its first render is close to ours (2.5 vs 1.7 s to the first frame at 1M points, 1.0 vs 0.6 s at
100k) though it sends twice the bytes (18 vs 9 MB at 1M: an ``N × 4`` float32 ``points`` array,
16 bytes a point, and a 2.1 MB module). Where it falls short: a colour change re-sends that whole
array (16 MB at 1M, 1.5-2.0 s to the redrawn frame, against 1 MB and 0.6 s here), and a click
reaches Python only after a frame is drawn (one frame counted before every click's ``selection``
arrived: 0.55 s p50 per click at 1M, 0.13 s at 100k, against 8 ms and 4.5 ms here).
"""

from __future__ import annotations

import html
import itertools
import logging
from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import SCAN_HINT, UNLABELLED, Change
from erroranalysis.widgets._frontend import STATIC, STYLESHEET
from erroranalysis.widgets.selection import Selection

__all__ = ["EmbeddingScatter", "ScatterCanvas", "normalize_positions"]

logger = logging.getLogger(__name__)

_PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
]  # fmt: skip
_UNKNOWN = "#bdbdbd"
_ISSUE_NAMES = ["no issue", "label issue", "outlier", "near-duplicate"]
_ISSUE_COLOURS = ["#9e9e9e", "#d62728", "#ff7f0e", "#9467bd"]
#: correct / wrong: Okabe–Ito blue / vermillion (told apart with every common colour-vision
#: deficiency; red / green is not)
_CORRECT_COLOURS = ["#0072b2", "#d55e00"]
#: Selected points and the focus ring: black, a colour no class uses.
SELECTION_COLOUR = "#000000"
#: Colour slots one byte can name, the last kept for unknown / missing values.
_MAX_SLOTS = 255
_COUNTER = itertools.count(1)


def normalize_positions(xy: np.ndarray) -> np.ndarray:
    """Map a layout into [-1, 1] (WebGL's normalised device coordinates), keeping its aspect.

    Both axes are centred and divided by the same factor (the larger half-range), so distances
    look as they are in the layout. Non-finite rows stay NaN (they are not drawn).

    Parameters
    ----------
    xy : numpy.ndarray
        ``(N, 2)`` layout.

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` float32 in [-1, 1].
    """
    # float32 throughout, and no boolean-indexed copies when every row is finite: 4 ms instead
    # of 0.4 CPU-s at 1.28M points (the page draws float32 anyway)
    xy = np.asarray(xy, dtype=np.float32)
    finite = np.isfinite(xy).all(axis=1)
    every = bool(finite.all())
    values = xy if every else xy[finite]
    if not len(values):
        return np.full(xy.shape, np.nan, dtype=np.float32)
    lo, hi = values.min(axis=0).astype(np.float64), values.max(axis=0).astype(np.float64)
    centre = (lo + hi) / 2
    half = float(np.max(hi - lo)) / 2 or 1.0
    out = (xy - centre.astype(np.float32)) * np.float32(1.0 / (half * 1.02))
    if not every:
        out[~finite] = np.nan
    return out


def default_point_size(n: int) -> float:
    """Point size in pixels that keeps N points readable: 5 px at 10k, 2 px past 500k."""
    if n <= 20_000:
        return 5.0
    if n <= 200_000:
        return 3.0
    return 2.0


class ScatterCanvas(anywidget.AnyWidget):
    """The WebGL front-end of :class:`EmbeddingScatter` (regl-scatterplot in an anywidget).

    Synced state (persistent): ``positions`` (float32 bytes, x then y, in [-1, 1]), ``codes``
    (uint8 bytes, one colour slot per point), ``palette`` (a colour per slot), ``selected``
    (uint32 bytes of highlighted rows), ``focused`` (a row or -1), ``mouse_mode`` (``"pan"``,
    ``"lasso"`` or ``"box"``), ``hover_enabled`` and ``tooltip`` (HTML shown at the hovered point).

    One-shot events come from the page as custom messages: ``{"type": "click", "index": i}``,
    ``{"type": "select", "kind": "box" | "lasso", "polygon": [[x, y], ...]}`` with the selected
    rows as one uint32 buffer, ``{"type": "deselect"}``, ``{"type": "hover", "index": i}``,
    ``{"type": "need_ids"}`` and ``{"type": "error", "message": ...}``. The ``simulate_*``
    methods act as the page does, for tests without a browser.
    """

    _esm = STATIC / "scatter.js"
    _css = STYLESHEET
    positions = traitlets.Bytes(b"").tag(sync=True)
    codes = traitlets.Bytes(b"").tag(sync=True)
    palette = traitlets.List(traitlets.Unicode()).tag(sync=True)
    selected = traitlets.Bytes(b"").tag(sync=True)
    focused = traitlets.Int(-1).tag(sync=True)
    mouse_mode = traitlets.Enum(["pan", "lasso", "box"], default_value="pan").tag(sync=True)
    point_size = traitlets.Float(4.0).tag(sync=True)
    performance_mode = traitlets.Bool(False).tag(sync=True)
    width = traitlets.Int(560).tag(sync=True)
    height = traitlets.Int(420).tag(sync=True)
    hover_enabled = traitlets.Bool(False).tag(sync=True)
    tooltip = traitlets.Unicode("").tag(sync=True)
    #: Set by the page after each draw: ``{"points": n, "ms": draw time, "at": epoch ms}``.
    rendered = traitlets.Dict().tag(sync=True)
    selection_color = traitlets.Unicode(SELECTION_COLOUR).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handlers: list[Callable[[dict, list], None]] = []
        self.on_msg(self._on_page_message)

    def on_event(self, handler: Callable[[dict, list], None]) -> None:
        """Call ``handler(message, buffers)`` for every event from the page."""
        self._handlers.append(handler)

    def _on_page_message(self, _widget: Any, content: Any, buffers: list) -> None:
        if not isinstance(content, dict):
            return
        for handler in list(self._handlers):
            handler(content, list(buffers or []))

    # -- what the page does, for tests and scripts -----------------------------------------
    def simulate_click(self, index: int) -> None:
        """Act as the page does when the user clicks the point at row ``index``."""
        self._on_page_message(self, {"type": "click", "index": int(index), "n": next(_COUNTER)}, [])

    def simulate_select(
        self, indices: Any, kind: str = "lasso", polygon: list | None = None
    ) -> None:
        """Act as the page does when a box or lasso selects rows ``indices``."""
        rows = np.asarray(indices, dtype=np.uint32)
        message = {"type": "select", "kind": kind, "polygon": polygon, "count": len(rows)}
        self._on_page_message(self, message, [memoryview(rows.tobytes())])

    def simulate_deselect(self) -> None:
        """Act as the page does on a double click or Escape (clears the selection)."""
        self._on_page_message(self, {"type": "deselect"}, [])

    def simulate_hover(self, index: int) -> None:
        """Act as the page does when the mouse rests on row ``index`` (-1: on nothing)."""
        self._on_page_message(self, {"type": "hover", "index": int(index)}, [])


class EmbeddingScatter(View):
    """WebGL scatter of every sample's 2-D projection, linked to a :class:`Selection`.

    Parameters
    ----------
    store : Store or ViewData
        The store to show.
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Shared selection: highlighted here; box/lasso writes it; a click focuses.
    color_by : str
        ``"label"`` (current), ``"given"``, ``"predicted"``, ``"correct"``, ``"issue"`` or
        ``"slice:<column>"`` for a categorical metadata column.
    height, width : int
        Plot size in pixels.
    point_size : float, optional
        Point size in pixels (default: by the number of points, 5 px at 10k to 2 px at 1M).

    Attributes
    ----------
    canvas : ScatterCanvas
        The WebGL front-end (CSS class ``ea-scatter`` on the view; in the page the
        ``.ea-scatter`` element offers ``eaPointPosition(sampleId)``, see the README).
    xy : numpy.ndarray or None
        ``(N, 2)`` float32 layout in the store's coordinates (``None`` before a scan).
    positions : numpy.ndarray or None
        The same, normalised to [-1, 1] as the page draws them.
    """

    view_name = "scatter"
    css_class = "ea-scatter"

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        color_by: str = "label",
        height: int = 420,
        width: int = 560,
        point_size: float | None = None,
    ) -> None:
        super().__init__(store, run, selection)
        data = self.data
        options = [("current label", "label"), ("given label", "given")]
        if data.pred_codes is not None:
            options += [("predicted", "predicted"), ("correct / wrong", "correct")]
        if data.has("is_label_issue") or data.has("is_outlier"):
            options.append(("issue", "issue"))
        options += [(f"slice: {c}", f"slice:{c}") for c in self._slice_columns()]
        values = [v for _, v in options]
        if color_by not in values:
            raise ValueError(f"cannot colour the scatter by {color_by!r}; choose one of {values}")
        self.color_by = widgets.Dropdown(
            options=options,
            value=color_by,
            description="colour",
            layout=widgets.Layout(width="200px"),
        )
        self.color_by.observe(lambda _: self._recolour(), "value")
        self.legend = widgets.HTML()
        self.legend.add_class("ea-scatter-legend")
        self._hover_callbacks: list[Callable[[str | None], Any]] = []
        self.hovered: str | None = None
        self.canvas = ScatterCanvas(
            width=int(width),
            height=int(height),
            point_size=float(point_size or default_point_size(data.num_samples)),
            performance_mode=data.num_samples > 500_000,
        )
        self.canvas.on_event(self.guard(self._on_page_event))
        self.children = [self.message, widgets.HBox([self.color_by, self.legend]), self.canvas]
        self.xy: np.ndarray | None = None
        self.positions: np.ndarray | None = None
        self.load_positions()

    # -- building ------------------------------------------------------------------------
    def load_positions(self) -> None:
        """(Re)send the layout from the data's ``x``, ``y`` columns (after a new projection)."""
        data = self.data
        if not data.has("x", "y"):
            self.show_message(f"No 2-D projection (x, y) yet: {SCAN_HINT}.")
            self.xy = self.positions = None
            self.canvas.positions = b""
            return
        self.show_message(None)
        self.xy = np.column_stack(
            [
                pd.to_numeric(data.frame[c], errors="coerce").to_numpy(np.float32, na_value=np.nan)
                for c in ("x", "y")
            ]
        )
        self.positions = normalize_positions(self.xy)
        with self.canvas.hold_sync():
            self._recolour()
            # planar (x then y): the page takes both columns as views of one buffer, no copy
            self.canvas.positions = np.ascontiguousarray(self.positions.T).tobytes()
            self._show_selection(self.selected_rows())
            self._show_focus(self.data.position(self.selection.focused))

    def set_positions(self, xy: Any) -> None:
        """Show a new layout: ``xy`` (N, 2) in the store's sample order (e.g. UMAP landing)."""
        xy = np.asarray(xy, dtype=np.float32)
        if xy.shape != (self.data.num_samples, 2):
            raise ValueError(f"positions must be ({self.data.num_samples}, 2), got {xy.shape}")
        self.data.frame["x"], self.data.frame["y"] = xy[:, 0], xy[:, 1]
        self.load_positions()

    def _slice_columns(self) -> list[str]:
        frame = self.data.frame
        out = []
        skip = {
            "sample_id",
            "path",
            "label",
            "given_label",
            "predicted_label",
            "suggested_label",
            "flags",
        }
        for column in frame.columns:
            if column in skip or column.startswith("_"):
                continue
            series = frame[column]
            if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(
                series.dtype
            ):
                continue
            try:
                uniques = series.nunique(dropna=True)
            except TypeError:  # unhashable cells (lists)
                continue
            if 1 < uniques <= 40:
                out.append(str(column))
        return out

    # -- colours -------------------------------------------------------------------------
    def category_codes(self) -> tuple[np.ndarray, list[str], list[str]]:
        """Per-sample category code for the current colouring, with names and colours."""
        data, mode = self.data, self.color_by.value
        if mode in ("label", "given", "predicted"):
            codes = {
                "label": data.label_codes,
                "given": data.given_codes,
                "predicted": data.pred_codes,
            }[mode]
            names = list(data.classes)
            colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(names))]
            if mode != "predicted" and (codes < 0).any():
                codes = np.where(codes < 0, len(names), codes)
                names, colours = [*names, UNLABELLED], [*colours, "#bdbdbd"]
        elif mode == "correct":
            codes = (data.pred_codes != data.label_codes).astype(np.int32)
            names, colours = ["correct", "wrong"], list(_CORRECT_COLOURS)
            if (data.label_codes < 0).any():
                codes = np.where(data.label_codes < 0, 2, codes)
                names, colours = [*names, UNLABELLED], [*colours, "#bdbdbd"]
        elif mode == "issue":
            frame = data.frame
            codes = np.zeros(data.num_samples, dtype=np.int32)
            for value, column in (
                (3, "is_near_duplicate"),
                (2, "is_outlier"),
                (1, "is_label_issue"),
            ):
                if column in frame.columns:
                    codes[frame[column].fillna(False).to_numpy(dtype=bool)] = value
            names, colours = list(_ISSUE_NAMES), list(_ISSUE_COLOURS)
        else:
            column = mode.split(":", 1)[1]
            cat = pd.Categorical(data.frame[column].astype("object"))
            codes = np.asarray(cat.codes, dtype=np.int32)
            names = [str(c) for c in cat.categories]
            colours = [_PALETTE[i % len(_PALETTE)] for i in range(len(names))]
        return np.asarray(codes), names, colours

    def colour_slots(self) -> tuple[np.ndarray, list[str]]:
        """One uint8 colour slot per sample and the palette of slots, for the page.

        Up to 254 categories each get a slot; past that (1,000 ImageNet classes) a slot is a
        colour shared by every category with it, since the palette repeats anyway (and if
        the categories have more than 254 distinct colours, they fold onto the 20-colour
        palette). The last slot is grey, for missing or unknown values.
        """
        codes, names, colours = self.category_codes()
        if len(names) < _MAX_SLOTS:
            palette = [*colours, _UNKNOWN]
            slots = np.where(codes < 0, len(names), codes)
        else:
            distinct = list(dict.fromkeys(colours))
            if len(distinct) < _MAX_SLOTS:
                index = {c: i for i, c in enumerate(distinct)}
                slot_of_code = np.asarray([index[c] for c in colours], dtype=np.int64)
            else:  # more distinct colours than a byte names: fold onto the standard palette
                distinct = list(_PALETTE)
                slot_of_code = np.arange(len(names), dtype=np.int64) % len(_PALETTE)
            palette = [*distinct, _UNKNOWN]
            slots = np.where(codes < 0, len(distinct), slot_of_code[np.maximum(codes, 0)])
        return slots.astype(np.uint8), palette

    def _recolour(self) -> None:
        if self.xy is None:
            return
        slots, palette = self.colour_slots()
        with self.canvas.hold_sync():
            self.canvas.palette = palette
            self.canvas.codes = slots.tobytes()
        _, names, colours = self.category_codes()
        swatches = "".join(
            f'<span class="ea-swatch-item"><span class="ea-swatch" style="--ea-swatch:{c}"></span> '
            f"{html.escape(name)}</span>"
            for name, c in list(zip(names, colours, strict=False))[:30]
        )
        more = f" … {len(names) - 30} more" if len(names) > 30 else ""
        self.legend.value = f'<div class="ea-scatter-legend-items">{swatches}{more}</div>'

    @property
    def point_codes(self) -> np.ndarray:
        """The colour slot of every point as the page holds it (uint8)."""
        return np.frombuffer(self.canvas.codes, dtype=np.uint8)

    # -- events from the page ------------------------------------------------------------
    def _on_page_event(self, message: dict, buffers: list) -> None:
        kind = message.get("type")
        if self.xy is None:
            return
        if kind == "click":
            index = int(message.get("index", -1))
            if 0 <= index < self.data.num_samples:
                self.focus_position(index)
        elif kind == "select":
            rows = (
                np.frombuffer(bytes(buffers[0]), dtype=np.uint32).astype(np.int64)
                if buffers
                else np.zeros(0, dtype=np.int64)
            )
            rows = rows[(rows >= 0) & (rows < self.data.num_samples)]
            self.last_polygon = message.get("polygon")
            what = "box" if message.get("kind") == "box" else "lasso"
            self.select_positions(
                np.sort(rows), description=f"{len(rows):,} points from a scatter {what}"
            )
        elif kind == "deselect":
            if len(self.selection):
                self.select_rows(np.zeros(0, dtype=np.int64))
            self.canvas.selected = b""
        elif kind == "hover":
            index = int(message.get("index", -1))
            sid = str(self.data.sample_ids[index]) if 0 <= index < self.data.num_samples else None
            self.hovered = sid
            for callback in list(self._hover_callbacks):
                callback(sid)
        elif kind == "need_ids":
            ids = self.data.sample_ids.astype(str)
            self.canvas.send({"type": "ids"}, buffers=["\0".join(ids).encode("utf-8")])
        elif kind == "error":
            self.show_message(f"The scatter failed in the page: {message.get('message')}")

    last_polygon: list | None = None

    def on_hover(self, callback: Callable[[str | None], Any]) -> None:
        """Call ``callback(sample_id or None)`` when the mouse rests on a point (or leaves).

        Turns hover events on (they cost a scan of the positions in the page per rest, and one
        small message). Set ``scatter.canvas.tooltip`` to HTML (a thumbnail, say) in the
        callback to show it beside the point.
        """
        self._hover_callbacks.append(callback)
        self.canvas.hover_enabled = True

    def focus_position(self, position: int) -> None:
        """Focus the sample at row ``position`` (as a click on its point does)."""
        sid = str(self.data.sample_ids[position])
        # Focus first: the inspector's messages then reach the page before the ring moves.
        self.selection.focus(sid, source=self.view_name)
        self._show_focus(position)

    def select_positions(self, positions: np.ndarray, description: str = "") -> None:
        """Select the samples at row ``positions`` (as a box or lasso does)."""
        positions = np.asarray(positions, dtype=np.int64)
        self._show_selection(positions)
        self.select_rows(positions, description=description)

    # -- highlights ----------------------------------------------------------------------
    def _show_selection(self, positions: np.ndarray) -> None:
        if self.xy is None:
            return
        self.canvas.selected = np.asarray(positions, dtype=np.uint32).tobytes()

    def _show_focus(self, position: int | None) -> None:
        if self.xy is None:
            return
        self.canvas.focused = -1 if position is None else int(position)

    @property
    def selected_positions(self) -> np.ndarray:
        """Rows highlighted in the page (int64)."""
        return np.frombuffer(self.canvas.selected, dtype=np.uint32).astype(np.int64)

    @property
    def focus_marker(self) -> tuple[float, float] | None:
        """Layout coordinates of the focused point's ring, or None when nothing is focused."""
        if self.xy is None or self.canvas.focused < 0:
            return None
        x, y = self.xy[self.canvas.focused]
        return float(x), float(y)

    def on_selection(self, positions: np.ndarray, source: str) -> None:
        self._show_selection(positions)

    def on_focus(self, sample_id: str | None, source: str) -> None:
        self._show_focus(self.data.position(sample_id))

    def on_change(self, change: Change) -> None:
        if self.xy is None or len(change.label_positions) == 0:
            return
        if self.color_by.value in ("label", "correct"):
            self._recolour()
