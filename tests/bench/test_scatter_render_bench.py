"""bench/scatter_render.py's rows (the browser measurements themselves run in the bench)."""

from __future__ import annotations

from bench import scatter_render


def _phase(ms, nbytes, messages=3):
    return {
        "ms": ms,
        "signal_ms": ms,
        "calls": 1,
        "bytes": nbytes,
        "messages": messages,
        "cpu": 0.01,
    }


def _results(n, with_jscatter=True):
    click = {"latencies": [0.005, 0.006, 0.007, 0.008, 0.04], "misses": 0, "frames": [0] * 5}
    out = {
        ("ours", n): {
            "render": _phase(900, 9 * n),
            "colour": _phase(100, n + 100),
            "click": click,
        },
        ("plotly", n): {"render": _phase(3000, 60 * n, 14), "colour": _phase(500, n + 2000)},
    }
    if with_jscatter:
        out["jscatter", n] = {
            "render": _phase(1000, 38 * n, 4),
            "colour": _phase(300, 16 * n, 7),
            "click": {**click, "latencies": [0.1, 0.12, 0.13, 0.15, 0.16], "frames": [1] * 5},
        }
    return out


def test_rows_compare_ours_with_both_contenders():
    n = 100_000
    rows = scatter_render.rows_of(_results(n), [n], "machine", "load 1.0–1.2")
    names = [r["measurement"] for r in rows]
    assert sum("vs plotly" in m for m in names) == 4
    assert sum("vs jupyter-scatter" in m for m in names) == 6
    colour = next(
        r
        for r in rows
        if r["measurement"].startswith("scatter colour change: bytes")
        and "jupyter" in r["measurement"]
    )
    assert colour["ours"] == n + 100 and colour["baseline"] == 16 * n and colour["passed"]
    p50 = next(r for r in rows if "p50" in r["measurement"])
    assert p50["ours"] == 0.007 and p50["baseline"] == 0.13
    assert "frames drawn between mousedown and the kernel: 0 vs 5" in p50["note"]


def test_rows_without_jupyter_scatter_keep_the_plotly_rows():
    n = 100_000
    rows = scatter_render.rows_of(_results(n, with_jscatter=False), [n], "machine", "")
    assert rows and all("jupyter-scatter" not in r["measurement"] for r in rows)
    assert isinstance(scatter_render.jscatter_available(), bool)
