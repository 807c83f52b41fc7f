"""cross_val_predict on a store with unlabelled samples: never trained on, predicted by every fold."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea

pytest.importorskip("torch")
pytest.importorskip("timm")

cross_val = importlib.import_module("erroranalysis.ingest.cross_val")
CLASSES = ["red", "green", "blue"]


def test_unlabelled_samples_are_predicted_not_trained_on(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    rows = []
    for i in range(60):
        label = int(rng.integers(0, 3))
        pixels = rng.integers(0, 100, (16, 16, 3))
        pixels[..., label] += 150
        Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "images" / f"{i}.png")
        rows.append({"sample_id": f"s{i}", "label": None if i % 3 == 0 else CLASSES[label],
                     "path": f"images/{i}.png"})  # fmt: skip
    store = ea.Store.create(
        tmp_path / "store", classes=CLASSES, samples=pd.DataFrame(rows), image_root=tmp_path
    )
    unlabelled = set(np.flatnonzero(~store.is_labelled()).tolist())
    trained: list[set[int]] = []
    fit = cross_val._Trainer.fit

    def spy_fit(self, model, indices, seed):
        trained.append(set(np.asarray(indices).tolist()))
        return fit(self, model, indices, seed)

    monkeypatch.setattr(cross_val._Trainer, "fit", spy_fit)
    run = ea.cross_val_predict(store, "test_resnet", folds=2, epochs=1, image_size=16,
                               batch_size=16, progress=False)  # fmt: skip
    assert len(trained) >= 2
    assert all(not (indices & unlabelled) for indices in trained)
    probs = np.asarray(run.probs)
    assert np.allclose(probs.sum(1), 1, atol=1e-3)  # unlabelled rows: mean over the folds
    assert (probs[sorted(unlabelled)] > 0).all()
