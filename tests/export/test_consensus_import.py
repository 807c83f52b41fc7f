"""Importing several annotators' answers (issue 13): consensus instead of a conflict per
disagreement, only doubtful consensus to a person, one undoable batch, per-annotator authors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.analysis.consensus import LOW_CONSENSUS_FLAG, answers_from_journal
from erroranalysis.cli import main
from erroranalysis.errors import ImportRefusedError
from erroranalysis.export import export_queue, import_annotations

from .helpers import write_json

CLASSES = ["ant", "bee", "cat", "dog", "eel"]
ACCURACY = {"ana@example.com": 0.9, "ben@example.com": 0.75, "cy@example.com": 0.6}


@pytest.fixture
def unlabelled(tmp_path):
    """600 unlabelled samples (with 400 labelled ones) and model probabilities, known truth."""
    rng = np.random.default_rng(3)
    n, k = 1000, len(CLASSES)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += rng.normal(1.8, 1.0, n)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    ids = [f"u{i:04d}" for i in range(n)]
    given = np.asarray(CLASSES, dtype=object)[truth].copy()
    given[400:] = None
    store = ea.Store.create(
        tmp_path / "store",
        classes=CLASSES,
        samples=pd.DataFrame({"sample_id": ids, "label": given}),
    )
    store.add_run("cv", probs.astype(np.float32), out_of_sample=True)
    return store, pd.Series(np.asarray(CLASSES)[truth], index=ids)


def simulated_answers(sample_ids, truth, seed=5):
    """Each annotator answers every sample with its accuracy; wrong = another class at random."""
    rng = np.random.default_rng(seed)
    answers = {}
    for name, accuracy in ACCURACY.items():
        right = rng.random(len(sample_ids)) < accuracy
        answers[name] = {
            sid: truth[sid]
            if ok
            else CLASSES[(CLASSES.index(truth[sid]) + int(rng.integers(1, 5))) % 5]
            for sid, ok in zip(sample_ids, right, strict=True)
        }
    return answers


def label_studio_export(tasks_path, answers):
    """A Label Studio JSON export of tasks each annotated by several users (ids 1, 2, 3)."""
    tasks = json.loads(tasks_path.read_text())
    exported, annotation_id = [], 0
    for task_id, task in enumerate(tasks, start=1):
        sid = task["data"]["sample_id"]
        annotations = []
        for user_id, (email, given) in enumerate(answers.items(), start=1):
            if sid not in given:
                continue
            annotation_id += 1
            annotations.append(
                {
                    "id": annotation_id,
                    "completed_by": {"id": user_id, "email": email},
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": [given[sid]]},
                        }
                    ],
                    "was_cancelled": False,
                    "updated_at": f"2026-12-03T10:{user_id:02d}:00Z",
                }
            )
        exported.append({"id": task_id, "data": task["data"], "annotations": annotations})
    return exported


def test_three_annotators_consensus_applied_doubtful_ones_to_people(unlabelled, tmp_path):
    store, truth = unlabelled
    result = export_queue(store, tmp_path / "queue.json", target_precision=0.95)
    ids = result.sample_ids
    assert len(ids) >= 300
    answers = simulated_answers(ids, truth)
    path = write_json(tmp_path / "export.json", label_studio_export(result.path, answers))
    summary = import_annotations(store, path)

    assert summary.consensus_method == "crowdlab" and len(summary.consensus) == len(ids)
    assert summary.annotators["annotator"].tolist() == list(ACCURACY)  # ranked right
    # only real disagreements go to a person; the others are applied, mostly right
    assert summary.conflicts == summary.low_consensus > 0
    assert summary.conflicts < 0.4 * len(ids)
    assert summary.applied == len(ids) - summary.conflicts
    applied = summary.consensus[
        ~summary.consensus["sample_id"].isin(summary.conflict_rows["sample_id"])
    ]
    labels = store.labels()
    consensus_accuracy = (
        labels[applied["sample_id"]].astype(str) == truth[applied["sample_id"]]
    ).mean()
    best_single = max(
        np.mean([given[sid] == truth[sid] for sid in ids]) for given in answers.values()
    )
    assert consensus_accuracy > best_single
    assert (
        "annotators disagree and their consensus is doubtful"
        in (summary.conflict_rows["reason"].iloc[0])
    )
    assert set(summary.rows["status"]) <= {"applied", "conflict", "outvoted", "duplicate"}
    assert "outvoted" in set(summary.rows["status"])
    assert "consensus (crowdlab) of" in str(summary)
    assert "ana@example.com: quality" in summary.annotator_report()

    # one batch: relabels by the annotators who agreed, a note per answer by its annotator
    events = store.events()
    assert events["batch"].nunique() == 1
    notes = events[events["kind"] == "note"]
    assert len(notes) == 3 * len(ids) and set(notes["author"]) == set(ACCURACY)
    relabel = events[events["kind"] == "relabel"].iloc[0]
    assert set(relabel["author"].split("+")) <= set(ACCURACY)
    assert relabel["note"].startswith("consensus ")
    assert relabel["source"] == f"import:label-studio:{result.export_id}"
    flags = store.flags()
    doubtful = set(flags.loc[flags["flag"] == LOW_CONSENSUS_FLAG, "sample_id"])
    assert doubtful == set(summary.conflict_rows["sample_id"])
    assert not store.is_labelled()[store.positions(sorted(doubtful))].any()
    journaled = answers_from_journal(store)
    assert len(journaled) == 3 * len(ids)
    quality = ea.annotator_quality(store)
    assert quality["annotator"].tolist() == list(ACCURACY)

    # the report shows the import's cached analysis (the dashboard's tab reads the same), so
    # writing it computes no consensus again
    def no_recompute(*args, **kwargs):
        raise AssertionError("the report recomputed the consensus instead of reading the cache")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("erroranalysis.analysis.consensus.crowdlab_consensus", no_recompute)
        html = ea.report(store, tmp_path / "report.html").read_text()
    section = html[html.index("<h2>Annotators</h2>") :]
    assert f"{len(doubtful):,} samples wait for a person" in section
    assert section.index("ana@example.com") < section.index("cy@example.com")

    # importing the same file again adds nothing
    last = store.last_event_id
    again = import_annotations(store, path)
    assert again.applied == 0 and again.conflicts == summary.conflicts
    assert store.last_event_id == last

    # the doubtful samples come back in the queue, scored with the answers
    queue = ea.annotation_queue(store, target_precision=0.95)
    back = queue[queue["sample_id"].isin(doubtful)]
    assert set(back["sample_id"]) == doubtful
    assert back["reason"].str.startswith("annotators disagree").all()
    assert queue["sample_id"].is_unique
    assert queue["score"].is_monotonic_increasing

    store.undo()  # the whole import at once
    assert not store.is_labelled()[store.positions(ids)].any()
    assert answers_from_journal(store).empty
    assert not (store.flags()["flag"] == LOW_CONSENSUS_FLAG).any()


def test_force_applies_the_doubtful_consensus_and_majority_option(unlabelled, tmp_path):
    store, truth = unlabelled
    result = export_queue(store, tmp_path / "queue.json", limit=200)
    answers = simulated_answers(result.sample_ids, truth)
    path = write_json(tmp_path / "export.json", label_studio_export(result.path, answers))
    preview = import_annotations(store, path, consensus="majority", dry_run=True)
    assert preview.consensus_method == "majority" and store.last_event_id == 0
    forced = import_annotations(store, path, force=True)
    assert forced.applied == 200 and forced.conflicts == forced.low_consensus > 0
    assert store.is_labelled()[store.positions(result.sample_ids)].all()
    assert not (store.flags()["flag"] == LOW_CONSENSUS_FLAG).any()


def test_off_reports_every_disagreement_and_relabels_since_export_stay_conflicts(
    unlabelled, tmp_path
):
    store, truth = unlabelled
    result = export_queue(store, tmp_path / "queue.json", limit=100)
    answers = simulated_answers(result.sample_ids, truth)
    path = write_json(tmp_path / "export.json", label_studio_export(result.path, answers))
    off = import_annotations(store, path, consensus=None, dry_run=True)
    disagreeing = sum(
        len({given[sid] for given in answers.values()}) > 1 for sid in result.sample_ids
    )
    assert off.conflicts == disagreeing and off.consensus is None
    # a colleague labels a sample the annotators agree on, to something else
    unanimous = next(
        sid for sid in result.sample_ids if len({given[sid] for given in answers.values()}) == 1
    )
    other = next(c for c in CLASSES if c != answers["ana@example.com"][unanimous])
    store.relabel(unanimous, other, author="colleague")
    summary = import_annotations(store, path)
    row = summary.conflict_rows.set_index("sample_id").loc[unanimous]
    assert "relabelled in the store since the export" in str(row["reason"])
    assert store.labels()[unanimous] == other


def write_csv_answers(csv_path, answers, out_path, with_annotator=True):
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0]) if with_annotator else [f for f in rows[0] if f != "annotator"]
    out = []
    for name, given in answers.items():
        for row in rows:
            entry = {**row, "label": given[row["sample_id"]], "annotator": name}
            if not with_annotator:
                entry.pop("annotator")
            out.append(entry)
    with open(out_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(out)
    return out_path


def test_csv_with_an_annotator_column_and_without_one(unlabelled, tmp_path):
    store, truth = unlabelled
    result = export_queue(store, tmp_path / "queue.csv", format="csv", limit=150)
    answers = simulated_answers(result.sample_ids, truth)
    missing = write_csv_answers(result.path, answers, tmp_path / "no-ann.csv", False)
    with pytest.raises(ImportRefusedError, match="'annotator' column") as info:
        import_annotations(store, missing, format="csv")
    assert "nothing applied" in str(info.value)
    assert store.last_event_id == 0
    code = main(["import", str(store.path), str(missing), "--format", "csv"])
    assert code == 2

    filled = write_csv_answers(result.path, answers, tmp_path / "answers.csv")
    summary = import_annotations(store, filled, format="csv")
    assert summary.consensus_method == "crowdlab" and len(summary.consensus) == 150
    assert summary.applied + summary.conflicts == 150
    assert summary.annotators["annotator"].iloc[0] == "ana@example.com"


def test_cli_import_prints_the_annotator_quality(unlabelled, tmp_path, capsys):
    store, truth = unlabelled
    result = export_queue(store, tmp_path / "queue.json", limit=120)
    answers = simulated_answers(result.sample_ids, truth)
    path = write_json(tmp_path / "export.json", label_studio_export(result.path, answers))
    assert main(["import", str(store.path), str(path), "--min-consensus-quality", "0.6"]) == 0
    printed = capsys.readouterr().out
    assert "consensus (crowdlab) of 120 samples" in printed
    assert "annotator quality (crowdlab):" in printed
    assert printed.index("ana@example.com: quality") < printed.index("cy@example.com: quality")


def test_a_doubtful_sample_sent_out_again_is_settled_with_the_earlier_answers(unlabelled, tmp_path):
    store, truth = unlabelled
    result = export_queue(store, tmp_path / "queue.json", limit=300)
    answers = simulated_answers(result.sample_ids, truth)
    first = write_json(tmp_path / "first.json", label_studio_export(result.path, answers))
    summary = import_annotations(store, first)
    doubtful = set(summary.conflict_rows["sample_id"])
    assert doubtful

    # the queue offers them again; a fourth, careful annotator answers them
    again = export_queue(store, tmp_path / "again.json")
    assert doubtful <= set(again.sample_ids)
    extra = {"dee@example.com": {sid: truth[sid] for sid in doubtful}}
    second = write_json(tmp_path / "second.json", label_studio_export(again.path, extra))
    settled = import_annotations(store, second)
    # one more answer each, weighed with the three journaled ones (not applied alone)
    assert (
        settled.consensus_method == "crowdlab" and set(settled.consensus["sample_id"]) == doubtful
    )
    assert (settled.consensus["num_annotations"] == 4).all()
    assert settled.applied > len(doubtful) / 2
    assert set(settled.annotators["annotator"]) == set(ACCURACY) | {"dee@example.com"}
    labels = store.labels()
    applied = settled.rows.loc[settled.rows["status"] == "applied", "sample_id"]
    assert (labels[applied].astype(str) == truth[applied]).mean() > 0.9
    flags = store.flags()
    still = set(flags.loc[flags["flag"] == LOW_CONSENSUS_FLAG, "sample_id"])
    assert still == set(settled.conflict_rows["sample_id"]) and len(still) < len(doubtful)
    queue = ea.annotation_queue(store)
    assert not set(applied) & set(queue["sample_id"])
