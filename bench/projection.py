"""Benchmark of the 2-D projection at scale: the PCA first layout and UMAP, against baselines.

Data: ``N`` points in 512-d, 20 clusters on an 8-d latent space mapped non-linearly to 512-d
(:func:`blobs`), float32 in memory.
Every measurement records wall and CPU seconds (this process, all threads) and the load average
before and after, because the machine's two cores are shared; the baselines run in the same
child process as ours.

- **PCA first layout** (what ``Projection`` saves first): :func:`pca_basis` (50 axes, from the
  covariance of 10k rows) and the projection of every row on the first two, against
  scikit-learn's ``PCA(2, svd_solver="full")`` at 70k (``"randomized"`` at 1.28M, where the full
  SVD is out of reach). Target < 1 s at 70k, ≤ 5 s at 1.28M.
- **UMAP** on the PCA-50 features: ours (``umap_layout``: fit on a 20k sample, place the rest,
  all threads) and options (fit on all points; fewer epochs), against umap-learn's defaults
  (``umap.UMAP(n_components=2).fit_transform``: pynndescent kNN, spectral init, all threads) at
  70k. Target ≤ 30 s at 70k, ≤ 10 min at 1.28M. Quality: the share of each point's 15 nearest
  neighbours in the 50-d space that stay among its 15 nearest in 2-d (1,000 random query
  points; kNN preservation), for every layout, PCA's and a random one's included.

Run ``python -m bench.projection [--quick] [--sizes 70000,1280000] [--json out.json]`` or
through the harness (``python -m bench --only projection``); ``run(quick)`` returns the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # also runnable as ``python bench/projection.py``
    sys.path.insert(0, str(ROOT))

from bench._common import format_table, row  # noqa: E402

DIM = 512


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def timed(function) -> tuple[Any, dict[str, float]]:
    """Result and ``{"wall", "cpu", "load_before", "load_after"}`` of one call."""
    load = _load()
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "load_before": load,
        "load_after": _load(),
    }


def blobs(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """``n`` float32 points: 20 clusters on an 8-d latent space, mapped non-linearly to ``dim``.

    Unlike isotropic 512-d blobs, whose within-cluster neighbours are noise, the points have a
    low intrinsic dimension (as a network's embeddings do), so the nearest neighbours mean
    something and kNN preservation tells layouts apart. Generated in chunks.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (20, 8)).astype(np.float32)
    mixing = rng.normal(0, 1 / np.sqrt(8), (8, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        latent = centres[rng.integers(0, 20, stop - start)]
        latent += rng.standard_normal((stop - start, 8), dtype=np.float32)
        out[start:stop] = np.tanh(latent @ mixing)
        out[start:stop] += 0.05 * rng.standard_normal((stop - start, dim), dtype=np.float32)
    return out


def knn_preservation(
    high: np.ndarray, low: np.ndarray, k: int = 15, queries: int = 1000, seed: int = 0
) -> float:
    """Mean share of the ``k`` nearest neighbours in ``high`` kept among the ``k`` in ``low``."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    picked = rng.choice(len(high), min(queries, len(high)), replace=False)
    found = []
    for space in (high, low):
        index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(space)
        neighbours = index.kneighbors(space[picked], return_distance=False)
        found.append([set(r[r != q][:k]) for r, q in zip(neighbours, picked, strict=True)])
    return float(np.mean([len(a & b) / k for a, b in zip(*found, strict=True)]))


def child(n: int, options: list[str]) -> dict[str, Any]:
    """All measurements at one size, in this (fresh) process."""
    import warnings

    from sklearn.decomposition import PCA

    from erroranalysis.analysis.projection import _import_umap, pca_basis, umap_layout

    warnings.simplefilter("ignore")
    out: dict[str, Any] = {"n": n, "dim": DIM, "threads": os.cpu_count()}
    _, out["import_umap"] = timed(_import_umap)
    features, out["generate"] = timed(lambda: blobs(n))
    pca_basis(features[:2000], 2)  # first-call set-up is not the layout's cost

    def first_layout():
        basis = pca_basis(features, 50)
        return basis, basis.project(features, 2)

    (basis, layout), out["pca_ours"] = timed(first_layout)
    solver = "full" if n <= 100_000 else "randomized"
    _, out["pca_baseline"] = timed(
        lambda: PCA(2, svd_solver=solver, random_state=0).fit_transform(features)
    )
    out["pca_baseline"]["solver"] = solver
    reduced, out["pca50_project"] = timed(lambda: basis.project(features, center=False))
    features = None  # free it (the closures above hold the name)
    out["quality_pca"] = knn_preservation(reduced, layout)
    out["quality_random"] = knn_preservation(
        reduced, np.random.default_rng(1).normal(size=(n, 2)).astype(np.float32)
    )
    configs = {
        "ours": {},
        "all": {"fit_samples": None},
        "all_e100": {"fit_samples": None, "n_epochs": 100},
        "s50k": {"fit_samples": 50_000},
        "seeded": {"random_state": 0},
    }
    for name in options:
        if name == "baseline":
            import umap

            def baseline():
                return umap.UMAP(n_components=2).fit_transform(reduced)

            result, out["umap_baseline"] = timed(baseline)
        else:
            seen: list[float] = []
            result, out[f"umap_{name}"] = timed(
                lambda name=name, seen=seen: umap_layout(
                    reduced, progress=lambda f, _s: seen.append(f), **configs[name]
                )
            )
            out[f"umap_{name}"]["progress_calls"] = len(seen)
        out[f"umap_{name}"]["quality"] = knn_preservation(reduced, np.asarray(result))
        print(json.dumps({name: out[f"umap_{name}"]}), file=sys.stderr, flush=True)
    return out


def _spawn(n: int, options: list[str], timeout: int) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench.projection", "--child", str(n), ",".join(options)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        return {"error": f"exit {result.returncode}: {result.stderr.strip()[-400:]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def _note(m: dict[str, float]) -> str:
    return f"{m['cpu']:.1f} s CPU, load {m['load_before']:.1f}→{m['load_after']:.1f}"


def rows_for(data: dict[str, Any]) -> list[dict]:
    """Result rows from one child's measurements."""
    n = data["n"]
    size = f"{n:,} points × {data['dim']}-d"
    pca, base = data["pca_ours"], data["pca_baseline"]
    target = "< 1 s" if n <= 100_000 else "≤ 5 s"
    limit = 1.0 if n <= 100_000 else 5.0
    rows = [
        row(
            f"PCA first layout (vs sklearn PCA, {base['solver']})",
            size,
            pca["wall"],
            base["wall"],
            target,
            pca["wall"] < limit,
            note=f"ours {_note(pca)}; baseline {_note(base)}; kNN kept {data['quality_pca']:.2f}",
        )
    ]
    target = "≤ 30 s" if n <= 100_000 else "≤ 10 min"
    limit = 30.0 if n <= 100_000 else 600.0
    baseline = data.get("umap_baseline")
    labels = {
        "ours": "UMAP, ours (20k sample fitted, rest placed; all threads)",
        "all": "UMAP option: fit on every point (all threads)",
        "all_e100": "UMAP option: fit on every point, 100 epochs",
        "s50k": "UMAP option: 50k sample fitted, rest placed",
        "seeded": "UMAP, ours with random_state=0 (single-threaded, reproducible)",
        "baseline": "UMAP, umap-learn defaults (pynndescent, spectral, all threads)",
    }
    for name, label in labels.items():
        m = data.get(f"umap_{name}")
        if m is None:
            continue
        ref = baseline["wall"] if baseline and name != "baseline" else None
        rows.append(
            row(
                label,
                size,
                m["wall"],
                ref,
                target if name == "ours" else "—",
                m["wall"] <= limit if name == "ours" else None,
                note=f"{_note(m)}; kNN kept {m['quality']:.2f} (PCA {data['quality_pca']:.2f},"
                f" random {data['quality_random']:.3f})",
            )
        )
    return rows


def run(quick: bool = False) -> list[dict]:
    """Rows at 70k (options and baseline) and 1.28M (ours), or small sizes with ``quick``."""
    # quick: no umap-learn baseline (pynndescent's compilation alone is ~70 s of CPU)
    plan = (
        [(5_000, ["ours", "all"])]
        if quick
        else [(70_000, ["ours", "all", "baseline"]), (1_280_000, ["ours"])]
    )
    rows: list[dict] = []
    for n, options in plan:
        data = _spawn(n, options, timeout=3600)
        if "error" in data:
            rows.append(
                row("projection", f"{n:,} points", None, None, "—", None, note=data["error"])
            )
        else:
            rows.extend(rows_for(data))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("N", "OPTIONS"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help="comma-separated sizes, e.g. 70000,1280000")
    parser.add_argument("--options", default="ours", help="UMAP variants for --sizes")
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1].split(","))))
        return 0
    from erroranalysis.machine import machine_description

    print(machine_description())
    if args.sizes:
        raw = [_spawn(int(n), args.options.split(","), timeout=7200) for n in args.sizes.split(",")]
        if args.json:
            Path(args.json).write_text(json.dumps(raw, indent=2))
        rows = [r for data in raw if "error" not in data for r in rows_for(data)]
        for data in raw:
            if "error" in data:
                print(data["error"])
    else:
        rows = run(args.quick)
    print(format_table(rows))
    for entry in rows:
        if entry["note"]:
            print(f"- {entry['measurement']} ({entry['size']}): {entry['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
