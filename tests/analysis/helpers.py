"""Small synthetic stores with planted truth for the analysis tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

import erroranalysis as ea

CLASSES = ["ant", "bee", "cow", "dog"]


def planted(n: int = 600, k: int = 4, dim: int = 16, seed: int = 0, noise: float = 0.08):
    """Probabilities, embeddings, labels and a truth table with planted problems.

    Planted: label noise (``noise`` of the labels flipped), 6 outliers far from every class,
    4 near-duplicate pairs (tiny perturbations), and a weak ``source == "rare"`` subgroup whose
    predictions are much less accurate.
    """
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    centres = rng.normal(0, 6, (k, dim))
    emb = centres[true] + rng.normal(0, 1, (n, dim))
    source = np.where(rng.random(n) < 0.12, "rare", np.where(rng.random(n) < 0.5, "a", "b"))
    strength = np.where(source == "rare", 0.3, 3.5)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += strength * rng.uniform(0.5, 1.5, n)
    # outliers: far away, flat probabilities
    outliers = rng.choice(np.flatnonzero(source != "rare"), 6, replace=False)
    emb[outliers] = rng.normal(0, 1, (6, dim)) * 3 + 40 * rng.choice([-1, 1], (6, dim))
    logits[outliers] = rng.normal(0, 0.2, (6, k))
    # near-duplicate pairs: copy j <- i with tiny noise
    candidates = np.setdiff1d(np.arange(n), outliers)
    picks = rng.choice(candidates, 8, replace=False)
    dup_of = {}
    for i, j in zip(picks[:4], picks[4:], strict=True):
        emb[j] = emb[i] + rng.normal(0, 1e-3, dim)
        logits[j] = logits[i]
        true[j] = true[i]
        dup_of[j] = i
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    labels = true.copy()
    flip = (rng.random(n) < noise) & (source != "rare")
    flip[outliers] = False
    flip[list(dup_of)] = False
    flip[list(dup_of.values())] = False
    labels[flip] = (true[flip] + rng.integers(1, k, flip.sum())) % k
    ids = [f"x{i:04d}" for i in range(n)]
    samples = pd.DataFrame(
        {"sample_id": ids, "label": [CLASSES[c] for c in labels], "source": source}
    )
    is_outlier = np.zeros(n, dtype=bool)
    is_outlier[outliers] = True
    truth = pd.DataFrame(
        {
            "sample_id": ids,
            "true_label": [CLASSES[c] for c in true],
            "is_label_noise": labels != true,
            "subgroup": np.where(source == "rare", "rare_source", ""),
            "is_outlier": is_outlier,
            "near_duplicate_of": [ids[dup_of[i]] if i in dup_of else None for i in range(n)],
        }
    )
    return samples, probs.astype(np.float32), emb.astype(np.float32), truth


def planted_store(path, n: int = 600, seed: int = 0, dtype=np.float32, out_of_sample=True):
    samples, probs, emb, truth = planted(n=n, seed=seed)
    store = ea.Store.create(path, classes=CLASSES, samples=samples)
    store.add_run(
        "model-a",
        probs.astype(dtype),
        embeddings=emb,
        out_of_sample=out_of_sample,
        normalize=dtype == np.float16,
    )
    return store, truth
