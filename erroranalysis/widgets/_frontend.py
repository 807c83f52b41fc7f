"""Small anywidget front-ends used by the views: a clickable heatmap table, a thumbnail grid, a
sortable table and a keyboard listener.

They use plain DOM events (no plotly), so a click always reaches Python: the front-end writes
``clicked = {..., "n": <counter>}`` and saves; Python observes ``clicked``. Tests simulate a click
by calling :meth:`_ClickMixin.simulate_click`, which sets the same trait.

Colours come from JupyterLab's CSS variables, so the views follow the light and dark themes.
"""

from __future__ import annotations

import itertools

import anywidget
import traitlets

__all__ = ["GridWidget", "HeatmapWidget", "KeysWidget", "TableWidget", "ZoomWidget"]

_COUNTER = itertools.count(1)

_BASE_CSS = """
.ea-root { font-family: var(--jp-ui-font-family, sans-serif); font-size: var(--jp-ui-font-size1, 13px);
  color: var(--jp-ui-font-color1, #222); background: var(--jp-layout-color1, #fff); }
.ea-root .ea-muted { color: var(--jp-ui-font-color2, #666); }
"""


class _ClickMixin(traitlets.HasTraits):
    clicked = traitlets.Dict(allow_none=True).tag(sync=True)

    def simulate_click(self, **payload: object) -> None:
        """Act as the front-end does on a click (used by tests and scripted demos)."""
        self.clicked = {**payload, "n": next(_COUNTER)}


class HeatmapWidget(_ClickMixin, anywidget.AnyWidget):
    """A K×K table of cells coloured by ``shades`` (0..1), showing ``texts``; click → ``clicked``."""

    _esm = """
    function render({ model, el }) {
      el.classList.add("ea-root", "ea-heatmap");
      function draw() {
        const rows = model.get("row_labels"), cols = model.get("col_labels");
        const texts = model.get("texts"), shades = model.get("shades");
        const sel = model.get("selected_cell") || [];
        el.innerHTML = "";
        const cap = document.createElement("div");
        cap.className = "ea-heatmap-caption ea-muted";
        cap.textContent = model.get("caption");
        el.appendChild(cap);
        const t = document.createElement("table");
        t.className = "ea-heatmap-table";
        const head = t.insertRow();
        const corner = document.createElement("th");
        corner.className = "ea-heatmap-corner";
        corner.textContent = model.get("row_title") + " \\\\ " + model.get("col_title");
        head.appendChild(corner);
        cols.forEach((c, j) => {
          const th = document.createElement("th");
          th.className = "ea-heatmap-col"; th.title = c;
          const s = document.createElement("span"); s.textContent = c; th.appendChild(s);
          head.appendChild(th);
        });
        rows.forEach((r, i) => {
          const tr = t.insertRow();
          const th = document.createElement("th");
          th.className = "ea-heatmap-row"; th.textContent = r; th.title = r;
          tr.appendChild(th);
          cols.forEach((c, j) => {
            const td = tr.insertCell();
            const v = (shades[i] || [])[j] || 0;
            const diag = (i === j) && model.get("diagonal");
            td.className = "ea-cell" + (diag ? " ea-cell-diag" : "") +
              (sel[0] === i && sel[1] === j ? " ea-cell-selected" : "");
            td.dataset.row = i; td.dataset.col = j;
            td.textContent = (texts[i] || [])[j];
            td.title = r + " → " + c + ": " + td.textContent;
            const rgb = diag ? "31,119,180" : "214,39,40";
            td.style.background = "rgba(" + rgb + "," + (0.08 + 0.85 * v).toFixed(3) + ")";
            if (v > 0.55) td.style.color = "#fff";
          });
        });
        el.appendChild(t);
      }
      el.addEventListener("click", (e) => {
        const td = e.target.closest("td.ea-cell");
        if (!td || !el.contains(td)) return;
        model.set("clicked", { row: Number(td.dataset.row), col: Number(td.dataset.col), n: Date.now() + Math.random() });
        model.save_changes();
      });
      ["row_labels", "col_labels", "texts", "shades", "selected_cell", "caption"].forEach(
        (k) => model.on("change:" + k, draw));
      draw();
    }
    export default { render };
    """
    _css = (
        _BASE_CSS
        + """
    .ea-heatmap-table { border-collapse: collapse; }
    .ea-heatmap-table th { font-weight: normal; color: var(--jp-ui-font-color2, #555);
      padding: 2px 4px; white-space: nowrap; max-width: 9em; overflow: hidden; text-overflow: ellipsis; }
    .ea-heatmap-col { height: 7em; vertical-align: bottom; }
    .ea-heatmap-col span { writing-mode: vertical-rl; transform: rotate(180deg); }
    .ea-heatmap-row { text-align: right; }
    .ea-heatmap-corner { font-size: 10px; vertical-align: bottom; text-align: left; }
    .ea-cell { min-width: 2.6em; height: 2em; text-align: center; cursor: pointer;
      border: 1px solid var(--jp-border-color2, #ddd); color: var(--jp-ui-font-color1, #222);
      font-variant-numeric: tabular-nums; }
    .ea-cell:hover { outline: 2px solid var(--jp-brand-color1, #1976d2); }
    .ea-cell-selected { outline: 3px solid var(--jp-warn-color0, #f57c00) !important; }
    .ea-heatmap-caption { margin: 2px 0 4px 0; }
    """
    )
    row_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    col_labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    texts = traitlets.List().tag(sync=True)
    shades = traitlets.List().tag(sync=True)
    selected_cell = traitlets.List().tag(sync=True)
    diagonal = traitlets.Bool(True).tag(sync=True)
    row_title = traitlets.Unicode("given").tag(sync=True)
    col_title = traitlets.Unicode("predicted").tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)


class GridWidget(_ClickMixin, anywidget.AnyWidget):
    """A grid of thumbnails (``thumbs``: data URLs) with captions and badges (``items``)."""

    _esm = """
    function render({ model, el }) {
      el.classList.add("ea-root", "ea-grid");
      function draw() {
        const thumbs = model.get("thumbs"), items = model.get("items");
        const focused = model.get("focused");
        el.innerHTML = "";
        if (!items.length) {
          const p = document.createElement("div"); p.className = "ea-muted ea-grid-empty";
          p.textContent = model.get("empty_text"); el.appendChild(p); return;
        }
        items.forEach((it, i) => {
          const d = document.createElement("div");
          d.className = "ea-thumb" + (it.sample_id === focused ? " ea-thumb-focused" : "") +
            (it.wrong ? " ea-thumb-wrong" : "") + (it.relabeled ? " ea-thumb-relabeled" : "");
          d.dataset.sampleId = it.sample_id; d.title = it.tooltip || it.sample_id;
          const src = thumbs[i];
          if (src) { const img = document.createElement("img"); img.src = src; img.draggable = false; d.appendChild(img); }
          else { const ph = document.createElement("div"); ph.className = "ea-thumb-placeholder"; ph.textContent = "no image"; d.appendChild(ph); }
          const cap = document.createElement("div"); cap.className = "ea-thumb-caption"; cap.textContent = it.caption; d.appendChild(cap);
          const b = document.createElement("div"); b.className = "ea-thumb-badges";
          (it.badges || []).forEach((t) => { const s = document.createElement("span"); s.className = "ea-badge ea-badge-" + t.replace(/[^a-z_]/gi, ""); s.textContent = t; b.appendChild(s); });
          d.appendChild(b);
          el.appendChild(d);
        });
      }
      el.addEventListener("click", (e) => {
        const d = e.target.closest(".ea-thumb");
        if (!d || !el.contains(d)) return;
        model.set("clicked", { sample_id: d.dataset.sampleId, n: Date.now() + Math.random() });
        model.save_changes();
      });
      ["thumbs", "items", "focused", "empty_text"].forEach((k) => model.on("change:" + k, draw));
      draw();
    }
    export default { render };
    """
    _css = (
        _BASE_CSS
        + """
    .ea-grid { display: flex; flex-wrap: wrap; gap: 6px; min-height: 40px; }
    .ea-thumb { width: var(--ea-thumb-size, 104px); cursor: pointer; border: 2px solid transparent;
      border-radius: 4px; padding: 2px; background: var(--jp-layout-color2, #f3f3f3); position: relative; }
    .ea-thumb:hover { border-color: var(--jp-brand-color2, #64b5f6); }
    .ea-thumb img { width: 100%; display: block; image-rendering: auto; }
    .ea-thumb-focused { border-color: var(--jp-brand-color1, #1976d2); }
    .ea-thumb-wrong .ea-thumb-caption { color: var(--jp-error-color1, #d32f2f); }
    .ea-thumb-placeholder { height: 80px; display: flex; align-items: center; justify-content: center;
      color: var(--jp-ui-font-color3, #999); font-size: 11px; }
    .ea-thumb-caption { font-size: 11px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .ea-thumb-badges { display: flex; flex-wrap: wrap; gap: 2px; }
    .ea-badge { font-size: 9px; padding: 0 3px; border-radius: 3px; background: var(--jp-layout-color3, #ddd);
      color: var(--jp-ui-font-color1, #222); }
    .ea-badge-label_issue { background: var(--jp-error-color2, #ef9a9a); }
    .ea-badge-outlier { background: var(--jp-warn-color2, #ffcc80); }
    .ea-badge-relabeled { background: var(--jp-success-color2, #a5d6a7); }
    .ea-badge-weak_spot { background: var(--jp-brand-color3, #bbdefb); }
    .ea-grid-empty { padding: 8px; }
    """
    )
    thumbs = traitlets.List(traitlets.Unicode()).tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    focused = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("nothing to show").tag(sync=True)


class TableWidget(_ClickMixin, anywidget.AnyWidget):
    """A table; click a header → ``clicked = {"sort": column}``, a row → ``{"sample_id"|"row": ...}``."""

    _esm = """
    function render({ model, el }) {
      el.classList.add("ea-root", "ea-table");
      function draw() {
        const cols = model.get("columns"), rows = model.get("rows"), ids = model.get("row_ids");
        const sortBy = model.get("sort_by"), desc = model.get("sort_desc"), focused = model.get("focused");
        el.innerHTML = "";
        if (!rows.length) {
          const p = document.createElement("div"); p.className = "ea-muted ea-table-empty";
          p.textContent = model.get("empty_text"); el.appendChild(p); return;
        }
        const t = document.createElement("table");
        const head = t.insertRow();
        cols.forEach((c) => {
          const th = document.createElement("th"); th.dataset.column = c;
          th.textContent = c + (c === sortBy ? (desc ? " ▼" : " ▲") : "");
          head.appendChild(th);
        });
        rows.forEach((r, i) => {
          const tr = t.insertRow(); tr.dataset.row = i; tr.dataset.sampleId = ids[i] || "";
          tr.className = "ea-table-row" + (ids[i] && ids[i] === focused ? " ea-row-focused" : "");
          r.forEach((v) => { const td = tr.insertCell(); td.textContent = v; });
        });
        el.appendChild(t);
      }
      el.addEventListener("click", (e) => {
        const th = e.target.closest("th");
        if (th && el.contains(th)) {
          model.set("clicked", { sort: th.dataset.column, n: Date.now() + Math.random() });
          model.save_changes(); return;
        }
        const tr = e.target.closest("tr.ea-table-row");
        if (!tr || !el.contains(tr)) return;
        model.set("clicked", { row: Number(tr.dataset.row), sample_id: tr.dataset.sampleId, n: Date.now() + Math.random() });
        model.save_changes();
      });
      ["columns", "rows", "row_ids", "sort_by", "sort_desc", "focused", "empty_text"].forEach(
        (k) => model.on("change:" + k, draw));
      draw();
    }
    export default { render };
    """
    _css = (
        _BASE_CSS
        + """
    .ea-table { overflow-x: auto; max-width: 100%; }
    .ea-table table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
    .ea-table th { cursor: pointer; text-align: left; padding: 2px 6px; white-space: nowrap;
      border-bottom: 1px solid var(--jp-border-color1, #bbb); color: var(--jp-ui-font-color2, #555); }
    .ea-table td { padding: 2px 6px; border-bottom: 1px solid var(--jp-border-color3, #eee); white-space: nowrap; }
    .ea-table-row { cursor: pointer; }
    .ea-table-row:hover { background: var(--jp-layout-color2, #f3f3f3); }
    .ea-row-focused { background: var(--jp-brand-color3, #bbdefb) !important; }
    .ea-table-empty { padding: 8px; }
    """
    )
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List().tag(sync=True)
    row_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    sort_desc = traitlets.Bool(False).tag(sync=True)
    focused = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("nothing to show").tag(sync=True)


class KeysWidget(anywidget.AnyWidget):
    """Keyboard shortcuts for the review loop, active while the pointer is over the dashboard.

    The front-end listens for key presses (window, capture phase) while the pointer is over the
    nearest ``.ea-dashboard`` ancestor (and no text field has the focus) and sends ``key = {"key": k, "n": ..}``.
    """

    _esm = """
    function render({ model, el }) {
      el.classList.add("ea-keys");
      // Looked up at key time: when render runs, el may not be attached to the page yet.
      const root = () => el.closest(".ea-dashboard") || el.closest(".ea-inspector") || el;
      const onKey = (e) => {
        if (e.ctrlKey || e.metaKey || e.altKey || !el.isConnected) return;
        const r = root();
        if (!r.matches(":hover")) return;
        const t = e.target;
        if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable)) return;
        if (!new Set(model.get("shortcut_keys")).has(e.key)) return;
        // window capture runs before JupyterLab's document listener: the notebook never sees it
        e.preventDefault(); e.stopPropagation(); e.stopImmediatePropagation();
        model.set("key", { key: e.key, n: Date.now() + Math.random() }); model.save_changes();
      };
      window.addEventListener("keydown", onKey, true);
      el.textContent = model.get("hint");
      return () => window.removeEventListener("keydown", onKey, true);
    }
    export default { render };
    """
    _css = ".ea-keys { font-size: 11px; color: var(--jp-ui-font-color2, #666); }"
    shortcut_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    hint = traitlets.Unicode("").tag(sync=True)
    key = traitlets.Dict(allow_none=True).tag(sync=True)

    def simulate_key(self, key: str) -> None:
        """Act as the front-end does on a key press (used by tests)."""
        self.key = {"key": key, "n": next(_COUNTER)}


class ZoomWidget(anywidget.AnyWidget):
    """An image at its native resolution in a fixed viewport, with pan and zoom.

    Wheel zooms about the pointer, drag pans, double-click (or the ``fit`` button) fits the image
    to the viewport, ``1:1`` shows one image pixel per screen pixel. Pan and zoom are CSS
    transforms in the browser; Python only sends the image once (``src``, a data URL).
    """

    _esm = """
    function render({ model, el }) {
      el.classList.add("ea-zoom");
      const bar = document.createElement("div");
      bar.className = "ea-zoom-bar";
      const view = document.createElement("div");
      view.className = "ea-zoom-view";
      const img = document.createElement("img");
      img.className = "ea-zoom-image";
      img.draggable = false;
      view.appendChild(img);
      const info = document.createElement("span");
      info.className = "ea-zoom-info";
      let s = 1, x = 0, y = 0;
      const apply = () => {
        img.style.transform = `translate(${x}px, ${y}px) scale(${s})`;
        info.textContent = `${model.get("natural_width")}×${model.get("natural_height")} px · ${Math.round(s * 100)}%`;
      };
      const fit = () => {
        const w = img.naturalWidth || 1, h = img.naturalHeight || 1;
        const vw = view.clientWidth || model.get("view_width"), vh = view.clientHeight || model.get("view_height");
        s = Math.min(vw / w, vh / h); x = (vw - w * s) / 2; y = (vh - h * s) / 2; apply();
      };
      const zoomAt = (factor, px, py) => {
        const next = Math.min(64, Math.max(0.01, s * factor));
        x = px - (px - x) * (next / s); y = py - (py - y) * (next / s); s = next; apply();
      };
      const button = (text, cls, action) => {
        const b = document.createElement("button");
        b.textContent = text; b.className = "ea-zoom-" + cls; b.onclick = action; bar.appendChild(b);
      };
      button("fit", "fit", fit);
      button("1:1", "native", () => zoomAt(1 / s, view.clientWidth / 2, view.clientHeight / 2));
      button("+", "in", () => zoomAt(1.5, view.clientWidth / 2, view.clientHeight / 2));
      button("−", "out", () => zoomAt(1 / 1.5, view.clientWidth / 2, view.clientHeight / 2));
      bar.appendChild(info);
      view.addEventListener("wheel", (e) => {
        e.preventDefault();
        const r = view.getBoundingClientRect();
        zoomAt(Math.exp(-e.deltaY * 0.002), e.clientX - r.left, e.clientY - r.top);
      }, { passive: false });
      let drag = null;
      view.addEventListener("pointerdown", (e) => { drag = [e.clientX - x, e.clientY - y]; view.setPointerCapture(e.pointerId); });
      view.addEventListener("pointermove", (e) => { if (drag) { x = e.clientX - drag[0]; y = e.clientY - drag[1]; apply(); } });
      view.addEventListener("pointerup", () => { drag = null; });
      view.addEventListener("dblclick", fit);
      const size = () => {
        view.style.width = model.get("view_width") + "px";
        view.style.height = model.get("view_height") + "px";
      };
      img.onload = fit;
      const load = () => { size(); img.src = model.get("src"); };
      model.on("change:src", load);
      model.on("change:view_width", size);
      model.on("change:view_height", size);
      el.appendChild(bar); el.appendChild(view); load();
    }
    export default { render };
    """
    _css = """
    .ea-zoom-bar { display: flex; gap: 4px; align-items: center; margin-bottom: 2px; font-size: 11px; }
    .ea-zoom-info { color: var(--jp-ui-font-color2, #666); margin-left: 6px; }
    .ea-zoom-view { position: relative; overflow: hidden; cursor: grab; touch-action: none;
      background: var(--jp-layout-color2, #eee); border: 1px solid var(--jp-border-color1, #ccc); }
    .ea-zoom-image { position: absolute; left: 0; top: 0; transform-origin: 0 0;
      image-rendering: pixelated; max-width: none; user-select: none; }
    """
    src = traitlets.Unicode("").tag(sync=True)
    natural_width = traitlets.Int(0).tag(sync=True)
    natural_height = traitlets.Int(0).tag(sync=True)
    view_width = traitlets.Int(480).tag(sync=True)
    view_height = traitlets.Int(360).tag(sync=True)
