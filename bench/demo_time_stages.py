"""CPU cost of each demo stage in baseline training steps, for machines too busy to time by wall.

On a shared machine wall time says little, so this measures process CPU seconds, in one
process and one torch thread: a plain timm ``resnet10t`` training step (32 px, batch 64,
channels-last, fused AdamW: the step issue 10 quotes as 300 ms on a 2-core AVX2 machine), then
each stage of :func:`erroranalysis.datasets.build_demo`, then the baseline step again. A stage's
cost is reported as CPU seconds and as baseline steps, and converted to the reference machine as
``steps × 300 ms``. The conversion assumes the stage's work scales across that machine's two
threads as well as the baseline step does (tiny networks scale worse, so it is a lower bound).

    python -m bench.demo_time_stages [--stages quick,full] [--samples 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

#: Wall time of one baseline step on the reference machine (issue 10: 2-core AMD EPYC, AVX2).
REFERENCE_STEP_SECONDS = 0.300


def baseline_step_cpu(steps: int = 12) -> float:
    """Process CPU seconds of one resnet10t 32-px batch-64 training step (after 3 warm-ups)."""
    import timm
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)  # the demo's training may have set it back to one per core
    torch.manual_seed(0)
    model = timm.create_model("resnet10t", num_classes=6).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    x = torch.randn(64, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 6, (64,))

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    start = time.process_time()
    for _ in range(steps):
        step()
    return (time.process_time() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stages", default="quick")
    parser.add_argument("--samples", type=int, default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from erroranalysis.datasets.demo import build_demo, finish_demo
    from erroranalysis.machine import machine_description

    stages = args.stages.split(",")
    before = baseline_step_cpu()
    with tempfile.TemporaryDirectory(prefix="ea-demo-stages-") as temporary:
        out = Path(temporary) / "demo-store"
        cpu, wall = time.process_time(), time.perf_counter()
        result = build_demo(
            out, n_samples=args.samples, stages=stages, until=stages[0], progress=False,
            verbose=False,
        )  # fmt: skip
        first = (time.process_time() - cpu, time.perf_counter() - wall)
        if result.pending:
            result = finish_demo(out, progress=False, verbose=False)
    after = baseline_step_cpu()
    step = (before + after) / 2
    print(f"machine: {machine_description()}; load average {os.getloadavg()[0]:.1f}")
    print(
        f"baseline resnet10t step: {before * 1000:.0f} / {after * 1000:.0f} CPU-ms (before / "
        f"after); reference machine {REFERENCE_STEP_SECONDS * 1000:.0f} ms"
    )
    print(
        f"first stage published after {first[0]:.1f} CPU-s ({first[1]:.0f} s wall here) = "
        f"{first[0] / step:.0f} baseline steps ≈ {first[0] / step * REFERENCE_STEP_SECONDS:.0f} s "
        "on the reference machine (generate, store, train, scan)"
    )
    for stage in result.stages:
        seconds = stage["seconds"]
        noise = (stage.get("detection") or {}).get("label_noise") or {}
        print(
            f"{stage['name']}: train {seconds['cpu']:.1f} CPU-s = {seconds['cpu'] / step:.0f} "
            f"baseline steps ≈ {seconds['cpu'] / step * REFERENCE_STEP_SECONDS:.0f} s there; "
            f"accuracy on clean common samples {stage['accuracy']['common']:.1%}; label noise "
            f"recall {noise.get('recall', float('nan')):.3f} at precision "
            f"{noise.get('precision', float('nan')):.3f}"
        )


if __name__ == "__main__":
    main()
