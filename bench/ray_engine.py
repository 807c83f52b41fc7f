"""The Ray engine against the local engine: ``ea.predict(engine="ray")`` vs ``ea.predict()``.

Both run the same timm model over the same store of PNG images on this machine; the Ray path
runs on a real one-node cluster (the integration tests' head node: 2 CPUs, inside a
loopback-only network namespace) with one model replica of 2 CPUs, so the comparison shows what
the Ray path costs over the local one here, not a speed-up. Each engine runs at two store sizes;
``seconds = fixed + per_image × N`` is fitted through both, giving the Ray path's fixed cost
(actor start, model shipping) and its marginal per-image cost against the local one's.

    python bench/ray_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import format_table, row

REPO = Path(__file__).resolve().parents[1]
MODEL, IMAGE_SIZE, BATCH = "resnet10t", 64, 32
#: Store sizes per mode; full mode stays inside the harness's 900 s per module on 2 cores
#: (20,000 images take about 15 minutes per engine here: EA_BENCH_MODULE_TIMEOUT=3600).
SIZES = {True: (200, 800), False: (1000, 4000)}


def _store(folder: Path, count: int):
    import numpy as np
    import pandas as pd
    from PIL import Image

    import erroranalysis as ea

    rng = np.random.default_rng(0)
    root = folder / "images"
    root.mkdir(parents=True)
    rows = []
    for i in range(count):
        pixels = rng.integers(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"{i:06d}.png")
        rows.append({"sample_id": f"s{i:06d}", "label": "ab"[i % 2], "path": f"{i:06d}.png"})
    return ea.Store.create(
        folder / "store", classes=["a", "b"], samples=pd.DataFrame(rows), image_root=root
    )


def _fit(sizes: tuple[int, int], seconds: tuple[float, float]) -> tuple[float, float]:
    per_image = (seconds[1] - seconds[0]) / (sizes[1] - sizes[0])
    return seconds[0] - per_image * sizes[0], per_image


def run(quick: bool = False) -> list[dict]:
    import erroranalysis as ea

    sys.path.insert(0, str(REPO))
    from tests.integration import ray_cluster

    reason = ray_cluster.usable()
    if reason is not None:
        raise RuntimeError(f"no local Ray cluster possible here: {reason}")
    sizes = SIZES[quick]
    local_s: list[float] = []
    ray_s: list[float] = []
    ray_info: dict = {}
    cluster = ray_cluster.RayCluster(num_cpus=2)
    started = time.perf_counter()
    cluster.start()
    cluster_start = time.perf_counter() - started
    try:
        with tempfile.TemporaryDirectory(prefix="ea-bench-ray-") as tmp:
            for count in sizes:
                store = _store(Path(tmp) / f"n{count}", count)
                kwargs = {"image_size": IMAGE_SIZE, "batch_size": BATCH, "progress": False}
                local = ea.predict(store, MODEL, run="local", **kwargs)
                local_s.append(local.info["parameters"]["seconds"])
                done = cluster.driver(
                    {
                        "store": str(store.path),
                        "action": "predict",
                        "kwargs": {
                            "model": MODEL,
                            "run": "ray",
                            "image_size": IMAGE_SIZE,
                            "batch_size": BATCH,
                            "engine": "ray",
                            "address": ray_cluster.ADDRESS,
                        },
                    },
                    timeout=3600,
                )
                ray_info = json.loads(done.stdout.strip().splitlines()[-1])
                ray_s.append(ray_info["seconds"])
    finally:
        cluster.stop()
    local_fixed, local_per = _fit(sizes, tuple(local_s))
    ray_fixed, ray_per = _fit(sizes, tuple(ray_s))
    load = os.getloadavg()[0]
    note = (
        f"{MODEL} {IMAGE_SIZE}px batch {BATCH}; Ray: 1 replica × {ray_info.get('cpus_per_worker')} "
        f"CPUs on a 1-node cluster ({ray_info.get('cluster', {}).get('CPU')} CPUs); load {load:.1f}"
    )
    rows = []
    for count, ours, baseline in zip(sizes, ray_s, local_s, strict=True):
        rows.append(
            row(
                "ray / local predict, wall",
                f"{count} images",
                ours,
                baseline,
                "report",
                None,
                "s",
                note,
            )
        )
    big = sizes[1]
    fit = (
        f"fit seconds = fixed + per_image × N: ray fixed {ray_fixed:.1f} s, "
        f"{ray_per * 1e3:.1f} ms/img; local fixed {local_fixed:.1f} s, {local_per * 1e3:.1f} ms/img"
        if ray_per > 0 and local_per > 0
        else "no sensible two-point fit (timings too noisy on this machine's load)"
    )
    rows.append(
        row(
            "seconds per image (ray / local)",
            f"{big} images",
            ray_s[1] / big,
            local_s[1] / big,
            "report",
            None,
            "s",
            f"{fit}; cluster start {cluster_start:.0f} s (in neither)",
        )
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (200 and 800 images)")
    args = parser.parse_args()
    from erroranalysis.machine import machine_description

    print(machine_description())
    print(format_table(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
