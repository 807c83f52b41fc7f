"""A small scanned store with real image files, for the hand-off tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea

CLASSES = ["cat", "dog", "bird"]


def make_scanned_store(tmp_path, n=12, seed=0):
    """A store of ``n`` PNGs over three classes, one run with embeddings and hand-made scan columns.

    Samples s00, s03, s06 are label issues (quality 0.05, 0.10, 0.15), s09 is an outlier; the
    suggested label of each label issue is the next class.
    """
    rng = np.random.default_rng(seed)
    root = tmp_path / "images"
    (root / "sub dir").mkdir(parents=True)
    rows = []
    for i in range(n):
        label = CLASSES[i % 3]
        relative = f"sub dir/img {i:02d}.png" if i % 4 == 0 else f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 255, (20 + i, 30, 3), dtype=np.uint8)).save(root / relative)
        rows.append(
            {
                "sample_id": f"s{i:02d}",
                "label": label,
                "path": relative,
                "source": "rare" if i % 2 else "common",
            }
        )
    samples = pd.DataFrame(rows)
    store = ea.Store.create(tmp_path / "store", classes=CLASSES, samples=samples, image_root=root)
    probs = rng.dirichlet(np.ones(3), size=n).astype(np.float32)
    embeddings = rng.normal(size=(n, 8)).astype(np.float32)
    store.add_run("model", probs, embeddings=embeddings)
    quality = np.linspace(0.2, 0.95, n)
    is_issue = np.zeros(n, dtype=bool)
    for position, value in zip([0, 3, 6], [0.05, 0.10, 0.15], strict=True):
        quality[position] = value
        is_issue[position] = True
    suggested = [CLASSES[(i % 3 + 1) % 3] if is_issue[i] else CLASSES[i % 3] for i in range(n)]
    outlier = np.zeros(n, dtype=bool)
    outlier[9] = True
    result = pd.DataFrame(
        {
            "label_quality": quality,
            "is_label_issue": is_issue,
            "suggested_label": suggested,
            "outlier_score": np.where(outlier, 0.9, 0.1),
            "is_outlier": outlier,
            "is_near_duplicate": np.zeros(n, dtype=bool),
        }
    )
    store.run("model").save_result("issues", result)
    return store


@pytest.fixture
def store(tmp_path):
    return make_scanned_store(tmp_path)
