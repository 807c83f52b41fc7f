"""Grad-CAM cost per image: ``ea.explain``'s path against pytorch-grad-cam's plain use.

resnet18 (pretrained=False, 1,000 classes) at 224 px on the CPU, model loaded, batch of 8
random images. ``ours`` is :func:`erroranalysis.analysis.saliency._grad_cam` (parameters frozen,
backward pass starting at the target layer, channels-last off), for the predicted class and, in a
second row, for the predicted and a second class; ``baseline`` is ``GradCAM(model, [layer4])``
called as its README shows (full backward through the network). Rounds alternate.

Design target: ≤ 100 ms per image (one class) on 2 CPU cores.

    python bench/gradcam.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import format_table, row

TARGET_MS = 100.0


def run(quick: bool = False) -> list[dict]:
    import timm
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from erroranalysis.analysis.saliency import _grad_cam

    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, num_classes=1000).eval()
    batch_size, rounds = 8, (2 if quick else 5)
    batch = torch.randn(batch_size, 3, 224, 224)
    with torch.no_grad():
        predicted = model(batch).argmax(1).tolist()
    one = [[c] for c in predicted]
    two = [[c, (c + 1) % 1000] for c in predicted]

    def ours_one():
        _grad_cam(model, batch, one, None, 4)

    def ours_two():
        _grad_cam(model, batch, two, None, 4)

    def baseline():
        with GradCAM(model, [model.layer4]) as cam:
            cam(batch, [ClassifierOutputTarget(c) for c in predicted])

    functions = {"one": ours_one, "two": ours_two, "baseline": baseline}
    for function in functions.values():
        function()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append((time.perf_counter() - start) / batch_size * 1000)
    ms = {name: statistics.median(values) for name, values in times.items()}
    threads = torch.get_num_threads()
    size = f"resnet18 224px, batch {batch_size}, {threads} threads"
    return [
        row(
            "Grad-CAM per image, predicted class", size, ms["one"], ms["baseline"],
            f"≤ {TARGET_MS:.0f} ms", ms["one"] <= TARGET_MS, unit="ms",
            note="baseline: pytorch-grad-cam GradCAM with a full backward pass",
        ),
        row(
            "Grad-CAM per image, predicted + given class", size, ms["two"], ms["baseline"],
            "—", None, unit="ms", note="two maps per image (the inspector's pair)",
        ),
    ]  # fmt: skip


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
