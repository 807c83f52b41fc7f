"""Consensus of several annotators (issue 13): CROWDLAB against majority vote, known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.analysis.base import AnalysisError
from erroranalysis.analysis.consensus import crowdlab_consensus, majority_vote

CLASSES = ["ant", "bee", "cat", "dog", "eel"]
ACCURACY = {"ana": 0.9, "ben": 0.75, "cy": 0.6}


def simulate(n=1500, seed=0, coverage=0.8):
    """Model probabilities (about 70 % accurate) and three annotators of known accuracy.

    Each annotator answers ``coverage`` of the samples (each sample gets at least one answer);
    a wrong answer is a uniformly drawn other class.
    """
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += rng.normal(1.8, 1.0, n)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    ids = [f"c{i:04d}" for i in range(n)]
    rows = []
    asked = rng.random((n, len(ACCURACY))) < coverage
    asked[~asked.any(axis=1), 0] = True
    for j, (name, accuracy) in enumerate(ACCURACY.items()):
        right = rng.random(n) < accuracy
        wrong = (truth + rng.integers(1, k, n)) % k
        answer = np.where(right, truth, wrong)
        rows += [
            {"sample_id": ids[i], "annotator": name, "label": CLASSES[answer[i]]}
            for i in np.flatnonzero(asked[:, j])
        ]
    return ids, pd.Series(np.asarray(CLASSES)[truth], index=ids), probs, pd.DataFrame(rows)


def make(tmp_path, **kwargs):
    ids, truth, probs, answers = simulate(**kwargs)
    store = ea.Store.create(
        tmp_path / "store",
        classes=CLASSES,
        samples=pd.DataFrame({"sample_id": ids, "label": [None] * len(ids)}),
    )
    store.add_run("cv", probs.astype(np.float32))
    return store, truth, answers


def accuracy(labels: pd.DataFrame, truth: pd.Series) -> float:
    return float((labels["consensus_label"].to_numpy() == truth[labels["sample_id"]]).mean())


def test_crowdlab_beats_the_best_annotator_and_majority_vote_and_ranks_annotators(tmp_path):
    store, truth, answers = make(tmp_path)
    result = crowdlab_consensus(answers, store)
    assert result.method == "crowdlab" and len(result.labels) == len(truth)
    best_single = max(
        (group["label"].to_numpy() == truth[group["sample_id"]].to_numpy()).mean()
        for _, group in answers.groupby("annotator")
    )
    crowdlab = accuracy(result.labels, truth)
    majority = accuracy(majority_vote(answers, CLASSES).labels, truth)
    assert crowdlab > best_single and crowdlab > majority
    assert result.annotators["annotator"].tolist() == ["ana", "ben", "cy"]
    assert result.annotators["quality"].is_monotonic_decreasing
    assert result.annotators["num_labeled"].sum() == len(answers)
    # a low consensus quality marks doubtful samples: the rest is far more accurate
    doubtful = (result.labels["consensus_quality"] < 0.5) & ~result.labels["unanimous"]
    applied = result.labels[~doubtful]
    assert accuracy(applied, truth) > 0.97 > accuracy(result.labels[doubtful], truth)
    assert 0.05 < doubtful.mean() < 0.4
    first = result.labels.iloc[0]
    assert first["answers"].count("=") == first["num_annotations"]


def test_majority_vote_without_a_run_and_bad_answers(tmp_path):
    store = ea.Store.create(
        tmp_path / "bare",
        classes=["a", "b"],
        samples=pd.DataFrame({"sample_id": ["x", "y"], "label": [None, None]}),
    )
    answers = pd.DataFrame(
        {
            "sample_id": ["x", "x", "x", "y", "y"],
            "annotator": ["p", "q", "r", "p", "q"],
            "label": ["a", "a", "b", "b", "b"],
        }
    )
    result = crowdlab_consensus(answers, store)
    assert result.method == "majority"
    labels = result.labels.set_index("sample_id")
    assert labels.loc["x", "consensus_label"] == "a"
    assert labels.loc["x", "consensus_quality"] == pytest.approx(2 / 3)
    assert bool(labels.loc["y", "unanimous"])
    assert result.annotators["annotator"].tolist()[-1] == "r"
    with pytest.raises(AnalysisError, match="annotator"):
        crowdlab_consensus(answers.assign(annotator=None), store)
    with pytest.raises(AnalysisError, match="not classes"):
        crowdlab_consensus(answers.assign(label="zebra"), store)
