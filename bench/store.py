"""Store benchmarks: open, labels(), lowest-100 by a score, relabel commit latency.

Each measurement runs beside a plain baseline in the same process (pandas/numpy/sqlite doing the
same job without the store), so the ratio survives the machine's noise.

    python bench/store.py [--quick]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import erroranalysis as ea
from bench._common import format_table, percentile, row, timed
from bench.harness import synthetic_store


def run(quick: bool = False) -> list[dict]:
    """Measure the store; returns result rows for the benchmark table."""
    samples, classes = (100_000, 100) if quick else (1_000_000, 1_000)
    size = f"N={samples:,} K={classes:,}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="ea-bench-store-") as temporary:
        folder = Path(temporary)
        start = time.perf_counter()
        # the harness's cached synthetic store (built once); a private copy since we write to it
        path = Path(synthetic_store(samples, classes, workdir=folder).path)
        print(f"store {size} ready in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        # a journal with events, so that opening has something to replay
        writer = ea.Store.open(path)
        for index in range(10):
            writer.relabel(writer.sample_ids[index * 7], writer.classes[index % classes])
        writer.close()

        def open_store():
            store = ea.Store.open(path)
            _ = store.run().probs
            return store

        def open_baseline():
            table = pd.read_parquet(path / "samples.parquet")
            probs = np.load(path / "runs" / "bench" / "probs.npy", mmap_mode="r")
            return table, probs

        ours, store = timed(open_store)
        baseline, _ = timed(open_baseline)
        rows.append(
            row(
                "store open",
                size,
                ours,
                baseline,
                "≤ 1 s",
                ours <= 1.0,
                note="baseline reads the samples table eagerly",
            )
        )

        ours, _ = timed(lambda: ea.Store.open(path).labels())
        table = pd.read_parquet(path / "samples.parquet")
        baseline, _ = timed(
            lambda: pd.read_parquet(path / "samples.parquet").set_index("sample_id")["given_label"]
        )
        rows.append(row("open + labels()", size, ours, baseline, "—", None))

        def first_query_on_open_store() -> float:
            opened = ea.Store.open(path)
            start = time.perf_counter()
            opened.lowest("label_quality", 100)
            elapsed = time.perf_counter() - start
            opened.close()
            return elapsed

        ours = float(np.median([first_query_on_open_store() for _ in range(5)]))
        scores_path = path / "runs" / "bench" / "results" / "bench_scores.parquet"
        baseline, _ = timed(
            lambda: (
                pd.read_parquet(scores_path, columns=["label_quality"])
                .assign(sample_id=table["sample_id"])
                .nsmallest(100, "label_quality")
            )
        )
        rows.append(
            row(
                "lowest-100 by score (first query)",
                size,
                ours,
                baseline,
                "≤ 100 ms",
                ours <= 0.1,
                note="store already open; reads the one column from Parquet",
            )
        )
        fresh = ea.Store.open(path)
        fresh.lowest("label_quality", 100)
        ours, _ = timed(lambda: fresh.lowest("label_quality", 100))
        rows.append(row("lowest-100 by score (warm)", size, ours, None, "≤ 100 ms", ours <= 0.1))

        ids = store.sample_ids
        rng = np.random.default_rng(1)
        latencies = []
        count = 200 if quick else 1000
        for _ in range(count):
            sample = ids[int(rng.integers(len(ids)))]
            label = store.classes[int(rng.integers(classes))]
            start = time.perf_counter()
            store.relabel(sample, label)
            latencies.append(time.perf_counter() - start)
        connection = sqlite3.connect(folder / "plain.sqlite", isolation_level=None)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, sample TEXT, label TEXT)")
        plain = []
        for index in range(count):
            start = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO t (sample, label) VALUES (?, ?)", (str(index), "x"))
            connection.execute("COMMIT")
            plain.append(time.perf_counter() - start)
        p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
        rows.append(
            row(
                f"relabel commit p50 ({count})",
                size,
                p50,
                percentile(plain, 50),
                "—",
                None,
                note="baseline: bare sqlite insert, same pragmas",
            )
        )
        rows.append(
            row(
                f"relabel commit p95 ({count})",
                size,
                p95,
                percentile(plain, 95),
                "≤ 10 ms",
                p95 <= 0.010,
            )
        )
        store.close()
        fresh.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N=100k, K=100 instead of 1M × 1,000")
    args = parser.parse_args()
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
