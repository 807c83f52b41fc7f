"""A small store with a run and scan-shaped columns, for the widgets' tests, benchmark and docs.

Not a stand-in for the scan: the columns are derived from the given probabilities by the same
definitions (predicted label = argmax, self-confidence = p[given], …) so the views can be
exercised before, or without, ``ea.scan``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fake_scan", "make_store"]


def make_store(
    path: str | Path,
    n: int = 60,
    classes: tuple[str, ...] = ("cat", "dog", "fox"),
    images: bool = True,
    scan: bool = True,
    seed: int = 0,
) -> Any:
    """Create a store of ``n`` samples with one run (probs + embeddings), optionally images.

    Parameters
    ----------
    path : path-like
        Store folder (created; must not exist).
    n : int
        Number of samples.
    classes : tuple of str
        Class names.
    images : bool
        Write a small PNG per sample (under ``<path>-images``) and reference it.
    scan : bool
        Save scan-shaped result columns (:func:`fake_scan`) and a ``slices`` artifact.
    seed : int
        Random seed.

    Returns
    -------
    Store
    """
    from erroranalysis.store import Store

    rng = np.random.default_rng(seed)
    k = len(classes)
    path = Path(path)
    given = rng.integers(0, k, size=n)
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
        for i, c in enumerate(given):
            colour = tuple(int(v) for v in (np.array([60, 120, 200]) * (c + 1) + i) % 256)
            name = f"{ids[i]}.png"
            Image.new("RGB", (24, 24), colour).save(image_root / name)
            paths.append(name)
        samples["path"] = paths
    store = Store.create(path, classes=list(classes), samples=samples, image_root=image_root)
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[np.arange(n), given] += 2.0
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    centres = rng.normal(scale=4.0, size=(k, 2))
    emb = (centres[given] + rng.normal(size=(n, 2))).astype(np.float32)
    run = store.add_run("fixture", probs.astype(np.float32), embeddings=emb)
    if scan:
        frame = fake_scan(probs, given, emb, classes)
        run.save_result("fake_scan", frame)
        sources = samples["source"].to_numpy()
        correct = frame["predicted_label"].to_numpy() == samples["label"].to_numpy()
        rows = []
        for value in ("phone", "scanner", "web"):
            mask = sources == value
            m = int(mask.sum())
            hits = int(correct[mask].sum())
            acc = hits / m if m else float("nan")
            rows.append(
                {"feature": "source", "kind": "category", "value": value, "low": np.nan,
                 "high": np.nan, "size": m, "correct": hits, "accuracy": acc,
                 "ci_low": max(0.0, acc - 0.1), "ci_high": min(1.0, acc + 0.1)}
            )  # fmt: skip
        run.save_artifact("slices", pd.DataFrame(rows))
    return store


def fake_scan(probs: np.ndarray, given: np.ndarray, xy: np.ndarray, classes: Any) -> pd.DataFrame:
    """Scan-shaped per-sample columns computed directly from ``probs`` (for fixtures only)."""
    n = probs.shape[0]
    names = np.asarray(list(classes), dtype=object)
    pred = probs.argmax(axis=1)
    self_conf = probs[np.arange(n), given]
    other = probs.copy()
    other[np.arange(n), given] = -1
    margin = self_conf - other.max(axis=1)
    is_issue = (pred != given) & (self_conf < 0.3)
    rank = np.full(n, np.nan)
    order = np.flatnonzero(is_issue)[np.argsort(self_conf[is_issue])]
    rank[order] = np.arange(1, len(order) + 1)
    outlier = np.linalg.norm(xy - xy.mean(axis=0), axis=1).astype(np.float32)
    dup_set = np.full(n, -1, dtype=np.int64)
    if n >= 4:
        dup_set[[0, 1]] = 0
    return pd.DataFrame(
        {
            "predicted_label": names[pred],
            "self_confidence": self_conf.astype(np.float32),
            "margin": margin.astype(np.float32),
            "entropy": (-(probs * np.log(probs + 1e-12)).sum(axis=1)).astype(np.float32),
            "loss": (-np.log(self_conf + 1e-12)).astype(np.float32),
            "label_quality": self_conf.astype(np.float32),
            "is_label_issue": is_issue,
            "suggested_label": np.where(is_issue, names[pred], None),
            "label_issue_rank": rank,
            "outlier_score": outlier,
            "is_outlier": outlier > np.quantile(outlier, 0.95),
            "near_duplicate_set": dup_set,
            "is_near_duplicate": dup_set >= 0,
            "x": xy[:, 0].astype(np.float32),
            "y": xy[:, 1].astype(np.float32),
        }
    )
