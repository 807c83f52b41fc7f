"""The combined outlier score on generated images whose embeddings hide the outliers.

The demo's failure, reproduced small: a model that embeds pictures of no class (noise, text,
checkerboards) inside the class clusters, and is fairly sure of some class for them. The
embedding kNN score alone then misses most outliers; the image-statistics part, computed from the
real generated images by ``image_properties``, finds them, and the combination keeps them on top.
"""

from __future__ import annotations

import numpy as np
import pytest

import erroranalysis as ea
from erroranalysis.analysis.base import AnalysisError
from erroranalysis.analysis.outliers import (
    Outliers,
    combine_scores,
    image_statistics,
    tail_fraction,
)


@pytest.fixture(scope="module")
def hidden_outliers(tmp_path_factory):
    from erroranalysis.datasets.synthetic import make_synthetic

    root = tmp_path_factory.mktemp("hidden")
    data = make_synthetic(
        root / "data", n_samples=300, seed=3, outlier_fraction=0.05, progress=False
    )
    store = data.create_store(root / "store")
    truth = data.truth.set_index("sample_id").reindex(store.sample_ids)
    outlier = truth["is_outlier"].to_numpy(dtype=bool)
    rng = np.random.default_rng(0)
    n, k = store.num_samples, len(store.classes)
    codes = np.asarray(store.label_codes())
    centres = rng.normal(0, 4, (k, 16))
    embeddings = centres[codes] + rng.normal(0, 1, (n, 16))  # outliers sit in their label's cluster
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), codes] += rng.uniform(1.0, 4.0, n)  # outliers as sure as the rest
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    run = store.add_run("model", probs.astype(np.float32), embeddings=embeddings.astype(np.float32))
    ea.scan(store, run.name, analyses=["image_properties"], progress=False)
    return store, run, outlier


def _recall_at(score: np.ndarray, outlier: np.ndarray) -> float:
    top = np.argsort(-score, kind="stable")[: outlier.sum()]
    return float(outlier[top].mean())


def test_combined_score_finds_outliers_the_embedding_misses(hidden_outliers):
    store, run, outlier = hidden_outliers
    assert outlier.sum() == 15
    combined = Outliers().fit(store, run)
    assert combined.info_["parts"] == ["embedding", "image", "probs"]
    embedding_only = Outliers(combine="embedding").fit(store, run)
    # the embedding alone ranks at most a third of them in the top 15; the combination >= 80 %
    assert _recall_at(embedding_only.outlier_score_, outlier) <= 1 / 3
    assert _recall_at(combined.part_scores_["image"], outlier) >= 0.8
    assert _recall_at(combined.outlier_score_, outlier) >= 0.8
    # the flag (Datalab's IQR rule on the combined score) finds more than the embedding's
    assert combined.is_outlier_[outlier].mean() > embedding_only.is_outlier_[outlier].mean()
    assert combined.is_outlier_[~outlier].mean() <= 0.05


def test_scan_saves_the_parts_and_reads_image_properties_first(hidden_outliers):
    store, run, outlier = hidden_outliers
    ea.scan(store, run.name, analyses=["outliers"], progress=False)
    frame = store.frame(run)
    for column in ("knn_outlier_score", "image_outlier_score", "probs_outlier_score"):
        assert frame[column].notna().all(), column
    assert _recall_at(frame["outlier_score"].to_numpy(), outlier) >= 0.8
    record = Outliers.cached_info(run)
    assert record["summary"]["parts"] == "embedding+image+probs"


def test_combine_scores_orders_by_summed_surprise():
    a = np.array([0.1, 0.2, 0.3, 0.4, 0.9])
    b = np.array([0.5, 0.4, 0.3, 0.2, 0.1])
    fisher = combine_scores({"a": a, "b": b})
    # tails: a -> 1, .8, .6, .4, .2; b -> .2, .4, .6, .8, 1
    expected = -(np.log(tail_fraction(a)) + np.log(tail_fraction(b))) / (2 * np.log(5))
    assert np.allclose(fisher, expected)
    assert np.allclose(combine_scores({"a": a}, "max"), -np.log(tail_fraction(a)) / np.log(5))
    assert tail_fraction(np.array([1.0, 1.0, 0.0])).tolist() == [2 / 3, 2 / 3, 1.0]
    with pytest.raises(AnalysisError, match="combine must be one of"):
        combine_scores({"a": a}, "median")
    with pytest.raises(AnalysisError, match="needs the embedding part"):
        combine_scores({"a": a}, "embedding")


def test_image_statistics_are_robust_and_drop_constant_columns():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "brightness": [0.1, 0.2, 0.3, 0.4, np.nan],
            "blur": [10.0, 10.0, 10.0, 10.0, 10.0],  # constant: dropped
            "width": [64, 64, 64, 64, 64],
        }
    )
    stats = image_statistics(frame)
    assert stats.shape == (5, 1)
    assert stats[4, 0] == 0.0  # unreadable image at the median
    assert image_statistics(frame[["blur"]]) is None


def test_unknown_parts_are_refused(hidden_outliers):
    store, run, _ = hidden_outliers
    with pytest.raises(AnalysisError, match="subset of embedding, image, probs"):
        Outliers(parts=("pixels",)).fit(store, run)
