"""Shared fixtures: small real stores on disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea

CLASSES = ["cat", "dog", "fox"]


def make_samples(count: int = 12, classes: list[str] = CLASSES) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": [f"s{i:03d}" for i in range(count)],
            "label": [classes[i % len(classes)] for i in range(count)],
            "path": [f"images/{i:03d}.png" for i in range(count)],
            "source": ["a" if i % 4 else "b" for i in range(count)],
        }
    )


def make_probs(count: int = 12, num_classes: int = 3, seed: int = 0) -> np.ndarray:
    return (
        np.random.default_rng(seed).dirichlet(np.ones(num_classes), size=count).astype(np.float32)
    )


@pytest.fixture
def store(tmp_path) -> ea.Store:
    (tmp_path / "images").mkdir()
    return ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=make_samples(), image_root=tmp_path
    )
