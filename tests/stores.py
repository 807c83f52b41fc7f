"""Small real stores for the tests: samples, images, a run and the real ``ea.scan``.

:func:`make_store` builds a store of ``n`` samples with one run (probabilities and embeddings)
and, by default, runs the real scan on it (the 2-D layout by PCA, as the browser tests do), so the
views see exactly the columns and types a user's store has (``label_issue_rank`` nullable,
``suggested_label`` empty where the prediction agrees, the image properties, the ``slices``
artifact). The scan costs seconds, so each distinct store is built once per test process and
copied for every test that asks for it (a test may write to its copy).

``scan="synthetic"`` is for benchmarks only (a million samples cannot be scanned in a benchmark's
set-up): scan-shaped columns derived from the probabilities by the same definitions.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FAST_SCAN_PARAMS", "make_store"]

#: Scan parameters of the test stores (PCA layout: a UMAP of tiny stores is noise and slow).
FAST_SCAN_PARAMS = {"projection": {"method": "pca"}}

_BUILT: dict[tuple, Path] = {}
_CACHE_DIR: Path | None = None


def make_store(
    path: str | Path,
    n: int = 60,
    classes: tuple[str, ...] = ("cat", "dog", "fox"),
    images: bool = True,
    scan: bool | str = True,
    seed: int = 0,
) -> Any:
    """A store of ``n`` samples with one run ``fixture``, scanned by the real ``ea.scan``.

    Parameters
    ----------
    path : path-like
        Store folder (must not exist); images (when asked for) are shared by the copies.
    n : int
        Number of samples.
    classes : tuple of str
        Class names.
    images : bool
        Write a small PNG per sample and reference it.
    scan : bool or "synthetic"
        Run ``ea.scan`` (default; cached), leave the run unscanned (``False``), or save
        scan-shaped columns without scanning (``"synthetic"``: benchmarks only).
    seed : int
        Random seed.

    Returns
    -------
    Store
    """
    from erroranalysis.store import Store

    path = Path(path)
    if scan == "synthetic":
        return _build(path, n, tuple(classes), images, scan, seed)
    key = (n, tuple(classes), bool(images), bool(scan), seed)
    template = _BUILT.get(key)
    if template is None or not template.exists():
        global _CACHE_DIR
        if _CACHE_DIR is None or not _CACHE_DIR.exists():
            _CACHE_DIR = Path(tempfile.mkdtemp(prefix="ea-test-stores-"))
        template = Path(tempfile.mkdtemp(dir=_CACHE_DIR)) / "store"
        _build(template, n, tuple(classes), images, scan, seed).close()
        _BUILT[key] = template
    shutil.copytree(template, path)
    return Store.open(path)


def _build(path: Path, n: int, classes: tuple, images: bool, scan: Any, seed: int) -> Any:
    import erroranalysis as ea
    from erroranalysis.store import Store

    rng = np.random.default_rng(seed)
    k = len(classes)
    true = rng.integers(0, k, size=n)
    # about one label in eight is wrong: the scan has real label issues to find
    flipped = rng.random(n) < 0.125
    given = np.where(flipped, (true + rng.integers(1, max(k, 2), size=n)) % k, true)
    ids = [f"s{i:06d}" for i in range(n)]
    samples = pd.DataFrame(
        {
            "sample_id": ids,
            "label": np.asarray(classes, dtype=object)[given],
            "source": np.asarray(["web", "phone", "scanner"], dtype=object)[
                rng.integers(0, 3, size=n)
            ],
        }
    )
    image_root = None
    if images:
        from PIL import Image

        image_root = path.parent / f"{path.name}-images"
        image_root.mkdir(parents=True, exist_ok=True)
        paths = []
        first = None
        for i, c in enumerate(true):
            # a class colour with per-sample noise: real image properties, not one flat colour
            base = np.array([60, 120, 200]) * (c + 1) % 256
            noise = rng.integers(-40, 40, size=(24, 24, 3))
            pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
            if i == 1:  # samples 0 and 1 are the same image: a real duplicate pair
                pixels = first
            first = pixels if i == 0 else first
            Image.fromarray(pixels).save(image_root / f"{ids[i]}.png")
            paths.append(f"{ids[i]}.png")
        samples["path"] = paths
    store = Store.create(path, classes=list(classes), samples=samples, image_root=image_root)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), true] += 3.0
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    centres = rng.normal(scale=4.0, size=(k, 2))
    emb = (centres[true] + rng.normal(size=(n, 2))).astype(np.float32)
    if n > 1:
        emb[1] = emb[0]
    run = store.add_run("fixture", probs.astype(np.float32), embeddings=emb)
    if scan == "synthetic":
        run.save_result("synthetic_scan", _synthetic_scan(probs, given, emb, classes))
    elif scan:
        ea.scan(store, run="fixture", progress=False, params=FAST_SCAN_PARAMS)
    return store


def _synthetic_scan(probs: np.ndarray, given: np.ndarray, xy: np.ndarray, classes: Any):
    """Scan-shaped columns from ``probs`` (benchmarks only; tests use the real scan)."""
    n = probs.shape[0]
    names = np.asarray(list(classes), dtype=object)
    pred = probs.argmax(axis=1)
    self_conf = probs[np.arange(n), given]
    is_issue = (pred != given) & (self_conf < 0.3)
    rank = np.full(n, -1, dtype=np.int64)
    order = np.flatnonzero(is_issue)[np.argsort(self_conf[is_issue])]
    rank[order] = np.arange(1, len(order) + 1)
    ranks = pd.array(rank, dtype="Int32")
    ranks[rank < 0] = pd.NA
    outlier = np.linalg.norm(xy - xy.mean(axis=0), axis=1).astype(np.float32)
    return pd.DataFrame(
        {
            "predicted_label": names[pred],
            "self_confidence": self_conf.astype(np.float32),
            "label_quality": self_conf.astype(np.float32),
            "loss": (-np.log(self_conf + 1e-12)).astype(np.float32),
            "is_label_issue": is_issue,
            "suggested_label": pd.Categorical(
                np.where(pred != given, names[pred], None), categories=list(classes)
            ),
            "label_issue_rank": ranks,
            "outlier_score": outlier,
            "is_outlier": outlier > np.quantile(outlier, 0.95),
            "x": xy[:, 0].astype(np.float32),
            "y": xy[:, 1].astype(np.float32),
        }
    )
