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


def imported_store(tmp_path):
    """A store after one Label Studio import of three annotators answering 300 queued samples."""
    from erroranalysis.export import export_queue, import_annotations
    from tests.export.helpers import write_json
    from tests.export.test_consensus_import import label_studio_export, simulated_answers

    ids, truth, probs, _ = simulate(n=800, seed=3)
    given = truth.to_numpy().astype(object).copy()
    given[300:] = None
    store = ea.Store.create(
        tmp_path / "store",
        classes=CLASSES,
        samples=pd.DataFrame({"sample_id": ids, "label": given}),
    )
    store.add_run("cv", probs.astype(np.float32), out_of_sample=True)
    queued = export_queue(store, tmp_path / "queue.json", limit=300)
    answers = simulated_answers(queued.sample_ids, truth)
    path = write_json(tmp_path / "export.json", label_studio_export(queued.path, answers))
    return store, import_annotations(store, path), answers


def test_the_annotator_analysis_is_cached_by_the_import_and_follows_the_journal(tmp_path):
    from erroranalysis.analysis.consensus import AnnotatorAgreement

    store, summary, answers = imported_store(tmp_path)
    run = store.run("cv")
    # the import refreshed the cache: same ranking as the import's own consensus
    table = run.load_artifact("annotators")
    assert table["annotator"].tolist() == summary.annotators["annotator"].tolist()
    assert table["annotator"].tolist() == ["ana@example.com", "ben@example.com", "cy@example.com"]
    info = run.load_artifact("annotators_info")
    assert info["method"] == "crowdlab" and info["num_answers"] == 900
    consensus = run.load_artifact("consensus")
    assert len(consensus) == 300 == info["num_samples"]
    flagged = set(low_consensus_ids(store))
    low = consensus[consensus["low_consensus"]]
    assert set(low["sample_id"]) == flagged and len(flagged) == summary.low_consensus > 0
    assert info["num_low_consensus"] == len(flagged)
    # low-consensus first, then lowest quality first
    assert consensus["low_consensus"].iloc[: len(low)].all()
    assert low["consensus_quality"].is_monotonic_increasing
    counted = run.load_artifact("annotator_answers")
    assert len(counted) == 900
    ana = counted[counted["annotator"] == "ana@example.com"].set_index("sample_id")
    assert (ana["label"] == pd.Series(answers["ana@example.com"])[ana.index]).all()
    assert (ana["agrees"] == (ana["label"] == ana["consensus_label"])).all()

    # the scan sees it up to date; an undo of the import changes the answers: recomputed
    assert AnnotatorAgreement.is_cached(store, run, AnnotatorAgreement().get_params())
    assert ea.scan(store, "cv", analyses="annotators", progress=False).status("annotators") == (
        "cached"
    )
    store.undo()
    assert not AnnotatorAgreement.is_cached(store, run, AnnotatorAgreement().get_params())
    again = ea.scan(store, "cv", analyses="annotators", progress=False)
    assert again.status("annotators") == "computed"
    assert run.load_artifact("annotators_info")["method"] is None
    assert run.load_artifact("annotators").empty and run.load_artifact("consensus").empty


def test_the_annotator_analysis_refuses_a_bad_parameter(tmp_path):
    store, _, _ = make(tmp_path)
    with pytest.raises(AnalysisError, match="min_consensus_quality"):
        ea.scan(
            store,
            analyses="annotators",
            params={"annotators": {"min_consensus_quality": 1.5}},
            progress=False,
        )


def low_consensus_ids(store) -> list[str]:
    """The samples flagged ``low_consensus`` now."""
    from erroranalysis.analysis.consensus import LOW_CONSENSUS_FLAG

    flags = store.flags()
    return flags.loc[flags["flag"] == LOW_CONSENSUS_FLAG, "sample_id"].tolist()
