"""The annotator queue (issue 13): what stays below the pseudo-label thresholds, exported.

The store has 60 % of its labels hidden and probabilities simulated with known truth, so the
truth tells whether the queue puts the model's mistakes first.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.analysis.annotation_queue import active_learning_scores
from erroranalysis.analysis.base import AnalysisError
from erroranalysis.cli import main
from erroranalysis.export import export_queue, import_annotations
from erroranalysis.export.registry import UnknownFormatError

from .helpers import fill_csv, label_studio_json, write_json

CLASSES = ["ant", "bee", "cat", "dog"]


def simulate(n=3000, hidden=0.6, seed=1):
    rng = np.random.default_rng(seed)
    k = len(CLASSES)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1.0, (n, k))
    logits[np.arange(n), truth] += rng.normal(2.0, 1.2, n)
    logits += np.array([0.8, 0.3, -0.3, -0.8])
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    given = np.asarray(CLASSES, dtype=object)[truth].copy()
    given[rng.random(n) < hidden] = None
    ids = [f"q{i:05d}" for i in range(n)]
    return ids, np.asarray(CLASSES)[truth], given, probs.astype(np.float32)


@pytest.fixture
def queued(tmp_path):
    ids, truth, given, probs = simulate()
    store = ea.Store.create(
        tmp_path / "store",
        classes=CLASSES,
        samples=pd.DataFrame({"sample_id": ids, "label": given}),
    )
    store.add_run("cv", probs, out_of_sample=True)
    return store, pd.Series(truth, index=ids)


def auroc(score_of_positive, positive):
    """P(a positive scores lower than a negative): 1 = every positive comes first."""
    ranks = pd.Series(score_of_positive).rank().to_numpy()
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return 1 - (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def test_queue_is_what_the_thresholds_leave_ordered_by_activelab(queued):
    store, truth = queued
    plan = ea.pseudo_label(store, target_precision=0.95)
    queue = ea.annotation_queue(store, plan=plan)
    above = set(plan.selection()["sample_id"])
    unlabelled = set(store.sample_ids[~store.is_labelled()])
    assert set(queue["sample_id"]) == unlabelled - above and len(queue) > 0
    assert queue["score"].is_monotonic_increasing
    probs = store.run("cv").probs[store.positions(queue["sample_id"].tolist())]
    assert (queue["suggested_label"].to_numpy() == np.asarray(CLASSES)[probs.argmax(1)]).all()
    assert (queue["confidence"] < queue["threshold"].fillna(np.inf)).all()
    # ActiveLab without annotator data weighs confidence against chance: the same order
    expected = (probs.max(axis=1) + 1 / len(CLASSES)) / 2
    np.testing.assert_allclose(queue["score"], expected, atol=1e-5)
    # the model's mistakes come first
    wrong = queue["suggested_label"].to_numpy() != truth[queue["sample_id"]].to_numpy()
    assert 0.05 < wrong.mean() < 0.95
    assert auroc(queue["score"].to_numpy(), wrong) > 0.7
    assert queue.attrs["run"] == "cv" and queue.attrs["target_precision"] == 0.95
    has_cut = queue["threshold"].notna()
    assert queue.loc[has_cut, "reason"].str.contains("below .*'s threshold").all()
    assert queue.loc[~has_cut, "reason"].str.endswith("has no threshold").all()


def test_other_methods_and_bad_input(queued):
    store, _ = queued
    probs = np.array([[0.5, 0.3, 0.1, 0.1], [0.9, 0.05, 0.03, 0.02]])
    np.testing.assert_allclose(active_learning_scores(probs, "margin"), [0.2, 0.85])
    np.testing.assert_allclose(active_learning_scores(probs, "least-confidence"), [0.5, 0.9])
    entropy = active_learning_scores(probs, "entropy")
    assert 0 <= entropy[0] < entropy[1] <= 1
    margin = ea.annotation_queue(store, method="margin", limit=50)
    assert len(margin) == 50 and margin["score"].is_monotonic_increasing
    with pytest.raises(AnalysisError, match="unknown queue method 'smart'"):
        ea.annotation_queue(store, method="smart")
    with pytest.raises(AnalysisError, match="strictly between 0 and 1"):
        ea.annotation_queue(store, target_precision=1.5)
    with pytest.raises(AnalysisError, match="limit"):
        ea.annotation_queue(store, limit=-1)


def test_label_studio_queue_export_prefills_the_suggestion_and_answers_label_samples(
    queued, tmp_path
):
    store, truth = queued
    result = export_queue(store, tmp_path / "queue.json", target_precision=0.95, limit=40)
    tasks = json.loads(result.path.read_text())
    queue = ea.annotation_queue(store, target_precision=0.95, limit=40)
    assert [task["data"]["sample_id"] for task in tasks] == queue["sample_id"].tolist()
    first = tasks[0]
    assert first["data"]["given_label"] == ""  # unlabelled: nothing to show, not "nan"
    prediction = first["predictions"][0]
    assert prediction["result"][0]["value"]["choices"] == [queue["suggested_label"].iloc[0]]
    assert prediction["score"] == pytest.approx(queue["score"].iloc[0], abs=1e-6)
    assert first["data"]["reasons"].startswith("unlabelled; ")
    record = json.loads(result.record.read_text())
    assert record["kind"] == "queue" and record["parameters"]["method"] == "activelab"
    assert set(record["labels"].values()) == {""}

    answers = {sid: truth[sid] for sid in result.sample_ids[:30]}
    path = write_json(tmp_path / "answers.json", label_studio_json(result.path, answers))
    summary = import_annotations(store, path)
    assert (summary.applied, summary.conflicts) == (30, 0), summary.rows
    labels = store.labels()
    assert (labels[list(answers)].astype(str) == pd.Series(answers)).all()
    # answered samples leave the queue
    again = ea.annotation_queue(store, target_precision=0.95)
    assert not set(again["sample_id"]) & set(answers)


def test_cvat_queue_tags_are_the_suggestions_and_confirming_applies_them(queued, tmp_path):
    store, _ = queued
    result = export_queue(store, tmp_path / "queue.xml", format="cvat", limit=10)
    root = ET.parse(result.path).getroot()
    tags = [image.find("tag") for image in root.iter("image")]
    queue = ea.annotation_queue(store, limit=10)
    assert [tag.get("label") for tag in tags] == queue["suggested_label"].tolist()
    assert {tag.get("source") for tag in tags} == {"auto"}
    # the annotator changes the first tag and leaves the others: each image is an answer
    tags[0].set("label", next(c for c in CLASSES if c != tags[0].get("label")))
    ET.ElementTree(root).write(tmp_path / "answered.xml")
    summary = import_annotations(store, tmp_path / "answered.xml", format="cvat")
    assert summary.applied == 10 and summary.conflicts == 0
    assert store.labels()[result.sample_ids[0]] == tags[0].get("label")


def test_csv_queue_export_and_a_pseudo_labelled_sample_since_is_a_conflict(queued, tmp_path):
    store, truth = queued
    plan = ea.pseudo_label(store, target_precision=0.95)
    result = export_queue(store, tmp_path / "queue.csv", format="csv", plan=plan, limit=5)
    table = pd.read_csv(result.path, keep_default_na=False)
    assert table["sample_id"].tolist() == result.sample_ids
    assert (table["given"] == "").all() and (table["suggested"] != "").all()
    # a colleague labels one queued sample meanwhile; the annotator says something else
    first = result.sample_ids[0]
    store.relabel(first, truth[first], author="colleague")
    other = next(c for c in CLASSES if c != truth[first])
    answers = {sid: truth[sid] for sid in result.sample_ids} | {first: other}
    summary = import_annotations(store, fill_csv(result.path, answers, tmp_path / "f.csv"), "csv")
    assert summary.conflicts == 1 and summary.applied == 4
    assert "(unlabelled -> " in summary.conflict_rows.iloc[0]["reason"]
    assert store.labels()[first] == truth[first]


def test_stale_plan_is_made_again_after_accept(queued, tmp_path):
    store, _ = queued
    plan = ea.pseudo_label(store, target_precision=0.95)
    accepted = set(plan.selection()["sample_id"])
    plan.accept()
    result = export_queue(store, tmp_path / "q.json", plan=plan)
    assert result.count and not set(result.sample_ids) & accepted
    before = store.last_event_id
    with pytest.raises(UnknownFormatError):
        export_queue(store, tmp_path / "q.xyz", format="xyz")
    assert store.last_event_id == before and not (tmp_path / "q.xyz").exists()


def test_cli_export_queue(queued, tmp_path, capsys):
    store, _ = queued
    out = tmp_path / "queue.json"
    code = main(
        [
            "export",
            str(store.path),
            "-o",
            str(out),
            "--what",
            "queue",
            "--target-precision",
            "0.95",
            "--limit",
            "25",
        ]
    )
    assert code == 0
    assert "exported 25 samples" in capsys.readouterr().out
    assert len(json.loads(out.read_text())) == 25
    with pytest.raises(SystemExit) as info:  # argparse refuses an unknown method
        main(["export", str(store.path), "-o", str(out), "--what", "queue", "--method", "x"])
    assert info.value.code == 2
    code = main(
        ["export", str(store.path), "-o", str(out), "--what", "queue", "--target-precision", "2"]
    )
    assert code == 2 and "strictly between 0 and 1" in capsys.readouterr().err
