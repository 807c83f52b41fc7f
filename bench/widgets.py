"""Relabel → every linked view updated (Python side), and bytes sent to the browser per update.

Builds the whole dashboard (``ea.show``) on a private copy of the harness's synthetic store
(K = 100 classes, scan-shaped columns, float16 probs), focuses a sample in the inspector, then
relabels random samples (every other one the focused sample, so the inspector re-renders its
history too) and times ``store.relabel(...)`` from the call until it returns: the journal commit
plus every view's update (confusion counts, scatter colours, gallery badges, issue table,
inspector). The comm of every widget is replaced by one that counts what would be sent (JSON
bytes + binary buffers), so "bytes per update" is what the browser would receive.

Baseline: the naive way to keep views current, rebuilding every view from ``store.frame()``
after each change (``Dashboard.reload()``, which also re-sends everything).

    python -m bench.widgets [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench._common import format_table, percentile, row

TARGET_S = 0.100  # design §7: ≤ 100 ms p95 at N = 100k
TARGET_1M_S = 0.250  # … and ≤ 250 ms at 1M


class _Recorder:
    """Counts the bytes every widget comm would send."""

    def __init__(self) -> None:
        self.bytes = 0
        self.messages = 0

    def install(self) -> None:
        import comm
        from comm import DummyComm

        recorder = self

        class RecordingComm(DummyComm):
            def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
                size = len(json.dumps(data, default=str)) if data is not None else 0
                size += sum(memoryview(b).nbytes for b in buffers or [])
                recorder.bytes += size
                recorder.messages += 1

        self._original = comm.create_comm
        comm.create_comm = lambda *args, **kwargs: RecordingComm(*args, **kwargs)

    def uninstall(self) -> None:
        import comm

        comm.create_comm = self._original

    def reset(self) -> None:
        self.bytes = 0
        self.messages = 0


def _measure(n: int, classes: int, relabels: int, workdir: Path) -> list[dict]:
    from bench.harness import synthetic_store
    from erroranalysis.widgets import Dashboard

    if n <= 100_000:
        store = synthetic_store(n, classes, workdir=workdir)
    else:  # the harness's 1M × 100 store is costly to build; the widgets' own fixture is enough
        from tests.stores import make_store

        names = tuple(f"class_{i:04d}" for i in range(classes))
        store = make_store(workdir / "store", n=n, classes=names, images=False, scan="synthetic")
    target = TARGET_S if n <= 100_000 else TARGET_1M_S
    import plotly.graph_objects as go

    go.FigureWidget  # noqa: B018  (plotly's first import takes seconds; not part of the build)
    recorder = _Recorder()
    recorder.install()
    try:
        build_start = time.perf_counter()
        dash = Dashboard(store, poll_interval=None)
        build = time.perf_counter() - build_start
        rng = np.random.default_rng(0)
        focus = int(rng.integers(n))
        dash.selection.focus(str(dash.data.sample_ids[focus]), source="bench")
        view_times: list[float] = []
        original = dash.data._on_store

        def timed_sync(store_, ids):
            start = time.perf_counter()
            original(store_, ids)
            view_times.append(time.perf_counter() - start)

        store.unobserve(original)
        store.observe(timed_sync)
        totals, sizes = [], []
        codes = store.label_codes()
        for i in range(relabels + 3):
            position = focus if i % 2 == 0 else int(rng.integers(n))
            label = store.classes[
                (int(codes[position]) + 1 + int(rng.integers(classes - 1))) % classes
            ]
            recorder.reset()
            start = time.perf_counter()
            store.relabel(str(dash.data.sample_ids[position]), label, source="bench")
            elapsed = time.perf_counter() - start
            if i >= 3:  # warm-up
                totals.append(elapsed)
                sizes.append(recorder.bytes)
        views_only = view_times[3:]
        recorder.reset()
        reloads = []
        for _ in range(2):
            start = time.perf_counter()
            dash.reload()
            reloads.append(time.perf_counter() - start)
        reload_bytes = recorder.bytes / 2
        dash.close()
    finally:
        recorder.uninstall()
    size = f"N={n:,} K={classes}"
    p95 = percentile(totals, 95)
    baseline = statistics.median(reloads)
    return [
        row(
            "relabel → every view updated (Python, incl. commit), p95",
            size,
            p95,
            baseline,
            f"≤ {target * 1000:.0f} ms p95",
            p95 <= target,
            note=f"median {statistics.median(totals) * 1000:.1f} ms over {len(totals)} relabels; baseline = rebuild all views",
        ),
        row(
            "relabel → views updated (observers only, excl. commit), p95",
            size,
            percentile(views_only, 95),
            baseline,
            "—",
            None,
        ),
        row(
            "bytes sent to the browser per relabel (median)",
            size,
            float(statistics.median(sizes)),
            float(reload_bytes),
            "small, independent of N except the scatter colours (1 byte/point)",
            None,
            unit="B",
            note=f"max {max(sizes)} B",
        ),
        row("dashboard build (ea.show, imports excluded)", size, build, None, "—", None),
    ]


def _confusion_rows(n: int = 1_000_000, k: int = 1000, repeat: int = 50) -> list[dict]:
    """The confusion view's O(1) update after one relabel vs recounting (np.bincount)."""
    from erroranalysis.widgets._data import confusion_counts, update_confusion

    rng = np.random.default_rng(0)
    labels = rng.integers(0, k, n).astype(np.int32)
    pred = rng.integers(0, k, n).astype(np.int32)
    counts = confusion_counts(labels, pred, k)
    ours, base = [], []
    for _ in range(repeat):
        pos = np.array([int(rng.integers(n))])
        old = labels[pos].copy()
        new = (old + 1) % k
        start = time.perf_counter()
        update_confusion(counts, pred, pos, old, new)
        ours.append(time.perf_counter() - start)
        labels[pos] = new
        start = time.perf_counter()
        recount = confusion_counts(labels, pred, k)
        base.append(time.perf_counter() - start)
    if not np.array_equal(counts, recount):
        raise AssertionError("incremental confusion counts drifted from the recount")
    p95 = percentile(ours, 95)
    return [
        row(
            "confusion view after one relabel (incremental), p95",
            f"N={n:,} K={k}",
            p95,
            statistics.median(base),
            "≤ 5 ms at 1M",
            p95 <= 0.005,
            note="baseline = recount with np.bincount",
        )
    ]


def run(quick: bool = False) -> list[dict]:
    """Benchmark rows (see the module docstring) at N = 10k and 100k (and 1M unless quick)."""
    relabels = 20 if quick else 100
    rows: list[dict] = _confusion_rows(repeat=10 if quick else 50)
    with tempfile.TemporaryDirectory(prefix="ea-bench-widgets-") as tmp:
        for n in (10_000, 100_000):
            rows += _measure(n, 100, relabels, Path(tmp) / f"n{n}")
        if not quick:
            rows += _measure(1_000_000, 10, relabels // 2, Path(tmp) / "n1000000")
    return rows


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer relabels")
    args = parser.parse_args(argv)
    print(format_table(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
