"""store.frame() and the incremental confusion matrix after one relabel.

Completes bench/store.py (open, labels(), lowest-k, relabel commit) with the two remaining store
measurements of design §7:

- ``store.frame()`` (samples + current labels + flags + a scan-shaped result table) against a
  plain pandas read-and-join of the same Parquet files;
- the confusion matrix after one relabel, kept up to date by
  :class:`erroranalysis.analysis.confusion.ConfusionState` (``sync(store.label_codes())``, the
  path the analysis package uses to follow relabels), against recounting the whole matrix with
  ``np.bincount``.

    python -m bench.store_views [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench._common import format_table, percentile, row, timed
from bench.harness import synthetic_store


def _frame_rows(store, size: str) -> list[dict]:
    import erroranalysis as ea

    path = store.path
    run = store.run()
    results = [run.path / "results" / f"{name}.parquet" for name in run.results()]

    def ours():
        return ea.Store.open(path).frame()

    def baseline():
        table = pd.read_parquet(path / "samples.parquet")
        for result in results:
            extra = pd.read_parquet(result)
            for column in extra.columns:
                table[column] = extra[column].to_numpy()
        return table

    first = time.perf_counter()
    frame = ours()
    first = time.perf_counter() - first
    ours_time, _ = timed(ours, repeat=3)
    baseline_time, plain = timed(baseline, repeat=3)
    return [
        row(
            "frame() (open + join)",
            size,
            ours_time,
            baseline_time,
            "—",
            None,
            note=(
                f"{frame.shape[1]} columns (a scan-shaped result); baseline: pandas reads the "
                f"same Parquet files and joins them ({plain.shape[1]} columns, no current "
                f"labels or flags); first call {first * 1000:.0f} ms"
            ),
        )
    ]


def _confusion_rows(store, size: str, count: int) -> list[dict]:
    from erroranalysis.analysis.confusion import ConfusionState

    run = store.run()
    start = time.perf_counter()
    state = ConfusionState.from_store(store, run)
    build = time.perf_counter() - start
    predicted = state.predicted
    k = store.num_classes
    rng = np.random.default_rng(2)
    ids = store.sample_ids
    incremental, single = [], []
    for _ in range(count):
        position = int(rng.integers(len(ids)))
        label = store.classes[int(rng.integers(k))]
        store.relabel(ids[position], label)
        start = time.perf_counter()
        state.sync(store.label_codes())
        incremental.append(time.perf_counter() - start)
        start = time.perf_counter()
        state.apply_relabel(position, None, store.class_index[label])
        single.append(time.perf_counter() - start)
    labels = store.label_codes()
    expected = np.bincount(labels.astype(np.int64) * k + predicted, minlength=k * k).reshape(k, k)
    if not np.array_equal(expected, state.matrix):
        raise RuntimeError("the incremental confusion matrix differs from a full recount")

    def recount():
        codes = store.label_codes()
        return np.bincount(codes.astype(np.int64) * k + predicted, minlength=k * k)

    full, _ = timed(recount, repeat=10)
    p50, p95 = percentile(incremental, 50), percentile(incremental, 95)
    return [
        row(
            f"confusion after one relabel, p50 ({count})",
            size,
            p50,
            full,
            "—",
            None,
            note=(
                "ConfusionState.sync(store.label_codes()) after store.relabel; baseline: "
                f"recount the K×K matrix with np.bincount; initial build {build * 1000:.0f} ms"
            ),
        ),
        row(
            f"confusion after one relabel, p95 ({count})",
            size,
            p95,
            full,
            "≤ 5 ms",
            p95 <= 0.005,
            note="checked equal to a full recount at the end",
        ),
        row(
            "confusion apply_relabel alone (p50)",
            size,
            percentile(single, 50),
            None,
            "—",
            None,
            note="the O(1) move of one count, when the caller knows the position",
        ),
    ]


def run(quick: bool = False) -> list[dict]:
    """Measure frame() and the incremental confusion update; returns result rows.

    Parameters
    ----------
    quick : bool
        N = 100k instead of 1M (K = 100 in both).
    """
    samples, classes = (100_000, 100) if quick else (1_000_000, 100)
    size = f"N={samples:,} K={classes:,}"
    with tempfile.TemporaryDirectory(prefix="ea-bench-views-") as temporary:
        store = synthetic_store(samples, classes, workdir=temporary)
        rows = _frame_rows(store, size)
        rows += _confusion_rows(store, size, 50 if quick else 200)
        store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N = 100k instead of 1M")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
