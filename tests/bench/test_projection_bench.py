"""bench/projection.py's quality measure and rows (the timings themselves run in the bench)."""

from __future__ import annotations

import numpy as np

from bench import projection


def test_knn_preservation_tells_a_layout_from_noise():
    x = projection.blobs(3000, dim=32)
    assert x.shape == (3000, 32) and x.dtype == np.float32
    assert projection.knn_preservation(x, x, queries=200) == 1.0
    noise = np.random.default_rng(0).normal(size=(3000, 2))
    assert projection.knn_preservation(x, noise, queries=200) < 0.05


def test_rows_name_the_targets_and_cpu_seconds():
    m = {"wall": 0.5, "cpu": 0.4, "load_before": 1.0, "load_after": 2.0}
    data = {
        "n": 70_000,
        "dim": 512,
        "pca_ours": m,
        "pca_baseline": {**m, "wall": 5.0, "solver": "full"},
        "quality_pca": 0.1,
        "quality_random": 0.001,
        "umap_ours": {**m, "wall": 20.0, "quality": 0.5},
        "umap_baseline": {**m, "wall": 100.0, "quality": 0.6},
    }
    rows = projection.rows_for(data)
    assert [r["passed"] for r in rows] == [True, True, None]
    assert rows[1]["ratio"] == 0.2 and "0.4 s CPU" in rows[1]["note"]
    assert rows[0]["target"] == "< 1 s"
