from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from cleanlab.rank import get_label_quality_scores

import erroranalysis as ea
from erroranalysis.analysis.base import AnalysisError
from erroranalysis.analysis.scores import (
    Scores,
    attach_metric,
    compute_scores,
    metric_columns,
    update_scores,
)
from erroranalysis.errors import ShapeMismatchError

PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.5, 0.0]], dtype=np.float32)
LABELS = np.array([0, 1, 1])


def test_exact_values_on_a_tiny_matrix():
    out = compute_scores(PROBS, LABELS, ["a", "b", "c"])
    assert out["predicted_label"].astype(str).tolist() == ["a", "c", "a"]
    assert out["self_confidence"].tolist() == pytest.approx([0.7, 0.3, 0.5])
    assert out["margin"].tolist() == pytest.approx([0.75, 0.35, 0.5])
    expected_entropy = [
        -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)),
        -(0.1 * math.log(0.1) + 0.3 * math.log(0.3) + 0.6 * math.log(0.6)),
        math.log(2),
    ]
    assert out["entropy"].tolist() == pytest.approx(expected_entropy, rel=1e-5)
    assert out["loss"].tolist() == pytest.approx([-math.log(0.7), -math.log(0.3), math.log(2)])
    assert out["label_quality"].tolist() == pytest.approx([0.7, 0.3, 0.5])


@pytest.mark.parametrize(
    "method", ["self_confidence", "normalized_margin", "confidence_weighted_entropy"]
)
def test_label_quality_equals_cleanlab(method):
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(6), size=500).astype(np.float32)
    labels = rng.integers(0, 6, 500)
    ours = compute_scores(probs, labels, list("abcdef"), method=method)["label_quality"]
    theirs = get_label_quality_scores(labels, probs, method=method)
    assert np.array_equal(ours.to_numpy(), np.asarray(theirs, dtype=np.float32))


def test_zero_probability_loss_is_finite():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    out = compute_scores(probs, np.array([1, 1]), ["a", "b"])
    assert out["loss"].iloc[0] == pytest.approx(-math.log(1e-12), rel=1e-6)
    assert out["entropy"].tolist() == [0.0, 0.0]


def test_update_after_relabel_equals_full_recompute(planted):
    store, _ = planted
    run = store.run()
    ea.scan(store, analyses=["scores"], progress=False)
    assert not run.is_stale("scores", store)
    for i in (3, 10, 42):
        sample_id = store.sample_ids[i]
        store.relabel(sample_id, store.classes[(store.label_codes()[i] + 1) % store.num_classes])
    assert run.is_stale("scores", store)
    updated = update_scores(store, run)
    assert sorted(updated.index.tolist()) == [3, 10, 42]
    assert not run.is_stale("scores", store)
    full = Scores().fit(store, run).scores_
    cached = run.load_result("scores")
    for column in ("self_confidence", "margin", "loss", "label_quality", "entropy"):
        assert np.array_equal(cached[column].to_numpy(), full[column].to_numpy()), column
    # scan now reuses the updated scores
    assert ea.scan(store, analyses=["scores"], progress=False).status("scores") == "cached"


def test_update_without_cache_says_what_to_do(planted):
    store, _ = planted
    with pytest.raises(AnalysisError, match="scan"):
        update_scores(store, store.run())


def test_attach_metric(planted):
    store, _ = planted
    run = store.run()
    values = np.linspace(0, 1, store.num_samples)
    attach_metric(store, run, "iou", values, higher_is_better=True)
    frame = store.frame(run)
    assert np.allclose(frame["iou"].to_numpy(), values)
    assert metric_columns(run) == {"iou": True}
    series = pd.Series({store.sample_ids[0]: 0.25})
    attach_metric(store, None, "kaggle", series, higher_is_better=False)
    frame = store.frame(run)
    assert frame["kaggle"].iloc[0] == 0.25 and frame["kaggle"].isna().sum() == store.num_samples - 1
    with pytest.raises(ShapeMismatchError, match="expected"):
        attach_metric(store, run, "bad", values[:-1])
    with pytest.raises(AnalysisError, match="unknown sample ids"):
        attach_metric(store, run, "bad", pd.Series({"nope": 1.0}))
    with pytest.raises(AnalysisError, match="clashes"):
        attach_metric(store, run, "source", values)
