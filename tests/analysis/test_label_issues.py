from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from cleanlab.count import compute_confident_joint
from cleanlab.dataset import (
    find_overlapping_classes,
    overall_label_health_score,
    rank_classes_by_label_quality,
)
from cleanlab.filter import find_label_issues

import erroranalysis as ea
from erroranalysis.analysis.label_issues import (
    InSampleWarning,
    LabelIssues,
    find_label_issues_lean,
    suggested_codes,
)
from tests.analysis.helpers import planted_store


def _noisy(n, k, seed, noise=0.15):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += rng.uniform(0, 4, n)
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    labels = true.copy()
    flip = rng.random(n) < noise
    labels[flip] = rng.integers(0, k, flip.sum())
    return labels, probs


@pytest.mark.parametrize(
    ("n", "k", "dtype", "block_rows", "rank_by"),
    [
        (400, 3, np.float32, None, "self_confidence"),
        (3000, 10, np.float16, 123, "self_confidence"),
        (5000, 40, np.float32, 997, "normalized_margin"),
        (2000, 8, np.float16, 64, "confidence_weighted_entropy"),
    ],
)
def test_lean_equals_direct_cleanlab(n, k, dtype, block_rows, rank_by):
    labels, probs = _noisy(n, k, seed=n + k)
    probs = probs.astype(dtype)
    dense = probs.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mask = find_label_issues(labels, dense)
        ranked = find_label_issues(labels, dense, return_indices_ranked_by=rank_by)
    ours = find_label_issues_lean(labels, probs, rank_by=rank_by, block_rows=block_rows)
    assert mask.sum() > 0
    assert np.array_equal(ours.mask, mask)
    assert np.array_equal(ours.ranked, ranked)
    assert np.array_equal(
        ours.confident_joint, compute_confident_joint(labels, dense, calibrate=False)
    )


def test_lean_with_a_missing_class_and_tiny_class():
    labels, probs = _noisy(600, 5, seed=9)
    labels[labels == 4] = 0  # class 4 never given
    labels[0] = 3
    labels[labels == 3] = 2
    labels[7] = 3  # class 3 given once
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = find_label_issues(labels, probs.astype(np.float32), n_jobs=1)
        ours = find_label_issues_lean(labels, probs)
    assert np.array_equal(ours.mask, expected)


def test_analysis_equals_direct_cleanlab_on_store_arrays(planted):
    store, _ = planted
    run = store.run()
    ea.scan(store, analyses=["label_issues"], progress=False)
    labels = store.label_codes().astype(np.int64)
    probs = np.asarray(run.probs, dtype=np.float32)
    result = run.load_result("label_issues")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence")
        mask = find_label_issues(labels, probs)
    assert np.array_equal(result["is_label_issue"].to_numpy(), mask)
    ranks = result["label_issue_rank"]
    assert ranks.isna().sum() == store.num_samples - len(ranked)
    assert np.array_equal(ranks.dropna().sort_values().index.to_numpy(), ranked)
    classes = run.load_artifact("class_label_quality")
    expected = rank_classes_by_label_quality(labels, probs, class_names=store.classes)
    pd.testing.assert_frame_equal(classes.reset_index(drop=True), expected, check_dtype=False)
    overlapping = run.load_artifact("overlapping_classes")
    expected = find_overlapping_classes(labels, probs, class_names=store.classes)
    pd.testing.assert_frame_equal(
        overlapping.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    health = run.load_artifact("label_health")
    assert health["overall_label_health_score"] == pytest.approx(
        overall_label_health_score(labels, probs, verbose=False)
    )
    assert health["in_sample"] is False


def test_suggested_label_is_the_prediction_only_where_it_disagrees(tmp_path):
    samples = pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(6)], "label": ["a", "a", "b", "b", "c", "c"]}
    )
    store = ea.Store.create(tmp_path / "s", classes=["a", "b", "c"], samples=samples)
    probs = np.array(
        [
            [0.1, 0.7, 0.2],  # label a, predicted b -> b
            [0.8, 0.05, 0.15],  # label a, predicted a -> nothing (not the runner-up c)
            [0.2, 0.7, 0.1],  # label b, predicted b -> nothing
            [0.3, 0.3, 0.4],  # label b, predicted c -> c
            [0.1, 0.1, 0.8],  # label c, predicted c -> nothing
            [0.6, 0.3, 0.1],  # label c, predicted a -> a
        ],
        dtype=np.float32,
    )
    store.add_run("r", probs)
    fitted = LabelIssues().fit(store, store.run())
    assert fitted.suggested_.tolist() == [1, -1, -1, 2, -1, 0]
    direct = LabelIssues(filter_by="both").fit(store, store.run())
    assert direct.suggested_.tolist() == fitted.suggested_.tolist()
    ea.scan(store, analyses=["scores", "label_issues"], progress=False)
    frame = store.frame()
    suggested = frame["suggested_label"].astype(object)
    disagree = frame["predicted_label"].astype(str) != frame["label"].astype(str)
    assert suggested[~disagree].isna().all()
    assert (suggested[disagree] == frame["predicted_label"].astype(str)[disagree]).all()
    assert suggested.iloc[0] == "b" and pd.isna(suggested.iloc[1])


def test_suggested_label_ties_follow_argmax():
    labels = np.array([1, 0, 2])
    probs = np.array([[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.5, 0.0, 0.5]])
    # row 0: tie between a (0) and the label b (1): argmax is a, so suggest a;
    # row 1: tie between the label a and b: argmax is the label, no suggestion.
    assert suggested_codes(labels, probs).tolist() == [0, -1, 0]


def test_in_sample_warns_and_flags_summary(tmp_path):
    store, _ = planted_store(tmp_path / "s", out_of_sample=False)
    with pytest.warns(InSampleWarning, match="cross_val_predict"):
        summary = ea.scan(store, analyses=["label_issues"], progress=False)
    assert summary["in_sample"] is True
    assert "in-sample" in str(summary)
    # cached: still flagged and warned
    with pytest.warns(InSampleWarning):
        again = ea.scan(store, analyses=["label_issues"], progress=False)
    assert again.status("label_issues") == "cached" and again["in_sample"] is True


def test_relabel_marks_label_issues_stale_and_scan_recomputes_only_those(planted):
    store, _ = planted
    run = store.run()
    params = {"projection": {"method": "pca"}}
    ea.scan(store, progress=False, params=params)
    assert not run.is_stale("label_issues", store)
    flagged = run.load_result("label_issues")
    first = int(np.flatnonzero(flagged["is_label_issue"].to_numpy())[0])
    suggestion = str(flagged["suggested_label"].iloc[first])
    store.relabel(store.sample_ids[first], suggestion)
    assert run.is_stale("label_issues", store)
    summary = ea.scan(store, progress=False, params=params)
    statuses = {item["analysis"]: item["status"] for item in summary["analyses"]}
    for name in ("scores", "confusion", "label_issues", "slices", "evaluation"):
        assert statuses[name] == "computed", name
    for name in ("outliers", "near_duplicates", "projection"):
        assert statuses[name] == "cached", name
    assert not run.is_stale("label_issues", store)
    fresh = LabelIssues().fit(store, run)
    assert np.array_equal(
        run.load_result("label_issues")["is_label_issue"].to_numpy(), fresh.is_label_issue_
    )
