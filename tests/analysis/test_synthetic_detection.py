"""End to end on the procedural dataset: real images, planted truth, a simulated model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.analysis.truth import format_detection, score_detection


@pytest.mark.slow
def test_scan_finds_planted_problems_on_the_synthetic_dataset(tmp_path):
    from erroranalysis.datasets.synthetic import make_synthetic

    data = make_synthetic(tmp_path / "data", n_samples=300, progress=False)
    store = data.create_store(tmp_path / "store")
    truth = data.truth.set_index("sample_id").reindex(store.sample_ids)
    classes = store.classes
    # outliers show no class (true_label missing): use their given label
    true_names = truth["true_label"].fillna(truth["given_label"])
    true = np.array([classes.index(c) for c in true_names])
    rng = np.random.default_rng(0)
    # A simulated out-of-sample model: confident on the true class, weaker on weak spots,
    # flat on outliers. Embeddings: 32x32 thumbnails of the real images.
    strength = np.where(truth["subgroup"].fillna("").to_numpy() != "", 0.8, 4.0)
    logits = rng.normal(0, 1, (len(true), len(classes)))
    logits[np.arange(len(true)), true] += strength
    logits[truth["is_outlier"].to_numpy()] = 0.0
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    embeddings = np.stack(
        [
            np.asarray(
                Image.open(store.image_path(sample_id)).convert("RGB").resize((32, 32)),
                dtype=np.float32,
            ).ravel()
            / 255
            for sample_id in store.sample_ids
        ]
    )
    store.add_run("simulated", probs.astype(np.float32), embeddings=embeddings)
    summary = ea.scan(store, progress=False, params={"projection": {"method": "pca"}})
    assert summary.status("image_properties") == "computed"
    result = score_detection(store, None, data.truth)
    assert result["label_noise"]["recall"] >= 0.6
    assert result["near_duplicates"]["recall"] >= 0.5
    assert result["outliers"]["top_2%"]["hits"] >= 2
    ranks = [info["rank"] for info in result["subgroups"].values()]
    assert min(ranks) <= 3
    assert "weak subgroup" in format_detection(result)
