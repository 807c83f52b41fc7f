"""First render of the embedding scatter vs plotly Scattergl, in the same JupyterLab + Chromium.

Issue 11 (Show): "first render (bytes, time) at 100k and 1M against plotly Scattergl". One
JupyterLab server and one headless Chromium page (software WebGL, ``--disable-gpu``), one
kernel; for each size N, two cells run one after the other in that kernel:

- **ours**: :class:`erroranalysis.widgets.scatter.ScatterCanvas` given N positions (float32,
  planar) and N colour codes (uint8) for 10 categories, as :class:`EmbeddingScatter` sends them;
- **baseline**: ``plotly.graph_objects.FigureWidget`` with one ``Scattergl`` trace of the same
  N points (float32 x and y, one colour per category as an integer ``marker.color`` array), the
  way the dashboard drew its scatter before issue 11.

Measured per cell: the bytes the kernel sent on widget comms (every ``comm`` message's JSON
plus its binary buffers, counted by wrapping ``BaseComm.publish_msg`` in the kernel), and the
time from the page starting the cell to the first frame drawn (ours: the page's
``eaScatterState().drawn``; plotly: its ``plotly_afterplot`` event after the trace holds N
points), both read in the page with ``performance.now()``. The page's outputs are cleared
between cells so that each draw has the page to itself.

    python -m bench.scatter_render [--quick] [--sizes 100000,1000000]

Needs Chromium (``/usr/bin/chromium``) and playwright, like the browser tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench._common import format_table, row

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
"""

_OURS = r"""
from erroranalysis.widgets.scatter import ScatterCanvas, normalize_positions, default_point_size
xy, k = points({n})
SENT["bytes"] = SENT["messages"] = 0
started = time.process_time()
w = ScatterCanvas(width=560, height=420, point_size=default_point_size({n}),
                  performance_mode={n} > 500_000,
                  palette=["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#bdbdbd"],
                  codes=k.tobytes(),
                  positions=np.ascontiguousarray(normalize_positions(xy).T).tobytes())
display(w)
KERNEL_CPU = time.process_time() - started
"""

_PLOTLY = r"""
import plotly.graph_objects as go
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
KERNEL_CPU = time.process_time() - started
"""

_RUN_CELL_JS = """async ([index, kind, n, timeout]) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await app.commands.execute('notebook:clear-all-cell-outputs');
  const t0 = performance.now();
  let after = null;
  panel.content.activeCellIndex = index;
  await app.commands.execute('notebook:run-cell');
  return await new Promise((resolve) => {
    const done = () => {
      if (kind === 'ours') {
        const e = document.querySelector('.jp-OutputArea-output .ea-scatter-canvas');
        const s = e && e.eaScatterState && e.eaScatterState();
        return s && s.drawn && s.points === n;
      }
      const gd = document.querySelector('.jp-OutputArea-output .js-plotly-plot');
      if (gd && gd.on && !gd.__eaHooked) {
        gd.__eaHooked = true;
        gd.on('plotly_afterplot', () => {
          const d = gd._fullData && gd._fullData[0];
          if (d && d._length === n && after === null) after = performance.now();
        });
      }
      const d = gd && gd._fullData && gd._fullData[0];
      if (after === null && d && d._length === n && gd.querySelector('.gl-canvas')) {
        // the afterplot of the first full draw may have fired before we hooked it
        after = performance.now();
      }
      return after !== null;
    };
    const tick = () => {
      if (done()) resolve((after || performance.now()) - t0);
      else if (performance.now() - t0 > timeout) resolve(null);
      else requestAnimationFrame(tick);
    };
    tick();
  });
}"""


def measure(sizes: list[int]) -> list[dict]:
    """Rows: bytes and first-frame time, ours vs plotly Scattergl, per size."""
    sys.path.insert(0, str(REPO_ROOT))
    from playwright.sync_api import sync_playwright

    from erroranalysis.machine import machine_description
    from tests.browser import lab

    machine = machine_description()
    cells = [_SETUP]
    cases = []
    for n in sizes:
        for kind, template in (("ours", _OURS), ("plotly", _PLOTLY)):
            cases.append((len(cells), kind, n))
            cells.append(template.format(n=n))
    rows = []
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
                page.evaluate(_RUN_CELL_JS, [0, "setup", 0, 1])  # the setup cell
                page.wait_for_timeout(3000)
                for index, kind, n in cases:
                    ms = page.evaluate(_RUN_CELL_JS, [index, kind, n, TIMEOUT_MS])
                    page.wait_for_timeout(1500)  # the last comm messages
                    sent = json.loads(
                        server.kernel_execute(
                            "print(json.dumps({**SENT, 'cpu': KERNEL_CPU}))", timeout=120
                        ).strip()
                    )
                    print(f"[bench] {kind} N={n:,}: {ms} ms, {sent}", file=sys.stderr)
                    cases_result = {"kind": kind, "n": n, "ms": ms, **sent}
                    rows.append(cases_result)
                    lab.save_screenshot(page, f"bench-scatter-{kind}-{n}", full_page=False)
                browser.close()
            errors = [line for line in console if "error" in line.lower()]
            if errors:
                print("[bench] page errors:\n" + "\n".join(errors[:20]), file=sys.stderr)
        finally:
            server.stop()
    out = []
    load = os.getloadavg()[0]
    for n in sizes:
        ours = next(r for r in rows if r["kind"] == "ours" and r["n"] == n)
        base = next(r for r in rows if r["kind"] == "plotly" and r["n"] == n)
        size = f"N={n:,}"
        out.append(
            row(
                "scatter first render: bytes sent (vs plotly Scattergl FigureWidget)",
                size,
                ours["bytes"],
                base["bytes"],
                "≤ 9 B/point + the 0.23 MB front-end bundle",
                ours["bytes"] <= 9 * n + 300_000,
                unit="B",
                note=f"{ours['messages']} vs {base['messages']} comm messages; {machine}",
            )
        )
        t_ours = None if ours["ms"] is None else ours["ms"] / 1000
        t_base = None if base["ms"] is None else base["ms"] / 1000
        out.append(
            row(
                "scatter first render: cell start → first frame drawn (vs plotly Scattergl)",
                size,
                t_ours,
                t_base,
                "faster than plotly",
                None if t_ours is None or t_base is None else t_ours < t_base,
                note=(
                    f"kernel CPU building the widget {ours['cpu']:.2f} vs {base['cpu']:.2f} s;"
                    f" headless Chromium, software WebGL; load {load:.1f}; {machine}"
                    + (
                        ""
                        if t_base is not None
                        else f"; plotly did not draw within {TIMEOUT_MS / 1000:.0f} s"
                    )
                ),
            )
        )
    return out


def run(quick: bool = False) -> list[dict]:
    """Rows at 100k (``quick``) or 100k and 1M."""
    return measure([100_000] if quick else [100_000, 1_000_000])


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
