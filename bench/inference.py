"""timm inference throughput: ``ea.predict``'s path against a plain fp32 NCHW eager torch loop.

Two measurements, both in this process with the same model weights, batch size and threads:

- **inference path**: the same preprocessed tensors through ``ea.predict``'s engine
  (``erroranalysis.ingest.predict._Engine``: eval mode, channels-last, ``inference_mode``,
  probabilities *and* pre-logits embeddings) and through a plain loop
  (``with torch.no_grad(): model(x).softmax(1)``, NCHW, fp32). Rounds alternate between the two
  and the median per-batch time is used, so a busy machine slows both alike.
- **end to end** (full mode only): ``ea.predict`` over a store of PNG images against a plain
  DataLoader loop with the same timm transform, batch size and workers.

Design target: ≥ 1.3× the baseline's throughput (channels-last is 1.3–1.9× on these CPUs;
bf16 is never used on CPUs without AMX/AVX512-BF16).

    python bench/inference.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``erroranalysis`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import format_table, row

TARGET = 1.3

#: (model, image size, batch size, timed rounds) per mode.
CASES = {
    True: [("resnet18", 224, 32, 3)],
    False: [("resnet18", 224, 32, 5), ("resnet50", 160, 32, 3), ("convnext_atto", 160, 32, 5)],
}


def _median_batch_seconds(functions: dict[str, Any], batches: list[Any], rounds: int) -> dict:
    """Alternate the functions round by round; median seconds per batch of each."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            for batch in batches:
                start = time.perf_counter()
                function(batch)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def inference_path(model_name: str, image_size: int, batch_size: int, rounds: int) -> dict:
    """Images per second of ea.predict's engine and of a plain fp32 NCHW eager loop."""
    import timm
    import torch

    from erroranalysis.ingest.predict import _Engine

    torch.manual_seed(0)
    plain = timm.create_model(model_name, pretrained=False, num_classes=10).eval()
    ours_model = copy.deepcopy(plain)
    engine = _Engine(ours_model, 10, torch.device("cpu"), "fp32", channels_last=True)
    generator = torch.Generator().manual_seed(0)
    batches = [
        torch.randn(batch_size, 3, image_size, image_size, generator=generator) for _ in range(2)
    ]

    def baseline(batch: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return plain(batch).softmax(1)

    def ours(batch: torch.Tensor) -> Any:
        return engine(batch)

    # Same answers (so the comparison is of equals), then warm up both (oneDNN primitive caches).
    expected = baseline(batches[0])
    got, _ = ours(batches[0])
    if not torch.allclose(expected, got, atol=1e-3):
        raise AssertionError(f"engine disagrees with the plain loop on {model_name}")
    for batch in batches:
        baseline(batch)
        ours(batch)
    seconds = _median_batch_seconds({"ours": ours, "baseline": baseline}, batches, rounds)
    engine.close()
    return {
        "ours": batch_size / seconds["ours"],
        "baseline": batch_size / seconds["baseline"],
        "threads": torch.get_num_threads(),
    }


def end_to_end(model_name: str, image_size: int, batch_size: int, count: int) -> dict:
    """Images per second of ea.predict on a store and of a plain DataLoader loop (same transform)."""
    import numpy as np
    import pandas as pd
    import timm
    import torch
    from PIL import Image

    import erroranalysis as ea
    from erroranalysis.ingest import _torch_data

    with tempfile.TemporaryDirectory(prefix="ea-bench-inference-") as folder:
        root = Path(folder) / "images"
        root.mkdir()
        rng = np.random.default_rng(0)
        rows = []
        for i in range(count):
            pixels = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"{i:05d}.png")
            rows.append({"sample_id": f"s{i:05d}", "label": f"c{i % 10}", "path": f"{i:05d}.png"})
        store = ea.Store.create(
            Path(folder) / "store",
            classes=[f"c{k}" for k in range(10)],
            samples=pd.DataFrame(rows),
            image_root=root,
        )
        torch.manual_seed(0)
        plain = timm.create_model(model_name, pretrained=False, num_classes=10).eval()
        ours_model = copy.deepcopy(plain)
        workers = _torch_data.default_num_workers()
        config = timm.data.resolve_model_data_config(plain)
        config["input_size"] = (3, image_size, image_size)
        transform = timm.data.create_transform(**config, is_training=False)
        paths = _torch_data.image_paths(store)
        dataset = _torch_data.StoreImageDataset(paths, list(store.sample_ids), transform)

        def baseline() -> None:
            loader = torch.utils.data.DataLoader(
                dataset, batch_size=batch_size, num_workers=workers
            )
            with torch.no_grad():
                for batch, _ in loader:
                    plain(batch).softmax(1)

        # Warm up both once, then alternate.
        baseline()
        ea.predict(store, ours_model, run="warm", image_size=image_size, batch_size=batch_size,
                   num_workers=workers, progress=False)  # fmt: skip
        times: dict[str, list[float]] = {"ours": [], "baseline": []}
        for attempt in range(2):
            start = time.perf_counter()
            ea.predict(store, ours_model, run=f"r{attempt}", image_size=image_size,
                       batch_size=batch_size, num_workers=workers, progress=False)  # fmt: skip
            times["ours"].append(time.perf_counter() - start)
            start = time.perf_counter()
            baseline()
            times["baseline"].append(time.perf_counter() - start)
        store.close()
    return {"ours": count / min(times["ours"]), "baseline": count / min(times["baseline"])}


def run(quick: bool = False) -> list[dict]:
    """Measure and return result rows (images per second; ratio = ours / baseline).

    Parameters
    ----------
    quick : bool
        One small case (seconds) instead of three models and an end-to-end run (minutes).

    Returns
    -------
    list of dict
        Rows with ``measurement, size, ours, baseline, ratio, target, passed, unit, note``.
    """
    import torch

    rows = []
    for model_name, image_size, batch_size, rounds in CASES[quick]:
        result = inference_path(model_name, image_size, batch_size, rounds)
        ratio = result["ours"] / result["baseline"]
        rows.append(
            row(
                "timm inference path vs plain fp32 NCHW eager loop",
                f"{model_name} {image_size}px batch {batch_size}",
                result["ours"],
                result["baseline"],
                f"≥ {TARGET}× throughput",
                ratio >= TARGET,
                unit="img/s",
                note=f"{result['threads']} threads; ours also computes pre-logits embeddings",
            )
        )
    if not quick:
        result = end_to_end("resnet18", 128, 32, count=256)
        ratio = result["ours"] / result["baseline"]
        rows.append(
            row(
                "ea.predict end to end vs plain DataLoader loop",
                "resnet18 128px batch 32, 256 PNGs",
                result["ours"],
                result["baseline"],
                f"≥ {TARGET}× throughput",
                ratio >= TARGET,
                unit="img/s",
                note=f"{torch.get_num_threads()} threads; includes decoding, chunk files, add_run",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one small case (seconds)")
    args = parser.parse_args(argv)
    print(format_table(run(quick=args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
