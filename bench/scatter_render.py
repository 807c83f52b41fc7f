"""Embedding scatter vs plotly Scattergl and jupyter-scatter, in one JupyterLab + Chromium.

Issue 11 (Show): "first render (bytes, time) at 100k and 1M against plotly Scattergl", and "use
jupyter-scatter ... write your own anywidget over regl-scatterplot only if you measure that it
falls short". One JupyterLab server and one headless Chromium page (software WebGL,
``--disable-gpu``), one kernel; for each size N, three contenders in turn, each with the same N
float32 points in 10 categories:

- **ours**: :class:`erroranalysis.widgets.scatter.ScatterCanvas` given N positions (float32,
  planar) and N colour codes (uint8), as :class:`EmbeddingScatter` sends them;
- **jupyter-scatter**: ``jscatter.Scatter(data=frame, x="x", y="y", color_by="c")`` over a
  DataFrame of the float32 x, y and two categorical columns, ``.show()``;
- **plotly**: ``plotly.graph_objects.FigureWidget`` with one ``Scattergl`` trace (float32 x and y,
  an integer ``marker.color`` array), the way the dashboard drew its scatter before issue 11.

Measured per contender:

- **first render**: the bytes the kernel sent on widget comms (every ``comm`` message's JSON plus
  its binary buffers, counted by wrapping the kernel session's ``send``) and the time from the
  page starting the cell to the first frame drawn;
- **colour change** (a second cell): ours sets a new palette and uint8 codes in one
  ``hold_sync`` (what ``EmbeddingScatter``'s colour-by dropdown does); jupyter-scatter
  ``scatter.color(by="c2", map=...)``; plotly ``marker.color`` (uint8) in a ``batch_update``:
  bytes sent and the time to the redrawn frame;
- **click → Python** (ours and jupyter-scatter): the mouse rests on a point (found by
  ``element.eaPointPosition(id)`` on ours, ``api.getScreenPosition(i)`` on jupyter-scatter's
  regl-scatterplot instance), the page is left to settle, then mousedown + mouseup; the time
  from the mousedown (this process' clock) to the click reaching the kernel (the kernel's clock,
  the same machine): ours the ``{"type": "click"}`` message ``EmbeddingScatter`` focuses on,
  jupyter-scatter its ``selection`` trait. p50 and p95 over 7 clicks on different points.

"Frame drawn" is the same signal for all three (each draws its points with regl): while a cell
is measured, every WebGL draw of points is followed by a 1-pixel ``readPixels`` (which returns
once software WebGL has rasterized everything before it), and regl-scatterplot's copy of its
frame onto the visible canvas (``drawImage``) is timed; the contender's own signal (ours:
``eaScatterState().drawn``; jupyter-scatter: ``isPointsDrawn`` with N points; plotly: its
``plotly_afterplot`` / ``plotly_update`` event) must have come too. The page's outputs are
cleared (and the previous widget closed) between contenders.

    python -m bench.scatter_render [--quick] [--sizes 100000,1000000]

Needs Chromium (``/usr/bin/chromium``) and playwright, like the browser tests. jupyter-scatter
is not a dependency of erroranalysis: without it its rows are skipped (``pip install
jupyter-scatter`` to measure it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from bench._common import format_table, percentile, row

REPO_ROOT = Path(__file__).resolve().parents[1]
#: How long a first frame may take before it counts as not drawn.
TIMEOUT_MS = int(os.environ.get("EA_BENCH_SCATTER_TIMEOUT_MS", 120_000))

_SETUP = r"""
import json, time
import numpy as np
from ipykernel.kernelbase import Kernel
SENT = {"bytes": 0, "messages": 0}
_session = Kernel.instance().session
_send = _session.send
def _counting(stream, msg_or_type, content=None, parent=None, ident=None, buffers=None, **keys):
    kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type["header"]["msg_type"]
    if kind.startswith("comm_"):
        body = content if content is not None else msg_or_type.get("content", {})
        SENT["messages"] += 1
        SENT["bytes"] += len(json.dumps(body, default=str)) + sum(
            memoryview(b).nbytes for b in (buffers or []))
    return _send(stream, msg_or_type, content=content, parent=parent, ident=ident,
                 buffers=buffers, **keys)
_session.send = _counting
def points(n):
    rng = np.random.default_rng(0)
    k = rng.integers(0, 10, n)
    angle = k * (2 * np.pi / 10)
    xy = np.column_stack([np.cos(angle), np.sin(angle)]) * 6 + rng.standard_normal((n, 2))
    return xy.astype(np.float32), k.astype(np.uint8)
CLICKS = []  # (kernel epoch ms, what arrived) per click event
WIDGETS = []
def close_previous():
    while WIDGETS:
        WIDGETS.pop().close()
"""

_PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#bdbdbd",
]  # fmt: skip

_OURS = r"""
from erroranalysis.widgets.scatter import ScatterCanvas, normalize_positions, default_point_size
close_previous()
xy, k = points({n})
SENT["bytes"] = SENT["messages"] = 0
started = time.process_time()
w = ScatterCanvas(width=560, height=420, point_size=default_point_size({n}),
                  performance_mode={n} > 500_000,
                  palette={palette!r},
                  codes=k.tobytes(),
                  positions=np.ascontiguousarray(normalize_positions(xy).T).tobytes())
def _on_page(_w, content, buffers):
    kind = content.get("type") if isinstance(content, dict) else None
    if kind == "click":  # what EmbeddingScatter focuses on
        CLICKS.append((time.time() * 1000, int(content["index"])))
    elif kind == "need_ids":  # as EmbeddingScatter answers, with the row as the sample id
        w.send({{"type": "ids"}}, buffers=["\0".join(map(str, range({n}))).encode()])
w.on_msg(_on_page)
WIDGETS.append(w)
display(w)
KERNEL_CPU = time.process_time() - started
"""

# the colour-by change as EmbeddingScatter._recolour sends it: a new palette and one uint8 slot
# a point, in one hold_sync
_OURS_COLOUR = r"""
SENT["bytes"] = SENT["messages"] = 0
started = time.process_time()
with w.hold_sync():
    w.palette = {palette!r}[::-1]
    w.codes = ((k + 3) % 10).astype(np.uint8).tobytes()
KERNEL_CPU = time.process_time() - started
"""

_JSCATTER = r"""
import jscatter, pandas as pd
from erroranalysis.widgets.scatter import default_point_size
close_previous()
xy, k = points({n})
frame = pd.DataFrame({{"x": xy[:, 0], "y": xy[:, 1], "c": pd.Categorical(k),
                      "c2": pd.Categorical((k + 3) % 10)}})
SENT["bytes"] = SENT["messages"] = 0
started = time.process_time()
sc = jscatter.Scatter(data=frame, x="x", y="y", color_by="c", color_map={palette!r}[:10],
                      size=default_point_size({n}), width=560, height=420)
sc.widget.observe(
    lambda change: CLICKS.append((time.time() * 1000, [int(i) for i in change["new"] if True]
                                  if change["new"] is not None else [])),
    "selection")
WIDGETS.append(sc.widget)
display(sc.show())
KERNEL_CPU = time.process_time() - started
"""

_JSCATTER_COLOUR = r"""
SENT["bytes"] = SENT["messages"] = 0
started = time.process_time()
sc.color(by="c2", map={palette!r}[:10][::-1])
KERNEL_CPU = time.process_time() - started
"""

_PLOTLY = r"""
import plotly.graph_objects as go
close_previous()
xy, k = points({n})
SENT["bytes"] = SENT["messages"] = 0
started = time.process_time()
# as the dashboard's scatter did before issue 11: an empty FigureWidget, then the trace
w = go.FigureWidget(layout={{"width": 560, "height": 420, "dragmode": "select",
                            "margin": {{"l": 20, "r": 20, "t": 20, "b": 20}}}})
display(w)
w.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", hoverinfo="none",
                         marker={{"size": 2 if {n} > 200_000 else 3, "color": k.astype(np.int32),
                                  "colorscale": "Viridis"}}))
WIDGETS.append(w)
KERNEL_CPU = time.process_time() - started
"""

# a marker.color restyle of uint8 codes (binary, as design.md's rules ask of FigureWidget updates)
_PLOTLY_COLOUR = r"""
SENT["bytes"] = SENT["messages"] = 0
started = time.process_time()
with w.batch_update():
    w.data[0].marker.color = ((k + 3) % 10).astype(np.uint8)
KERNEL_CPU = time.process_time() - started
"""

TEMPLATES = {
    "ours": (_OURS, _OURS_COLOUR),
    "jscatter": (_JSCATTER, _JSCATTER_COLOUR),
    "plotly": (_PLOTLY, _PLOTLY_COLOUR),
}

# The same "frame drawn" signal for all three contenders (all draw their points with regl): while
# armed, every WebGL draw of POINTS is followed by a 1-pixel readPixels of the default
# framebuffer (a synchronous round trip: it returns once the GPU process, here software WebGL, has
# rasterized everything before it; gl.finish is only a flush in Chromium), and regl-scatterplot's
# copy of its frame onto the visible 2-D canvas (drawImage, after the points) is timed too.
# Without this, a library's "drawn" promise or event resolves when the draw is *issued*.
_GL_HOOK_JS = """() => {
  if (window.__eaGl) return;
  const state = window.__eaGl = {armed: false, points: 0, calls: 0, last: null, copied: null,
                                  frames: []};
  const pixel = new Uint8Array(4);
  for (const proto of [WebGLRenderingContext.prototype, WebGL2RenderingContext.prototype]) {
    for (const name of ['drawArrays', 'drawElements']) {
      const original = proto[name];
      proto[name] = function (mode, a, b, c) {
        const out = original.apply(this, arguments);
        if (state.armed && mode === this.POINTS) {
          const fb = this.getParameter(this.FRAMEBUFFER_BINDING);
          if (fb) this.bindFramebuffer(this.FRAMEBUFFER, null);
          this.readPixels(0, 0, 1, 1, this.RGBA, this.UNSIGNED_BYTE, pixel);
          if (fb) this.bindFramebuffer(this.FRAMEBUFFER, fb);
          state.calls += 1;
          state.points += name === 'drawArrays' ? b : a;
          state.last = performance.now();
        }
        return out;
      };
    }
  }
  const drawImage = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (source) {
    const out = drawImage.apply(this, arguments);
    if (source instanceof HTMLCanvasElement) {  // epoch ms a frame reached the page (for clicks)
      state.frames.push(Date.now());
      if (state.frames.length > 500) state.frames.shift();
    }
    if (state.armed && state.calls > 0 && source instanceof HTMLCanvasElement) {
      state.copied = performance.now();
    }
    return out;
  };
}"""

_RUN_CELL_JS = """async ([index, kind, phase, n, timeout]) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  const gl = window.__eaGl;
  if (phase === 'render') await app.commands.execute('notebook:clear-all-cell-outputs');
  const t0 = performance.now();
  gl.armed = kind !== 'setup';
  gl.points = 0; gl.calls = 0; gl.last = null; gl.copied = null;
  let event = null;   // the contender's own signal (time it was first seen)
  let hooked = null;
  const ownSignal = () => {
    if (kind === 'ours') {
      if (phase !== 'render') return true;  // ours has no page signal for a redraw: GL only
      const e = document.querySelector('.jp-OutputArea-output .ea-scatter-canvas');
      const s = e && e.eaScatterState && e.eaScatterState();
      return !!(s && s.drawn && s.points === n);
    }
    if (kind === 'jscatter') {
      const c = document.querySelector('.jp-OutputArea-output canvas');
      let api = c;
      while (api && !api.api) api = api.parentElement;
      api = api && api.api;
      return !!(api && api.get('isPointsDrawn') && api.get('points').length === n);
    }
    const gd = document.querySelector('.jp-OutputArea-output .js-plotly-plot');
    if (gd && gd.on && hooked !== gd) {
      hooked = gd;
      // a batch_update arrives as Plotly.update (plotly_update), a plain one as a restyle
      const names = phase === 'render'
        ? ['plotly_afterplot'] : ['plotly_update', 'plotly_restyle', 'plotly_afterplot'];
      for (const name of names) {
        gd.on(name, () => {
          const d = gd._fullData && gd._fullData[0];
          if (d && d._length === n && event === null) event = performance.now();
        });
      }
    }
    const d = gd && gd._fullData && gd._fullData[0];
    // the afterplot of the first full draw may have fired before we hooked it
    return phase === 'render' && !!(d && d._length === n && gd.querySelector('.gl-canvas'));
  };
  if (phase !== 'render') ownSignal();  // hook plotly's events before the update arrives
  panel.content.activeCellIndex = index;
  await app.commands.execute('notebook:run-cell');
  return await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      if (event === null && ownSignal()) event = now;
      // regl-scatterplot draws all N points in one call; plotly's regl-scatter2d may draw
      // fewer (level of detail), so for plotly any point draw after its event counts;
      // regl-scatterplot's frame is drawn once it is copied onto the visible canvas
      const plotly = kind === 'plotly';
      const rastered = plotly
        ? (event !== null && gl.calls > 0)
        : gl.points >= n && gl.copied !== null && gl.copied >= gl.last;
      if (event !== null && rastered) {
        gl.armed = false;
        const at = plotly ? Math.max(event, gl.last) : Math.max(event, gl.copied);
        resolve({ms: at - t0, signal_ms: event - t0, calls: gl.calls});
      } else if (now - t0 > timeout) {
        gl.armed = false;
        resolve({ms: null, signal_ms: event === null ? null : event - t0, calls: gl.calls});
      } else requestAnimationFrame(tick);
    };
    tick();
  });
}"""

# Wait until the page's main thread is free: three animation frames in a row < 50 ms apart.
_SETTLE_JS = """async (limit) => {
  const t0 = performance.now();
  let last = t0, calm = 0;
  while (calm < 3 && performance.now() - t0 < limit) {
    await new Promise((r) => requestAnimationFrame(r));
    const now = performance.now();
    calm = now - last < 50 ? calm + 1 : 0;
    last = now;
  }
  return performance.now() - t0;
}"""

# Page pixels of row i's point (null outside the view), for ours and for jupyter-scatter.
_POINT_JS = """async ([kind, i]) => {
  if (kind === 'ours') {
    const e = document.querySelector('.jp-OutputArea-output .ea-scatter-canvas');
    e.scrollIntoView({block: 'center'});
    await e.eaLoadIds();
    return e.eaPointPosition(String(i));
  }
  const c = document.querySelector('.jp-OutputArea-output canvas');
  let host = c;
  while (host && !host.api) host = host.parentElement;
  host.scrollIntoView({block: 'center'});
  const [x, y] = host.api.getScreenPosition(i);
  const box = c.getBoundingClientRect();
  if (!(x >= 0 && y >= 0 && x <= box.width && y <= box.height)) return null;
  return {x: box.left + x, y: box.top + y};
}"""


def jscatter_available() -> bool:
    """Whether jupyter-scatter (``import jscatter``) is installed in this interpreter."""
    import importlib.util

    return importlib.util.find_spec("jscatter") is not None


def _clicks(page, server, kind: str, n: int, count: int) -> dict:
    """``count`` clicks on different points: ms from mousedown to the click in the kernel."""
    latencies, misses, frames = [], 0, []
    rng = random.Random(n)
    candidates = rng.sample(range(n), min(n, 4 * count))
    seen = int(server.kernel_execute("print(len(CLICKS))", timeout=120).strip())
    for i in candidates:
        if len(latencies) + misses >= count:
            break
        at = page.evaluate(_POINT_JS, [kind, i])
        if not at:
            continue
        page.mouse.move(at["x"] - 4, at["y"] - 4)
        page.mouse.move(at["x"], at["y"], steps=2)
        page.wait_for_timeout(200)
        page.evaluate(_SETTLE_JS, 15_000)  # hover redraws (jupyter-scatter) finish first
        sent = time.time() * 1000
        page.mouse.down()
        page.mouse.up()
        arrived = None
        deadline = time.monotonic() + TIMEOUT_MS / 4000
        page.wait_for_timeout(300)
        while time.monotonic() < deadline:
            got = json.loads(
                server.kernel_execute(f"print(json.dumps(CLICKS[{seen}:]))", timeout=120).strip()
            )
            if got:
                arrived = got[0][0]
                seen += len(got)
                break
            page.wait_for_timeout(500)
        if arrived is None:
            misses += 1
        else:
            latencies.append((arrived - sent) / 1000)
            frames.append(
                page.evaluate(
                    "([a, b]) => window.__eaGl.frames.filter((t) => t >= a && t <= b).length",
                    [sent, arrived],
                )
            )
        page.evaluate(_SETTLE_JS, 15_000)  # the selection's redraw, before the next click
    page.mouse.move(2, 2)  # off every plot: no hover redraw during the next cells
    print(
        f"[bench] {kind} N={n:,} clicks: {latencies} s, {misses} missed,"
        f" frames drawn between mousedown and the kernel: {frames}",
        file=sys.stderr,
    )
    return {"latencies": latencies, "misses": misses, "frames": frames}


def measure(sizes: list[int], clicks: int = 7) -> list[dict]:
    """Rows per size: first render, colour change and click, ours vs the other two."""
    sys.path.insert(0, str(REPO_ROOT))
    from playwright.sync_api import sync_playwright

    from erroranalysis.machine import machine_description
    from tests.browser import lab

    machine = machine_description()
    kinds = ["ours", "jscatter", "plotly"]
    if not jscatter_available():
        kinds.remove("jscatter")
        print(
            "[bench] jupyter-scatter is not installed: its rows are skipped"
            f" (to measure it: {sys.executable} -m pip install jupyter-scatter)",
            file=sys.stderr,
        )
    cells = [_SETUP]
    cases = []
    for n in sizes:
        for kind in kinds:
            render, colour = TEMPLATES[kind]
            cases.append((len(cells), kind, n))
            cells.append(render.format(n=n, palette=_PALETTE))
            cells.append(colour.format(n=n, palette=_PALETTE))
    results: dict[tuple[str, int], dict] = {}
    loads = []
    with tempfile.TemporaryDirectory(prefix="ea-bench-scatter-") as root:
        root = Path(root)
        pythonpath = os.pathsep.join(p for p in [str(REPO_ROOT), os.environ.get("PYTHONPATH")] if p)
        server = lab.start_jupyterlab(root, env={"PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1"})
        try:
            lab.write_notebook(root / "render.ipynb", cells)
            with sync_playwright() as pw:
                browser = lab.launch_chromium(pw)
                page = browser.new_page(viewport=lab.VIEWPORT)
                page.set_default_timeout(600_000)
                console: list[str] = []
                lab.attach_console_log(page, console)
                lab.open_notebook(page, server, "render.ipynb")
                page.evaluate(_GL_HOOK_JS)
                page.evaluate(_RUN_CELL_JS, [0, "setup", "render", 0, 1])  # the setup cell
                page.wait_for_timeout(3000)

                def sent() -> dict:
                    page.wait_for_timeout(1500)  # the last comm messages
                    return json.loads(
                        server.kernel_execute(
                            "print(json.dumps({**SENT, 'cpu': KERNEL_CPU}))", timeout=120
                        ).strip()
                    )

                for index, kind, n in cases:
                    loads.append(os.getloadavg()[0])
                    result = {}
                    for phase, cell in (("render", index), ("colour", index + 1)):
                        timing = page.evaluate(_RUN_CELL_JS, [cell, kind, phase, n, TIMEOUT_MS])
                        result[phase] = {**timing, **sent()}
                        print(f"[bench] {kind} {phase} N={n:,}: {result[phase]}", file=sys.stderr)
                        page.evaluate(_SETTLE_JS, 15_000)
                    lab.save_screenshot(page, f"bench-scatter-{kind}-{n}", full_page=False)
                    if kind != "plotly":
                        result["click"] = _clicks(page, server, kind, n, clicks)
                    results[kind, n] = result
                browser.close()
            errors = [line for line in console if "error" in line.lower()]
            if errors:
                print("[bench] page errors:\n" + "\n".join(errors[:20]), file=sys.stderr)
        finally:
            server.stop()
    load = f"load {min(loads):.1f}–{max(loads):.1f}" if loads else ""
    return rows_of(results, sizes, machine, load)


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def rows_of(results: dict, sizes: list[int], machine: str, load: str) -> list[dict]:
    """The table's rows from :func:`measure`'s results (``(kind, n)`` → phases)."""
    names = {"plotly": "plotly Scattergl", "jscatter": "jupyter-scatter"}
    out = []
    for n in sizes:
        size = f"N={n:,}"
        ours = results["ours", n]
        others = [k for k in ("plotly", "jscatter") if (k, n) in results]
        for other in others:
            base = results[other, n]
            name = names[other]
            r, b = ours["render"], base["render"]
            out += _bytes_and_time_rows(
                "first render",
                "cell start → first frame rasterized",
                r,
                b,
                name,
                size,
                bytes_target=("≤ 9 B/point + the 0.23 MB front-end bundle", 9 * n + 300_000),
                time_note=(
                    f"the library's own 'drawn' signal at {_fmt(r['signal_ms'])} vs"
                    f" {_fmt(b['signal_ms'])}; kernel CPU building the widget"
                    f" {r['cpu']:.2f} vs {b['cpu']:.2f} s; headless Chromium, software"
                    f" WebGL; {load}; {machine}"
                    + ("" if b["ms"] is not None else f"; {name} did not draw within the limit")
                ),
            )
            r, b = ours["colour"], base["colour"]
            out += _bytes_and_time_rows(
                "colour change",
                "cell start → redrawn frame rasterized",
                r,
                b,
                name,
                size,
                bytes_target=("≤ 1 B/point + 1 KB", n + 1000),
                time_note=(
                    f"{r['calls']} vs {b['calls']} WebGL point draws; kernel CPU"
                    f" {r['cpu'] * 1000:.0f} vs {b['cpu'] * 1000:.0f} ms; {load}"
                ),
            )
        if ("jscatter", n) in results and "click" in ours:
            a, b = ours["click"], results["jscatter", n]["click"]
            for q in (50, 95):
                t_ours = percentile(a["latencies"], q) if a["latencies"] else None
                t_base = percentile(b["latencies"], q) if b["latencies"] else None
                out.append(
                    row(
                        f"scatter click → Python, p{q} (vs jupyter-scatter's selection trait)",
                        size,
                        t_ours,
                        t_base,
                        "≤ 250 ms" if q == 95 else "≤ 100 ms",
                        None if t_ours is None else t_ours <= (0.25 if q == 95 else 0.1),
                        note=(
                            f"mousedown → kernel, {len(a['latencies'])} vs"
                            f" {len(b['latencies'])} clicks ({a['misses']} vs {b['misses']}"
                            f" not reported); frames drawn between mousedown and the kernel:"
                            f" {sum(a['frames'])} vs {sum(b['frames'])} in all; mouse resting on"
                            f" the point, page idle first; {load}"
                        ),
                    )
                )
    return out


def _bytes_and_time_rows(
    phase: str,
    timed: str,
    ours: dict,
    base: dict,
    name: str,
    size: str,
    bytes_target: tuple[str, int],
    time_note: str,
) -> list[dict]:
    """The two rows of one phase (first render, colour change): bytes sent and time, vs ``name``."""
    target, most = bytes_target
    t_ours, t_base = _seconds(ours["ms"]), _seconds(base["ms"])
    return [
        row(
            f"scatter {phase}: bytes sent (vs {name})",
            size,
            ours["bytes"],
            base["bytes"],
            target,
            ours["bytes"] <= most,
            unit="B",
            note=f"{ours['messages']} vs {base['messages']} comm messages",
        ),
        row(
            f"scatter {phase}: {timed} (vs {name})",
            size,
            t_ours,
            t_base,
            f"faster than {name}",
            None if t_ours is None or t_base is None else t_ours < t_base,
            note=time_note,
        ),
    ]


def _fmt(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000:.2f} s"


def run(quick: bool = False) -> list[dict]:
    """Rows at 100k (``quick``) or 100k and 1M."""
    return measure([100_000] if quick else [100_000, 1_000_000], clicks=5 if quick else 7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", help="comma-separated, e.g. 100000,1000000")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    rows = measure(sizes) if sizes else run(quick=args.quick)
    print(format_table(rows))
    for entry in rows:
        print(f"- {entry['measurement']} ({entry['size']}): {entry['note']}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
