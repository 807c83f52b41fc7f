"""Every click and key press on the product's own front-ends reaches Python, even in bursts.

A probe notebook lays out, inside a dashboard of ipywidgets boxes (Tab > VBox > HBox), the
front-ends the views are built from — :class:`HeatmapWidget` (confusion matrix),
:class:`GridWidget` (gallery), :class:`TableWidget` (issue and slice tables), :class:`KeysWidget`
(the inspector's shortcuts) and ipywidgets Buttons (the inspector's actions) — and logs every
event that reaches a Python callback to a JSON-lines file. The test sends N clicks (and N key
presses) to each, first one at a time (each must arrive: the round trip is measured), then as a
burst without waiting (each must arrive too: they are custom messages, one per event, where a
synced trait written this quickly could be merged by the widget manager, which keeps only the
latest value of a trait while a message is in flight).

The embedding scatter's clicks and box selections are driven through the real dashboard in
``test_dashboard.py``. Results (per path: sent, received, round-trip p50/p95) go to
``artifacts/click_paths.json``.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from . import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_CLICKS = 10

PROBE_CELL = textwrap.dedent(
    """
    import json, os, time
    import ipywidgets as W
    from erroranalysis.widgets._frontend import GridWidget, HeatmapWidget, KeysWidget, TableWidget

    LOG = os.environ["ERRORANALYSIS_CLICK_LOG"]

    def log(path, what):
        with open(LOG, "a") as f:
            f.write(json.dumps({"path": path, "what": what, "t": time.time()}) + "\\n")

    names = [f"c{i}" for i in range(6)]
    heat = HeatmapWidget(row_labels=names, col_labels=names,
                         texts=[[str(i * 6 + j) for j in range(6)] for i in range(6)],
                         shades=[[((i * 6 + j) % 7) / 7 for j in range(6)] for i in range(6)])
    heat.on_click(lambda m: log("heatmap", [m["row"], m["col"]]))
    grid = GridWidget(thumbs=[""] * 12, items=[
        {"sample_id": f"s{i}", "caption": f"s{i}", "badges": []} for i in range(12)])
    grid.on_click(lambda m: log("grid", m["sample_id"]))
    table = TableWidget(columns=["sample_id", "score"], rows=[[f"s{i}", str(i)] for i in range(12)],
                        row_ids=[f"s{i}" for i in range(12)])
    table.on_click(lambda m: log("table", m.get("row", m.get("sort"))))
    keys = KeysWidget(shortcut_keys=["1", "2", "n"], hint="keys: 1 2 n")
    keys.on_key(lambda k: log("keys", k))
    buttons = []
    for i in range(12):
        b = W.Button(description=f"b{i}", layout=W.Layout(width="auto"))
        b.add_class(f"probe-btn-{i}")
        b.on_click(lambda btn, i=i: log("buttons", i))
        buttons.append(b)
    page = W.VBox([W.HBox([heat, grid]), W.HBox([table, W.VBox([W.HBox(buttons[:6]),
                   W.HBox(buttons[6:]), keys])])])
    page.add_class("ea-dashboard")   # the keys listen while the pointer is over the dashboard
    tabs = W.Tab([page, W.HTML("other tab")])
    tabs.titles = ("dashboard", "other")
    tabs
    """
)

#: path -> CSS selector of the i-th target
TARGETS = {
    "heatmap": lambda i: f'.ea-heatmap td.ea-cell[data-row="{i % 6}"][data-col="{(i * 5) % 6}"]',
    "grid": lambda i: f'.ea-grid .ea-thumb[data-sample-id="s{(i * 7) % 12}"]',
    "table": lambda i: f'.ea-table tr.ea-table-row[data-row="{(i * 5) % 12}"]',
    "buttons": lambda i: f".probe-btn-{i % 12}",
}


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _count(log_path: Path, path: str) -> int:
    return sum(e["path"] == path for e in _read_log(log_path))


def _wait_count(log_path: Path, path: str, want: int, timeout: float = 5.0) -> int:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        got = _count(log_path, path)
        if got >= want:
            return got
        time.sleep(0.005)
    return _count(log_path, path)


def _summary(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_ms": None, "p95_ms": None}
    arr = np.array(latencies) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
    }


def test_every_click_arrives(page, jupyterlab, lab_root):
    log_path = Path(jupyterlab.env["ERRORANALYSIS_CLICK_LOG"])
    log_path.unlink(missing_ok=True)
    lab.write_notebook(lab_root / "click_probe.ipynb", [PROBE_CELL])
    lab.run_notebook(page, jupyterlab, "click_probe.ipynb")
    for selector in (".ea-heatmap td.ea-cell", ".ea-grid .ea-thumb", ".ea-table-row", ".ea-keys"):
        page.wait_for_selector(selector, timeout=60_000)
    page.wait_for_timeout(300)
    results: dict[str, dict] = {}

    for path, target in TARGETS.items():
        # one at a time: each must arrive, the round trip is measured
        got, lat = 0, []
        for i in range(N_CLICKS):
            before = _count(log_path, path)
            element = page.locator(target(i)).first
            element.hover()
            t0 = time.perf_counter()
            element.click()
            if _wait_count(log_path, path, before + 1, timeout=3.0) > before:
                got += 1
                lat.append(time.perf_counter() - t0)
        # a burst: N clicks as fast as the mouse goes, then count
        before = _count(log_path, path)
        boxes = [page.locator(target(i)).first.bounding_box() for i in range(N_CLICKS)]
        for box in boxes:
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        burst = _wait_count(log_path, path, before + N_CLICKS) - before
        results[path] = {"sent": N_CLICKS, "received": got, **_summary(lat),
                         "burst_sent": N_CLICKS, "burst_received": burst}  # fmt: skip

    # key presses, with the pointer over the dashboard (as the inspector's shortcuts want)
    page.locator(TARGETS["table"](0)).first.hover()
    before = _count(log_path, "keys")
    for i in range(N_CLICKS):
        page.keyboard.press("12n"[i % 3])
    burst = _wait_count(log_path, "keys", before + N_CLICKS) - before
    keys = [e["what"] for e in _read_log(log_path) if e["path"] == "keys"][before:]
    results["keys"] = {"burst_sent": N_CLICKS, "burst_received": burst, "sent": 0, "received": 0}

    lab.save_screenshot(page, "click_paths")
    (lab.artifacts_dir() / "click_paths.json").write_text(json.dumps(results, indent=2))
    print("click paths (sent/received one at a time, burst sent/received, round trip):")
    for path, r in results.items():
        print(
            f"  {path:8s} {r['received']:3d}/{r['sent']:<3d} burst {r['burst_received']:3d}/"
            f"{r['burst_sent']:<3d} p50 {r.get('p50_ms')} ms p95 {r.get('p95_ms')} ms"
        )
    lost = {
        p: r
        for p, r in results.items()
        if r["received"] != r["sent"] or r["burst_received"] != r["burst_sent"]
    }
    assert not lost, f"events lost on the product's front-ends: {lost}"
    assert keys == ["12n"[i % 3] for i in range(N_CLICKS)], keys
