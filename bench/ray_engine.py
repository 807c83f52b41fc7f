"""The Ray engine against the local engine: ``ea.predict(engine="ray")`` vs ``ea.predict()``.

Both run the same timm model over the same store of small PNG images on this machine, each in
its own process (imports included, so both pay the same start-up). The Ray path runs on a real
two-node cluster (the integration tests' head node and worker node process, 1 CPU each, inside a
loopback-only network namespace) with one 1-CPU model replica per node; the local path is plain
``ea.predict`` with its default threads. So the comparison shows what the Ray path costs over the
local one here, not a speed-up. Each engine runs at two store sizes (2,000 and 20,000 images;
``--quick``: 200 and 2,000) and ``seconds = fixed + per_image × N`` is fitted through both,
giving each path's fixed cost (imports, actor start, model shipping) and marginal per-image cost.

CPU seconds are counted with a cgroup-v1 ``cpuacct`` group per path (every process of the run:
for Ray the driver, both nodes' raylets, agents and workers, for the whole call); without one
(no permission) they are left out. A third measurement times the per-CPU decode + resize cost of
ImageNet-sized JPEGs with a resnet50 eval transform, the CPU side of the 1.28 M-image estimate in
BENCHMARKS.md.

    python bench/ray_engine.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import format_table, row

REPO = Path(__file__).resolve().parents[1]
MODEL, IMAGE_SIZE, BATCH, SHARD = "resnet10t", 32, 128, 2048
#: Store sizes per mode. On the 2-core machine at load 11-18 the full mode took 19 min and
#: ``--quick`` 10 min (mostly fixed costs: imports, cluster start, actor start), more than the
#: harness's default limits: run it with ``EA_BENCH_MODULE_TIMEOUT=2400``.
SIZES = {True: (200, 2000), False: (2000, 20000)}
_CGROUP_ROOT = Path("/sys/fs/cgroup/cpuacct")


class CpuCounter:
    """CPU seconds of every process that joins one cgroup-v1 ``cpuacct`` group (None: none)."""

    def __init__(self, name: str) -> None:
        self.path: Path | None = _CGROUP_ROOT / f"{name}-{os.getpid()}"
        try:
            self.path.mkdir()
        except OSError:
            self.path = None

    def join(self) -> None:
        """Move the calling process into the group (for ``preexec_fn``)."""
        if self.path is not None:
            (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def seconds(self) -> float | None:
        if self.path is None:
            return None
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        if self.path is None:
            return
        for _ in range(50):  # the group can only go once its processes have
            with contextlib.suppress(OSError):
                self.path.rmdir()
                return
            time.sleep(0.2)


def _store(folder: Path, count: int):
    """``count`` distinct 32-px PNGs (random pixels), written cheaply (one array per 1,000)."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    import erroranalysis as ea

    rng = np.random.default_rng(0)
    root = folder / "images"
    root.mkdir(parents=True)
    rows = []
    for start in range(0, count, 1000):
        block = rng.integers(0, 255, (min(1000, count - start), IMAGE_SIZE, IMAGE_SIZE, 3))
        for offset, pixels in enumerate(block.astype(np.uint8)):
            i = start + offset
            Image.fromarray(pixels).save(root / f"{i:06d}.png", compress_level=1)
            rows.append({"sample_id": f"s{i:06d}", "label": "ab"[i % 2], "path": f"{i:06d}.png"})
    return ea.Store.create(
        folder / "store", classes=["a", "b"], samples=pd.DataFrame(rows), image_root=root
    )


def _decode_cost(folder: Path, count: int = 48) -> float:
    """Seconds per image, one thread: ImageNet-sized JPEG → resnet50 eval tensor (224 px)."""
    import numpy as np
    import timm
    import torch
    from PIL import Image

    from erroranalysis.ingest import _torch_data
    from erroranalysis.ingest.predict import _timm_transform

    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:375, 0:500]
    paths = []
    for i in range(count):  # smooth content plus noise: ~100-150 KB, like ImageNet's photos
        base = np.stack([(x * (i + 1)) % 256, (y * 2 + i) % 256, (x + y) % 256], -1)
        noise = rng.normal(0, 12, base.shape)
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        path = folder / f"photo{i:03d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    transform, _ = _timm_transform(timm.create_model("resnet50", pretrained=False), None)
    for path in paths[:4]:  # warm-up
        transform(_torch_data.load_rgb(path))
    started = time.process_time()
    for path in paths:
        transform(_torch_data.load_rgb(path))
    return (time.process_time() - started) / count


def _timed_run(command: list[str], counter: CpuCounter, env: dict, timeout: float) -> dict:
    """Run a driver process in ``counter``'s group; its JSON line plus wall and CPU seconds."""
    before = counter.seconds()
    started = time.perf_counter()
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=counter.join if counter.path is not None else None,
    )
    wall = time.perf_counter() - started
    after = counter.seconds()
    if done.returncode != 0:
        raise RuntimeError(f"driver failed ({done.returncode}): {done.stderr[-3000:]}")
    info = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    info["process_seconds"] = wall
    info["cpu"] = None if before is None or after is None else after - before
    return info


def _fit(sizes: tuple[int, int], values: tuple[float, float]) -> tuple[float, float]:
    per_image = (values[1] - values[0]) / (sizes[1] - sizes[0])
    return values[0] - per_image * sizes[0], per_image


def _cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} CPU-s"


def run(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(REPO))
    from erroranalysis.machine import machine_description
    from tests.integration import ray_cluster

    reason = ray_cluster.usable()
    if reason is not None:
        raise RuntimeError(f"no local Ray cluster possible here: {reason}")
    machine = machine_description()
    sizes = SIZES[quick]
    local_counter, ray_counter = CpuCounter("ea-bench-local"), CpuCounter("ea-bench-ray")
    results: dict[str, list[dict]] = {"local": [], "ray": []}
    cluster = ray_cluster.RayCluster(num_cpus=1, worker_cpus=1, cgroup=ray_counter.path)
    try:
        with tempfile.TemporaryDirectory(prefix="ea-bench-ray-") as tmp:
            decode = _decode_cost(Path(tmp))
            started = time.perf_counter()
            cluster.start()
            cluster_start = time.perf_counter() - started
            idle_before = ray_counter.seconds()
            time.sleep(10)  # what the idle cluster itself burns
            idle = None if idle_before is None else (ray_counter.seconds() - idle_before) / 10
            for count in sizes:
                store = _store(Path(tmp) / f"n{count}", count)
                kwargs = {
                    "model": MODEL,
                    "image_size": IMAGE_SIZE,
                    "batch_size": BATCH,
                    "chunk_size": SHARD,
                }
                local_spec = {
                    "store": str(store.path),
                    "action": "predict",
                    "kwargs": {**kwargs, "run": "local"},
                }
                command = [sys.executable, str(ray_cluster.DRIVER), json.dumps(local_spec)]
                results["local"].append(_timed_run(command, local_counter, cluster.env, 3600))
                ray_spec = {
                    "store": str(store.path),
                    "action": "predict",
                    "kwargs": {
                        **kwargs,
                        "run": "ray",
                        "engine": "ray",
                        "address": ray_cluster.ADDRESS,
                    },
                }
                results["ray"].append(
                    _timed_run(cluster.driver_command(ray_spec), ray_counter, cluster.env, 3600)
                )
                print(
                    f"{count} images: local {results['local'][-1]['process_seconds']:.1f} s, "
                    f"ray {results['ray'][-1]['process_seconds']:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        cluster.stop()
        local_counter.close()
        ray_counter.close()
    load = os.getloadavg()[0]
    info = results["ray"][-1]
    note = (
        f"{MODEL} {IMAGE_SIZE}px batch {BATCH}, shards of {SHARD}; Ray: "
        f"{info['num_workers']} replicas × {info['cpus_per_worker']:g} CPU on "
        f"{info['cluster']['nodes']} nodes; load {load:.1f}; {machine}"
    )
    rows = []
    for i, count in enumerate(sizes):
        ray_run, local_run = results["ray"][i], results["local"][i]
        detail = (
            f"whole process: ray {ray_run['process_seconds']:.1f} s "
            f"({_cpu(ray_run['cpu'])}), local {local_run['process_seconds']:.1f} s "
            f"({_cpu(local_run['cpu'])}); ray run {ray_run['seconds']:.1f} s, "
            f"local run {local_run['seconds']:.1f} s"
        )
        rows.append(
            row(
                "ray / local predict, whole process wall",
                f"{count} images",
                ray_run["process_seconds"],
                local_run["process_seconds"],
                "report",
                None,
                "s",
                f"{detail}; {note}",
            )
        )
        if ray_run["cpu"] is not None and local_run["cpu"] is not None:
            rows.append(
                row(
                    "ray / local predict, CPU seconds (all processes)",
                    f"{count} images",
                    ray_run["cpu"],
                    local_run["cpu"],
                    "report",
                    None,
                    "s",
                    note,
                )
            )
    fits = {}
    for engine in ("ray", "local"):
        wall = tuple(r["process_seconds"] for r in results[engine])
        cpu = tuple(r["cpu"] for r in results[engine])
        fits[engine] = {
            "wall": _fit(sizes, wall),
            "cpu": None if None in cpu else _fit(sizes, cpu),
        }
    big = sizes[1]

    def fit_text(engine: str) -> str:
        fixed, per = fits[engine]["wall"]
        text = f"{engine} fixed {fixed:.1f} s + {per * 1e3:.2f} ms/img"
        if fits[engine]["cpu"] is not None:
            cpu_fixed, cpu_per = fits[engine]["cpu"]
            text += f" (CPU: {cpu_fixed:.1f} s + {cpu_per * 1e3:.2f} ms/img)"
        return text

    rows.append(
        row(
            "marginal seconds per image (ray / local), two-point fit",
            f"{sizes[0]}→{big} images",
            fits["ray"]["wall"][1],
            fits["local"]["wall"][1],
            "report",
            None,
            "s",
            f"{fit_text('ray')}; {fit_text('local')}; cluster start {cluster_start:.0f} s "
            f"(in neither); idle cluster {'n/a' if idle is None else f'{idle:.2f}'} CPU-s/s; "
            f"{machine}",
        )
    )
    rows.append(
        row(
            "decode + resize per image, 1 CPU (ImageNet-sized JPEG → resnet50 224 px)",
            "48 images 500×375",
            decode,
            None,
            "report",
            None,
            "s",
            f"PIL via the package's loader + timm eval transform; load {load:.1f}; {machine}",
        )
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 and 2,000 images")
    args = parser.parse_args()
    from erroranalysis.machine import machine_description

    print(machine_description())
    rows = run(quick=args.quick)
    print(format_table(rows))
    for entry in rows:  # the details (CPU seconds, fits, load, machine) beside every figure
        print(f"- {entry['measurement']} ({entry['size']}): {entry['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
