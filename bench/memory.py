"""Memory growth: peak RSS against N for store open, frame() and a label-issue scan.

Each measurement runs in its own child process (``python -m bench.memory --child OP STORE``),
which imports what the operation needs, resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``), runs the operation once and reports ``VmHWM`` (peak resident set)
and ``VmRSS`` before the operation from ``/proc/self/status``. Each operation runs beside a plain
baseline doing the same job without the store:

==========  =======================================================  ==============================
operation   ours                                                     baseline
==========  =======================================================  ==============================
open        ``Store.open(path)``, ``labels()``, ``run().probs``       ``pd.read_parquet(samples)`` +
                                                                     ``np.load(probs, mmap_mode="r")``
frame       ``Store.open(path).frame()``                              read + join the same Parquet
scan        ``ea.scan(store, analyses="scores,confusion,             ``cleanlab.filter.find_label_
            label_issues")``                                          issues(labels, probs float32,
                                                                     n_jobs=1)``
==========  =======================================================  ==============================

The log-log plot goes to ``bench/results/memory.png`` and ``docs/memory-growth.png``.

    python -m bench.memory [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import format_table, row

REPO_ROOT = Path(__file__).resolve().parents[1]
PLOT_PATHS = (
    REPO_ROOT / "bench" / "results" / "memory.png",
    REPO_ROOT / "docs" / "memory-growth.png",
)
CLASSES = 100
OPERATIONS = ("open", "frame", "scan")
SIZES = {True: (10_000, 50_000), False: (10_000, 100_000, 1_000_000)}
CHILD_TIMEOUT = 900
#: The scan's memory target is judged only where the probability matrix is at least this large.
JUDGED_FROM_MIB = 256


# -- the child process -----------------------------------------------------------------------------


def _status() -> dict[str, float]:
    """VmRSS and VmHWM of this process in MiB."""
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False when the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _child(operation: str, path: Path) -> dict:
    import numpy as np
    import pandas as pd

    import erroranalysis as ea

    if operation in ("scan", "scan_baseline"):
        import cleanlab.filter  # noqa: F401
        import sklearn  # noqa: F401

        import erroranalysis.analysis.scan
        from erroranalysis.analysis import analysis_names

        analysis_names()  # imports every analysis module
    reset = _reset_peak()
    before = _status()
    start = time.perf_counter()
    if operation == "open":
        store = ea.Store.open(path)
        store.labels()
        _ = store.run().probs
    elif operation == "open_baseline":
        table = pd.read_parquet(path / "samples.parquet").set_index("sample_id")["given_label"]
        _ = np.load(next((path / "runs").glob("*/probs.npy")), mmap_mode="r")
        del table
    elif operation == "frame":
        frame = ea.Store.open(path).frame()
        del frame
    elif operation == "frame_baseline":
        table = pd.read_parquet(path / "samples.parquet")
        for result in sorted((path / "runs").glob("*/results/*.parquet")):
            extra = pd.read_parquet(result)
            for column in extra.columns:
                table[column] = extra[column].to_numpy()
        del table
    elif operation == "scan":
        store = ea.Store.open(path)
        ea.scan(store, analyses="scores,confusion,label_issues", progress=False, force=True)
    elif operation == "scan_baseline":
        from cleanlab.filter import find_label_issues

        store = ea.Store.open(path)
        labels = np.asarray(store.label_codes(), dtype=np.int64)
        probs = np.asarray(store.run().probs, dtype=np.float32)
        find_label_issues(
            labels,
            probs,
            filter_by="prune_by_noise_rate",
            return_indices_ranked_by="self_confidence",
            n_jobs=1,
        )
    else:
        raise ValueError(f"unknown memory operation {operation!r}")
    seconds = time.perf_counter() - start
    after = _status()
    return {
        "operation": operation,
        "peak_mib": after["VmHWM"],
        "before_mib": before["VmRSS"],
        "peak_reset": reset,
        "seconds": seconds,
    }


# -- the parent ------------------------------------------------------------------------------------


def measure(operation: str, path: Path) -> dict:
    """Run one operation on the store at ``path`` in a child process; its peak RSS in MiB.

    Parameters
    ----------
    operation : str
        ``open``, ``frame``, ``scan`` or the same with ``_baseline``.
    path : Path
        The store folder (scans write into it: pass a private copy).

    Returns
    -------
    dict
        ``peak_mib`` (VmHWM), ``before_mib`` (VmRSS after imports, before the operation),
        ``peak_reset`` (whether VmHWM was reset after the imports), ``seconds``.
    """
    completed = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--child", operation, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        tail = completed.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"memory child {operation} failed: {' / '.join(tail)}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _slope(sizes: list[int], values: list[float]) -> float | None:
    """Log-log growth exponent between the two largest N (fixed costs blur the small ones)."""
    if len(sizes) < 2 or min(values[-2], values[-1]) <= 0:
        return None
    return math.log(values[-1] / values[-2]) / math.log(sizes[-1] / sizes[-2])


def plot(measurements: dict[str, dict[int, dict]], paths=PLOT_PATHS) -> list[Path]:
    """Log-log plot of peak RSS (left) and its growth over the imports (right) against N.

    Returns the written paths; none (with a warning) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        import warnings

        warnings.warn(
            "matplotlib is not installed: no memory plot (pip install matplotlib)", stacklevel=2
        )
        return []
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = {"open": "tab:blue", "frame": "tab:green", "scan": "tab:red"}
    for operation in OPERATIONS:
        for suffix, style, label in (("", "-o", "ours"), ("_baseline", "--s", "baseline")):
            found = measurements.get(operation + suffix, {})
            if not found:
                continue
            sizes = sorted(found)
            peak = [found[n]["peak_mib"] for n in sizes]
            grown = [max(found[n]["peak_mib"] - found[n]["before_mib"], 0.1) for n in sizes]
            name = f"{operation} ({label})"
            left.plot(sizes, peak, style, color=colours[operation], label=name)
            right.plot(sizes, grown, style, color=colours[operation], label=name)
    for axis, title in (
        (left, "peak RSS (MiB)"),
        (right, "peak RSS − RSS after imports (MiB)"),
    ):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel(f"samples N (K = {CLASSES}, float16 probs, 128-d embeddings)")
        axis.set_title(title)
        axis.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=8)
    figure.tight_layout()
    written = []
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
        written.append(path)
    plt.close(figure)
    return written


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> list[dict]:
    """Peak RSS against N for open / frame() / scan and their baselines; result rows.

    Parameters
    ----------
    quick : bool
        N ∈ {10k, 50k} instead of {10k, 100k, 1M}.
    sizes : tuple of int, optional
        Override the sample counts (tests use tiny ones).
    """
    from bench.harness import synthetic_store

    sizes = tuple(sorted(sizes or SIZES[quick]))
    measurements: dict[str, dict[int, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="ea-bench-memory-") as temporary:
        for samples in sizes:
            shared = synthetic_store(samples, CLASSES)
            shared.close()
            private = synthetic_store(samples, CLASSES, workdir=Path(temporary) / str(samples))
            private.close()
            for operation in OPERATIONS:
                path = private.path if operation == "scan" else shared.path
                for name in (operation, operation + "_baseline"):
                    measurements.setdefault(name, {})[samples] = measure(name, path)
    rows = []
    for operation in OPERATIONS:
        ours, base = measurements[operation], measurements[operation + "_baseline"]
        for samples in sizes:
            mine, plain = ours[samples], base[samples]
            grown = mine["peak_mib"] - mine["before_mib"]
            plain_grown = plain["peak_mib"] - plain["before_mib"]
            target, passed = "—", None
            note = (
                f"+{grown:.0f} MiB over imports (baseline +{plain_grown:.0f} MiB); "
                f"{mine['seconds']:.1f} s vs {plain['seconds']:.1f} s"
            )
            if operation == "scan":
                array = samples * CLASSES * 4 / 2**20
                target = "growth ≤ 2× float32 probs"
                note += f"; float32 probs = {array:.0f} MiB"
                if array >= JUDGED_FROM_MIB:
                    passed = grown <= 2 * array
                else:
                    note += f" (judged from {JUDGED_FROM_MIB} MiB up: fixed costs dominate below)"
            if not mine["peak_reset"]:
                note += "; peak counter could not be reset (includes imports)"
            rows.append(
                row(
                    f"peak RSS: {operation}",
                    f"N={samples:,} K={CLASSES}",
                    mine["peak_mib"],
                    plain["peak_mib"],
                    target,
                    passed,
                    unit="MiB",
                    note=note,
                )
            )
        growth = [max(ours[n]["peak_mib"] - ours[n]["before_mib"], 0.1) for n in sizes]
        slope = _slope(list(sizes), growth)
        if slope is not None:
            rows[-1]["note"] += f"; growth ∝ N^{slope:.2f} from N={sizes[-2]:,} to {sizes[-1]:,}"
    written = plot(measurements, PLOT_PATHS)
    if written:
        shown = [
            str(p.relative_to(REPO_ROOT) if p.is_relative_to(REPO_ROOT) else p) for p in written
        ]
        rows[0]["note"] += "; plot: " + ", ".join(shown)
    else:
        rows[0]["note"] += "; no plot (matplotlib missing)"
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N ∈ {10k, 50k}")
    parser.add_argument("--child", nargs=2, metavar=("OPERATION", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], Path(args.child[1]))))
        return
    print(format_table(run(quick=args.quick)))


if __name__ == "__main__":
    main()
