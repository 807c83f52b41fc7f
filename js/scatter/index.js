// Front-end of erroranalysis' EmbeddingScatter: an anywidget over regl-scatterplot (WebGL).
//
// Built into erroranalysis/widgets/static/scatter.js by `npm run build` (scripts/build-js.sh).
//
// What travels, and how (see erroranalysis/widgets/scatter.py for the Python side):
// - `positions` (trait, once): float32 x[0..N) then y[0..N), already in [-1, 1];
// - `codes` (trait): one uint8 colour slot per point, `palette` the colours of the slots;
// - `selected` (trait): uint32 row positions highlighted; `focused` (trait): one row or -1;
// - clicks, box / lasso selections, deselects and hovers go to Python as custom messages
//   (`model.send`), never as traits the widget manager could merge.
//
// Clicks are hit-tested here, on the click, against the positions we already hold: the message
// leaves before anything is redrawn. regl-scatterplot's own click handler (which selects the
// point and redraws) and its hover (a redraw per hovered point) are kept away from the canvas,
// because in software WebGL one frame of 1M points takes 1.5-2 s and blocks the page: the
// inspector's image would wait for it. The focus ring is a DOM element over the canvas, so
// moving it needs no WebGL frame either.
import createScatterplot from "regl-scatterplot";

const bytesOf = (value) => {
  if (!value) return new Uint8Array(0);
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return new Uint8Array(0);
};

const typed = (Type, value) => {
  let bytes = bytesOf(value);
  if (bytes.byteOffset % Type.BYTES_PER_ELEMENT) bytes = bytes.slice(); // unaligned: copy
  return new Type(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / Type.BYTES_PER_ELEMENT));
};

const MODES = {
  pan: { mouseMode: "panZoom" },
  lasso: { mouseMode: "lasso", lassoType: "freeform" },
  box: { mouseMode: "lasso", lassoType: "rectangle" },
};

function render({ model, el }) {
  el.classList.add("ea-scatter-canvas");
  const width = model.get("width");
  const height = model.get("height");

  const toolbar = document.createElement("div");
  toolbar.className = "ea-scatter-toolbar";
  const buttons = {};
  for (const [mode, label, title] of [
    ["pan", "pan / zoom", "drag to pan, wheel to zoom, click a point to inspect it"],
    ["lasso", "lasso", "draw around points to select them (or shift + drag in any mode)"],
    ["box", "box", "drag a rectangle to select the points inside"],
  ]) {
    const b = document.createElement("button");
    b.className = `ea-scatter-mode ea-scatter-mode-${mode}`;
    b.dataset.mode = mode;
    b.textContent = label;
    b.title = title;
    b.addEventListener("click", () => {
      model.set("mouse_mode", mode);
      model.save_changes();
    });
    buttons[mode] = b;
    toolbar.appendChild(b);
  }
  const reset = document.createElement("button");
  reset.className = "ea-scatter-reset";
  reset.textContent = "reset view";
  toolbar.appendChild(reset);
  const status = document.createElement("span");
  status.className = "ea-scatter-status";
  toolbar.appendChild(status);

  const frame = document.createElement("div");
  frame.className = "ea-scatter-frame";
  // the size is data (traits); the stylesheet (erroranalysis.css) does the rest
  frame.style.setProperty("--ea-scatter-width", `${width}px`);
  frame.style.setProperty("--ea-scatter-height", `${height}px`);
  const canvas = document.createElement("canvas");
  canvas.className = "ea-scatter-gl";
  frame.appendChild(canvas);
  const ring = document.createElement("div");
  ring.className = "ea-scatter-focus";
  frame.appendChild(ring);
  const tip = document.createElement("div");
  tip.className = "ea-scatter-tooltip";
  frame.appendChild(tip);
  el.append(toolbar, frame);

  const report = (error) => {
    const message = String((error && error.message) || error);
    console.error("[erroranalysis scatter]", error);
    status.textContent = `error: ${message}`;
    model.send({ type: "error", message });
  };

  let api;
  try {
    api = createScatterplot({
      canvas,
      width,
      height,
      pointSize: model.get("point_size"),
      pointSizeSelected: 1,
      pointColorActive: model.get("selection_color") || "#000000",
      pointOutlineWidth: 1,
      opacityInactiveMax: 0.35,
      backgroundColor: [1, 1, 1, 0],
      lassoColor: [0.9, 0.45, 0, 1],
      lassoMinDelay: 8,
      lassoMinDist: 2,
      deselectOnDblClick: true,
      deselectOnEscape: true,
      performanceMode: model.get("performance_mode"),
    });
  } catch (error) {
    report(error);
    return () => {};
  }

  // -- state --------------------------------------------------------------------------------
  let n = 0;
  let xs = new Float32Array(0);
  let ys = new Float32Array(0);
  let rows = [];
  let anchors = null; // rows with the extreme x and y: they give the data -> screen mapping
  let spatialIndex;
  let drawn = false;
  let chain = Promise.resolve();
  let clicks = 0;
  let lassoPolygon = null;
  let idIndex = null;
  let idsWaiting = [];
  let idsRequested = false;

  const queue = (step) => {
    chain = chain.then(step).catch(report);
    return chain;
  };

  const palette = () => {
    const colours = model.get("palette") || [];
    return colours.length ? colours : ["#808080"];
  };

  const findAnchors = () => {
    let ix0 = -1, ix1 = -1, iy0 = -1, iy1 = -1;
    for (let i = 0; i < n; i++) {
      const x = xs[i], y = ys[i];
      if (!(Number.isFinite(x) && Number.isFinite(y))) continue;
      if (ix0 < 0 || x < xs[ix0]) ix0 = i;
      if (ix1 < 0 || x > xs[ix1]) ix1 = i;
      if (iy0 < 0 || y < ys[iy0]) iy0 = i;
      if (iy1 < 0 || y > ys[iy1]) iy1 = i;
    }
    anchors = ix0 < 0 ? null : { ix0, ix1, iy0, iy1 };
  };

  // screen = k * data + b per axis (regl-scatterplot's camera here never rotates)
  const mapping = () => {
    if (!anchors || !drawn) return null;
    const { ix0, ix1, iy0, iy1 } = anchors;
    const a = api.getScreenPosition(ix0), b = api.getScreenPosition(ix1);
    const c = api.getScreenPosition(iy0), d = api.getScreenPosition(iy1);
    const dx = xs[ix1] - xs[ix0], dy = ys[iy1] - ys[iy0];
    let kx = dx > 0 ? (b[0] - a[0]) / dx : NaN;
    let ky = dy > 0 ? (d[1] - c[1]) / dy : NaN;
    if (!Number.isFinite(kx)) kx = Number.isFinite(ky) ? -ky : width / 2;
    if (!Number.isFinite(ky)) ky = -kx;
    return { kx, bx: a[0] - kx * xs[ix0], ky, by: c[1] - ky * ys[iy0] };
  };

  // The point under canvas pixel (cx, cy): the nearest within `radius` pixels, else -1.
  // A plain scan of the float32 columns: about 2-4 ms for 1M points, no index to build or keep.
  const nearest = (cx, cy, radius) => {
    const m = mapping();
    if (!m) return -1;
    const { kx, bx, ky, by } = m;
    const xa = (cx - radius - bx) / kx, xb = (cx + radius - bx) / kx;
    const ya = (cy - radius - by) / ky, yb = (cy + radius - by) / ky;
    const xlo = Math.min(xa, xb), xhi = Math.max(xa, xb);
    const ylo = Math.min(ya, yb), yhi = Math.max(ya, yb);
    let best = -1;
    let bestD = radius * radius;
    for (let i = 0; i < n; i++) {
      const x = xs[i];
      if (x < xlo || x > xhi) continue;
      const y = ys[i];
      if (y < ylo || y > yhi) continue;
      const ex = x * kx + bx - cx, ey = y * ky + by - cy;
      const dd = ex * ex + ey * ey;
      if (dd <= bestD) { // ties: the later point, drawn on top
        bestD = dd;
        best = i;
      }
    }
    return best;
  };

  const hitRadius = () => Math.max(6, model.get("point_size") + 3);

  const canvasPosition = (i) => {
    if (!drawn || !(i >= 0 && i < n) || !Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) return null;
    const [x, y] = api.getScreenPosition(i);
    if (!(x >= 0 && y >= 0 && x <= width && y <= height)) return null;
    return [x, y];
  };

  const placeRing = () => {
    const at = canvasPosition(model.get("focused"));
    if (!at) {
      ring.style.display = "none";
      return;
    }
    ring.style.left = `${at[0]}px`;
    ring.style.top = `${at[1]}px`;
    ring.style.display = "block";
  };

  const sameSelection = (wanted) => {
    const current = api.get("selectedPoints") || [];
    if (current.length !== wanted.length) return false;
    const a = Uint32Array.from(current).sort();
    const b = Uint32Array.from(wanted).sort();
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  };

  const applySelection = () => {
    if (!drawn) return;
    const wanted = typed(Uint32Array, model.get("selected"));
    if (sameSelection(wanted)) return;
    if (wanted.length === 0) api.deselect({ preventEvent: true });
    else api.select(Array.from(wanted), { preventEvent: true });
  };

  const setStatus = () => {
    status.textContent = `${n.toLocaleString()} points`;
  };

  const drawAll = (newPositions) =>
    queue(async () => {
      const t0 = performance.now();
      if (newPositions) {
        const pos = typed(Float32Array, model.get("positions"));
        n = Math.floor(pos.length / 2);
        xs = pos.subarray(0, n);
        ys = pos.subarray(n, 2 * n);
        rows = new Array(n);
        findAnchors();
        spatialIndex = undefined;
      }
      const codes = bytesOf(model.get("codes"));
      for (let i = 0; i < n; i++) {
        const row = rows[i];
        const code = i < codes.length ? codes[i] : 0;
        if (row) row[2] = code;
        else rows[i] = [xs[i], ys[i], code];
      }
      api.set({ colorBy: "valueA", pointColor: palette() });
      await api.draw(rows, {
        zDataType: "categorical",
        spatialIndex,
        preventFilterReset: !newPositions,
      });
      spatialIndex = api.get("spatialIndex");
      drawn = n > 0;
      applySelection();
      placeRing();
      setStatus();
      model.set("rendered", { points: n, ms: Math.round(performance.now() - t0), at: Date.now() });
      model.save_changes();
    });

  // -- events from the page ------------------------------------------------------------------
  let down = null;
  frame.addEventListener(
    "mousedown",
    (event) => {
      down = { x: event.clientX, y: event.clientY };
    },
    true,
  );
  // Capture phase on the frame, so regl-scatterplot's click handler on the canvas never runs.
  frame.addEventListener(
    "click",
    (event) => {
      if (event.target !== canvas) return;
      event.stopPropagation();
      if (!down || Math.hypot(event.clientX - down.x, event.clientY - down.y) > 4) return;
      const box = canvas.getBoundingClientRect();
      const index = nearest(event.clientX - box.left, event.clientY - box.top, hitRadius());
      if (index < 0) return;
      clicks += 1;
      model.send({ type: "click", index, n: clicks }); // first: Python answers while we draw the ring
      model.set("focused", index);
      placeRing();
    },
    true,
  );

  // Hover: regl-scatterplot's own hover redraws the scene; keep plain mouse moves from it (drags
  // still pass, for panning and lassos) and, when Python asks for hovers, find the point here.
  let hoverAt = 0;
  let hovered = -1;
  let hoverTimer = null;
  const hoverAtPosition = (cx, cy) => {
    const index = nearest(cx, cy, hitRadius());
    if (index === hovered) return;
    hovered = index;
    if (index < 0) tip.style.display = "none";
    el.dispatchEvent(new CustomEvent("ea-scatter-hover", { detail: { index }, bubbles: true }));
    model.send({ type: "hover", index });
  };
  frame.addEventListener(
    "mousemove",
    (event) => {
      if (event.buttons !== 0) return;
      event.stopPropagation();
      if (!model.get("hover_enabled")) return;
      const box = canvas.getBoundingClientRect();
      const cx = event.clientX - box.left, cy = event.clientY - box.top;
      const now = performance.now();
      clearTimeout(hoverTimer);
      if (now - hoverAt > 60) {
        hoverAt = now;
        hoverAtPosition(cx, cy);
      } else {
        hoverTimer = setTimeout(() => hoverAtPosition(cx, cy), 60);
      }
    },
    true,
  );
  frame.addEventListener("mouseleave", () => {
    clearTimeout(hoverTimer);
    tip.style.display = "none";
    if (hovered >= 0 && model.get("hover_enabled")) {
      hovered = -1;
      model.send({ type: "hover", index: -1 });
    }
  });

  const showTooltip = () => {
    const html = model.get("tooltip");
    const at = html ? canvasPosition(hovered) : null;
    if (!at) {
      tip.style.display = "none";
      return;
    }
    tip.innerHTML = html;
    tip.style.left = `${Math.min(at[0] + 12, width - 10)}px`;
    tip.style.top = `${Math.min(at[1] + 12, height - 10)}px`;
    tip.style.display = "block";
  };

  const subscriptions = [
    api.subscribe("lassoExtend", ({ coordinates }) => {
      // the lasso clears itself (an empty extend) just before it ends: keep the last real one,
      // which is the polygon the selection was made with
      if (coordinates && coordinates.length) lassoPolygon = coordinates.map((p) => [p[0], p[1]]);
    }),
    api.subscribe("select", ({ points }) => {
      const indices = Uint32Array.from(points);
      const kind = model.get("mouse_mode") === "box" ? "box" : "lasso";
      model.send(
        { type: "select", kind, polygon: lassoPolygon, count: indices.length },
        undefined,
        [indices.buffer],
      );
      lassoPolygon = null;
    }),
    api.subscribe("deselect", () => model.send({ type: "deselect" })),
    api.subscribe("view", () => {
      placeRing();
      if (hovered >= 0) showTooltip();
    }),
  ];

  reset.addEventListener("click", () => api.reset());

  const applyMode = () => {
    const mode = MODES[model.get("mouse_mode")] ? model.get("mouse_mode") : "pan";
    api.set(MODES[mode]);
    for (const [name, b] of Object.entries(buttons)) {
      b.setAttribute("aria-pressed", String(name === mode));
    }
  };

  // -- messages from Python ------------------------------------------------------------------
  const onMessage = (message, buffers) => {
    if (!message || message.type !== "ids") return;
    const text = buffers && buffers.length ? new TextDecoder().decode(buffers[0]) : "";
    const ids = text.length ? text.split("\u0000") : [];
    idIndex = new Map();
    for (let i = 0; i < ids.length; i++) idIndex.set(ids[i], i);
    for (const resolve of idsWaiting) resolve(idIndex.size);
    idsWaiting = [];
  };
  model.on("msg:custom", onMessage);

  const loadIds = () => {
    if (idIndex) return Promise.resolve(idIndex.size);
    const promise = new Promise((resolve) => idsWaiting.push(resolve));
    if (!idsRequested) {
      idsRequested = true;
      model.send({ type: "need_ids" });
    }
    return promise;
  };

  // For automated UI tests and scripts: page pixels (viewport CSS pixels, what a mouse event's
  // clientX/clientY use) of a sample's point, or null when it is outside the view. The sample
  // ids travel only when first asked for: call (and await) eaLoadIds() once first.
  const api_ = {
    eaPointPosition(sampleId) {
      if (!idIndex) {
        loadIds();
        return null;
      }
      const index = idIndex.get(String(sampleId));
      if (index === undefined) return null;
      const at = canvasPosition(index);
      if (!at) return null;
      const box = canvas.getBoundingClientRect();
      return { x: box.left + at[0], y: box.top + at[1] };
    },
    eaLoadIds: loadIds,
    eaScatterState() {
      return { points: n, drawn, clicks, selected: (api.get("selectedPoints") || []).length };
    },
  };
  Object.assign(el, api_);
  let hostTries = 0;
  let host = null;
  const attachHost = () => {
    // the view is rendered before it is put into the page: wait for it, then offer the
    // functions on the .ea-scatter box too (give up after a minute out of the page)
    if (!el.isConnected) {
      if (++hostTries < 600) setTimeout(attachHost, 100);
      return;
    }
    host = el.closest(".ea-scatter");
    if (host) Object.assign(host, api_);
  };
  attachHost();

  const handlers = [
    ["change:positions", () => drawAll(true)],
    ["change:codes", () => drawAll(false)],
    ["change:palette", () => drawAll(false)],
    ["change:selected", () => applySelection()],
    ["change:focused", () => placeRing()],
    ["change:mouse_mode", applyMode],
    ["change:tooltip", showTooltip],
    ["change:point_size", () => api.set({ pointSize: model.get("point_size") })],
  ];
  for (const [name, handler] of handlers) model.on(name, handler);
  applyMode();
  drawAll(true);

  return () => {
    for (const [name, handler] of handlers) model.off(name, handler);
    model.off("msg:custom", onMessage);
    for (const s of subscriptions) api.unsubscribe(s);
    if (host) for (const key of Object.keys(api_)) if (host[key] === api_[key]) delete host[key];
    api.destroy();
  };
}

export default { render };
