"""Embedding scatter view: the run's 2-D projection (``x``, ``y``) as a plotly Scattergl.

Colour by given label, current label, prediction, correct vs wrong, issue type or a metadata
slice; click a point → focus; box or lasso → selection. The FigureWidget is made once and only
mutated inside ``batch_update()`` with float32 / uint8 / uint16 arrays (binary buffers, never
lists or int64). Past ``max_points`` samples the view degrades gracefully: a density heatmap of
all points underneath, and the suspects (label issues, outliers, wrong predictions, at most
``max_points``) as clickable points on top; a box selection still selects every point in the box.
"""

from __future__ import annotations

import html
from types import SimpleNamespace
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import SCAN_HINT, UNLABELLED, Change
from erroranalysis.widgets._plotly_relay import PlotlyEventRelay
from erroranalysis.widgets.selection import Selection

__all__ = ["EmbeddingScatter"]

_PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
]  # fmt: skip
_ISSUE_NAMES = ["no issue", "label issue", "outlier", "near-duplicate"]
_ISSUE_COLOURS = ["#9e9e9e", "#d62728", "#ff7f0e", "#9467bd"]
_CORRECT_COLOURS = ["#2ca02c", "#d62728"]


def _colorscale(colours: list[str]) -> list[list]:
    """A stepped colorscale mapping integer code i (cmin=-0.5, cmax=n-0.5) to colours[i]."""
    n = len(colours)
    if n == 1:
        return [[0.0, colours[0]], [1.0, colours[0]]]
    scale = []
    for i, colour in enumerate(colours):
        scale.append([i / n, colour])
        scale.append([(i + 1) / n, colour])
    return scale


def _in_polygon(xy: np.ndarray, xs: Any, ys: Any) -> np.ndarray:
    """Which points ``xy`` lie inside the polygon (``xs``, ``ys``): even-odd ray casting."""
    px = np.asarray(xs, dtype=np.float64)
    py = np.asarray(ys, dtype=np.float64)
    x, y = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
    inside = np.zeros(len(xy), dtype=bool)
    j = len(px) - 1
    for i in range(len(px)):
        crosses = (py[i] > y) != (py[j] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (px[j] - px[i]) * (y - py[i]) / (py[j] - py[i]) + px[i]
        inside ^= crosses & (x < at)
        j = i
    return inside


def _small_int(codes: np.ndarray, n: int) -> np.ndarray:
    """Codes as uint8 (or uint16 past 255 categories): binary buffers, never int64."""
    codes = np.where(codes < 0, n, codes)  # unknown → an extra grey category
    return codes.astype(np.uint8 if n < 255 else np.uint16)


class EmbeddingScatter(View):
    """Scattergl of the projection, linked to a :class:`Selection`.

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
    max_points : int
        Above this many samples, draw a density background plus the suspects only.
    height, width : int
        Figure size in pixels.

    Attributes
    ----------
    figure : plotly.graph_objects.FigureWidget
        The one figure (CSS class ``ea-scatter`` on the view).
    """

    view_name = "scatter"
    css_class = "ea-scatter"
    #: Up to this many points, hovering shows the sample id.
    hover_limit = 20_000

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        color_by: str = "label",
        max_points: int = 100_000,
        height: int = 420,
        width: int = 560,
    ) -> None:
        super().__init__(store, run, selection)
        import plotly.graph_objects as go

        self.max_points = int(max_points)
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
            layout=widgets.Layout(width="260px"),
        )
        self.color_by.observe(lambda _: self._recolour(), "value")
        self.legend = widgets.HTML()
        self.legend.add_class("ea-scatter-legend")
        self.figure = go.FigureWidget()
        self.figure.layout.update(
            height=int(height),
            width=int(width),
            margin={"l": 10, "r": 10, "t": 10, "b": 10},
            paper_bgcolor="rgba(0,0,0,0)",
            plot_bgcolor="rgba(0,0,0,0)",
            font={"color": "#888"},
            showlegend=False,
            uirevision="ea",
            xaxis={"showgrid": False, "zeroline": False, "showticklabels": False},
            yaxis={"showgrid": False, "zeroline": False, "showticklabels": False},
            hovermode="closest",
            clickmode="event",
        )
        self.children = [self.message, widgets.HBox([self.color_by, self.legend]), self.figure]
        self.point_positions: np.ndarray = np.zeros(0, dtype=np.int64)
        self.degraded = False
        if not data.has("x", "y"):
            self.show_message(f"No 2-D projection (x, y) yet: {SCAN_HINT}.")
            self.xy = None
            return
        self.xy = np.column_stack(
            [
                pd.to_numeric(data.frame["x"], errors="coerce").to_numpy(
                    np.float32, na_value=np.nan
                ),
                pd.to_numeric(data.frame["y"], errors="coerce").to_numpy(
                    np.float32, na_value=np.nan
                ),
            ]
        )
        self._build(go)

    # -- building ------------------------------------------------------------------------
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

    def _suspects(self) -> np.ndarray:
        data, frame = self.data, self.data.frame
        mask = np.zeros(data.num_samples, dtype=bool)
        for column in ("is_label_issue", "is_outlier", "is_near_duplicate"):
            if column in frame.columns:
                mask |= frame[column].fillna(False).to_numpy(dtype=bool)
        wrong = data.wrong()
        if wrong is not None:
            mask |= wrong
        positions = np.flatnonzero(mask)
        if len(positions) > self.max_points:
            order = "label_quality" if "label_quality" in frame.columns else None
            if order is not None:
                q = frame[order].to_numpy(np.float64, na_value=np.inf)[positions]
                positions = np.sort(positions[np.argsort(q, kind="stable")[: self.max_points]])
            else:
                positions = positions[: self.max_points]
        return positions.astype(np.int64)

    def _build(self, go: Any) -> None:
        n = self.data.num_samples
        fig = self.figure
        traces = []
        if n > self.max_points:
            self.degraded = True
            finite = np.isfinite(self.xy).all(axis=1)
            counts, xedges, yedges = np.histogram2d(
                self.xy[finite, 0], self.xy[finite, 1], bins=200
            )
            traces.append(
                go.Heatmap(
                    z=np.log1p(counts.T).astype(np.float32),
                    x=((xedges[:-1] + xedges[1:]) / 2).astype(np.float32),
                    y=((yedges[:-1] + yedges[1:]) / 2).astype(np.float32),
                    colorscale=[[0, "rgba(128,128,128,0)"], [1, "rgba(128,128,128,0.9)"]],
                    showscale=False,
                    hoverinfo="skip",
                    name="density",
                )
            )
            self.point_positions = self._suspects()
            self.show_message(
                f"{n:,} samples: showing their density, and the {len(self.point_positions):,} "
                "suspects (issues and wrong predictions) as points; a box selects every point."
            )
        else:
            self.point_positions = np.arange(n, dtype=np.int64)
        self._identity = not self.degraded
        pts = self.xy[self.point_positions]
        marker_size = 4 if len(pts) > 20_000 else 6
        hover: dict[str, Any] = {"hoverinfo": "none"}
        if len(pts) <= self.hover_limit:  # sample ids on hover (sent once; ids never change)
            hover = {
                "text": self.data.sample_ids[self.point_positions].tolist(),
                "hovertemplate": "%{text}<extra></extra>",
            }
        traces.append(
            go.Scattergl(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="markers",
                marker={"size": marker_size, "opacity": 0.8},
                name="samples",
                **hover,
            )
        )
        traces.append(
            go.Scattergl(
                x=np.zeros(0, np.float32),
                y=np.zeros(0, np.float32),
                mode="markers",
                marker={
                    "size": marker_size + 5,
                    "color": "rgba(0,0,0,0)",
                    "line": {"width": 1.5, "color": "#ff9800"},
                },
                hoverinfo="none",
                name="selection",
            )
        )
        with fig.batch_update():
            fig.add_traces(traces)
        base = 1 if self.degraded else 0
        self.points_trace, self.selection_trace = fig.data[base], fig.data[base + 1]
        # The focused point is a layout shape, not a trace: restyling any Scattergl trace makes
        # plotly redraw the whole WebGL scene (100-600 ms for 10k points in software GL, measured
        # in the browser test), which delayed the inspector's image; a shape relayout does not.
        finite = self.xy[np.isfinite(self.xy).all(axis=1)]
        spans = np.ptp(finite, axis=0) if len(finite) else np.ones(2, np.float32)
        self._focus_radius = (float(spans[0]) * 0.012 or 0.01, float(spans[1]) * 0.012 or 0.01)
        # Clicks and selections come through the relay, not FigureWidget's own callbacks, which
        # share one trait with hover events and lose clicks to them (see _plotly_relay).
        self.relay = PlotlyEventRelay(layout=widgets.Layout(height="0px", overflow="hidden"))
        self.relay.observe(self._on_relay_event, "event")
        self.children = [*self.children, self.relay]
        self._recolour()
        if self.selection.sample_ids:
            self.on_selection(self.selection.sample_ids, self.selection.source)
        if self.selection.focused:
            self.on_focus(self.selection.focused, self.selection.focus_source)

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

    def _recolour(self) -> None:
        if self.xy is None:
            return
        codes, names, colours = self.category_codes()
        n = len(names)
        palette = [*colours, "#bdbdbd"]  # the extra grey is for unknown codes
        small = _small_int(codes[self.point_positions], n)
        with self.figure.batch_update():
            marker = self.points_trace.marker
            marker.color = small
            marker.colorscale = _colorscale(palette)
            marker.cmin = -0.5
            marker.cmax = n + 0.5
        self._codes_cache = codes
        swatches = "".join(
            f'<span style="white-space:nowrap;margin-right:8px;"><span style="display:inline-block;'
            f'width:10px;height:10px;border-radius:5px;background:{c};"></span> {html.escape(name)}</span>'
            for name, c in list(zip(names, colours, strict=False))[:30]
        )
        more = f" … {n - 30} more" if n > 30 else ""
        self.legend.value = f'<div style="font-size:11px;line-height:1.6;">{swatches}{more}</div>'

    # -- clicks and selections -----------------------------------------------------------
    def _row_of_point(self, index: int) -> int:
        return int(self.point_positions[int(index)])

    def _on_relay_event(self, change: dict[str, Any]) -> None:
        event = change["new"] or {}
        kind = event.get("type")
        traces = list(self.figure.data)
        points_index = traces.index(self.points_trace)
        selection_index = traces.index(self.selection_trace)
        pairs = [(int(trace), int(point)) for trace, point in event.get("points") or []]
        if kind == "click":
            # ignore clicks on traces with no points of ours (the density background)
            for trace, point in pairs:
                if trace == points_index:
                    self.focus_position(self._row_of_point(point))
                    return
                if trace == selection_index and point < len(self._overlay_positions):
                    self.focus_position(int(self._overlay_positions[point]))
                    return
        elif kind == "selected":
            selector = None
            if event.get("range"):
                selector = SimpleNamespace(
                    type="box", xrange=event["range"]["x"], yrange=event["range"]["y"]
                )
            elif event.get("lasso"):
                selector = SimpleNamespace(
                    type="lasso", xs=event["lasso"]["x"], ys=event["lasso"]["y"]
                )
            inds = [point for trace, point in pairs if trace == points_index]
            self._on_points_selected(SimpleNamespace(point_inds=inds), selector)
        elif kind == "deselect":
            self._on_deselect()

    def focus_position(self, position: int) -> None:
        """Focus the sample at row ``position`` (as a click on its point does)."""
        sid = str(self.data.sample_ids[position])
        # Focus first: the inspector's messages then reach the page before the marker moves.
        self.selection.focus(sid, source=self.view_name)
        self._show_focus(position)

    def _on_points_selected(self, points: Any, selector: Any) -> None:
        positions = self.point_positions[np.asarray(points.point_inds, dtype=np.int64)]
        if self.degraded and selector is not None:
            positions = self._in_selector(selector, positions)
        if len(positions) == 0 and selector is None:
            return
        self.select_positions(positions, description=f"{len(positions)} points from the scatter")

    def _in_selector(self, selector: Any, fallback: np.ndarray) -> np.ndarray:
        """Every sample inside a box (all points, not only the drawn suspects) or lasso."""
        x, y = self.xy[:, 0], self.xy[:, 1]
        if getattr(selector, "type", "") == "box":
            (x0, x1), (y0, y1) = sorted(selector.xrange), sorted(selector.yrange)
            return np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        if getattr(selector, "type", "") == "lasso":
            return np.flatnonzero(_in_polygon(self.xy, selector.xs, selector.ys))
        return fallback

    def select_positions(self, positions: np.ndarray, description: str = "") -> None:
        """Select the samples at row ``positions`` (as a box or lasso does)."""
        positions = np.asarray(positions, dtype=np.int64)
        self._show_selection(positions)
        self.selection.select(
            self.data.ids_at(positions), source=self.view_name, description=description
        )

    def _on_deselect(self) -> None:
        self._show_selection(np.zeros(0, dtype=np.int64))
        self.selection.select((), source=self.view_name)

    # -- highlights ----------------------------------------------------------------------
    _overlay_positions = np.zeros(0, dtype=np.int64)

    def _show_selection(self, positions: np.ndarray) -> None:
        if self.xy is None:
            return
        positions = positions[: self.max_points]
        self._overlay_positions = positions
        pts = self.xy[positions]
        with self.figure.batch_update():
            self.selection_trace.x = pts[:, 0]
            self.selection_trace.y = pts[:, 1]

    def _show_focus(self, position: int | None) -> None:
        if self.xy is None:
            return
        if position is None or not np.isfinite(self.xy[position]).all():
            self.figure.layout.shapes = ()
            return
        x, y = (float(value) for value in self.xy[position])
        rx, ry = self._focus_radius
        self.figure.layout.shapes = (
            {
                "type": "circle",
                "xref": "x",
                "yref": "y",
                "x0": x - rx,
                "x1": x + rx,
                "y0": y - ry,
                "y1": y + ry,
                "line": {"color": "#000", "width": 2},
                "fillcolor": "rgba(255, 214, 0, 0.6)",
                "layer": "above",
            },
        )

    @property
    def focus_marker(self) -> tuple[float, float] | None:
        """Data coordinates of the focused-point marker, or None when nothing is focused."""
        if not self.figure.layout.shapes:
            return None
        shape = self.figure.layout.shapes[0]
        return ((shape.x0 + shape.x1) / 2, (shape.y0 + shape.y1) / 2)

    def on_selection(self, ids: tuple[str, ...], source: str) -> None:
        self._show_selection(self.data.positions(ids))

    def on_focus(self, sample_id: str | None, source: str) -> None:
        self._show_focus(self.data.position(sample_id))

    def on_change(self, change: Change) -> None:
        if self.xy is None or len(change.label_positions) == 0:
            return
        if self.color_by.value not in ("label", "correct"):
            return
        codes, names, _ = self.category_codes()
        small = _small_int(codes[self.point_positions], len(names))
        with self.figure.batch_update():
            self.points_trace.marker.color = small
