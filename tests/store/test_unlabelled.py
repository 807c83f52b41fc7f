"""Unlabelled samples in the store: creation, frame(), labelling by relabel, undo, reopening."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import erroranalysis as ea
from erroranalysis.errors import UnknownLabelError


def _samples(n: int = 12) -> pd.DataFrame:
    labels = [None if i % 3 == 0 else ["cat", "dog"][i % 2] for i in range(n)]
    labels[3] = float("nan")
    labels[6] = "  "
    return pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "label": labels})


def test_missing_labels_make_unlabelled_samples(tmp_path):
    store = ea.Store.create(tmp_path / "s", classes=["cat", "dog"], samples=_samples())
    labelled = store.is_labelled()
    assert labelled.tolist() == [i % 3 != 0 for i in range(12)]
    assert (store.given_codes[~labelled] == -1).all()
    assert store.labels().isna().tolist() == (~labelled).tolist()
    frame = store.frame()
    assert frame["is_labelled"].tolist() == labelled.tolist()
    assert frame.loc[~labelled, "given_label"].isna().all()
    assert frame.loc[~labelled, "label"].isna().all()


def test_classes_default_to_the_labels_present(tmp_path):
    store = ea.Store.create(tmp_path / "s", samples=_samples())
    assert store.classes == ["cat", "dog"]


def test_unknown_labels_still_refused_next_to_unlabelled_rows(tmp_path):
    samples = _samples()
    samples.loc[1, "label"] = "cow"
    with pytest.raises(UnknownLabelError, match="cow"):
        ea.Store.create(tmp_path / "s", classes=["cat", "dog"], samples=samples)


def test_all_unlabelled_needs_classes(tmp_path):
    samples = pd.DataFrame({"sample_id": ["a", "b"], "label": [None, None]})
    with pytest.raises(ValueError, match="pass classes"):
        ea.Store.create(tmp_path / "s", samples=samples)
    store = ea.Store.create(tmp_path / "t", classes=["x", "y"], samples=samples)
    assert not store.is_labelled().any()


def test_relabel_labels_it_and_undo_unlabels_it(tmp_path):
    store = ea.Store.create(tmp_path / "s", classes=["cat", "dog"], samples=_samples())
    event = store.relabel("s0", "dog", author="ann")
    assert store.labels()["s0"] == "dog" and store.is_labelled()[0]
    history = store.history("s0")
    assert history["kind"].tolist() == ["relabel"]
    assert history["previous_label"].isna().all() and history["label"].iloc[0] == "dog"
    assert store.label_version == event
    reopened = ea.Store.open(tmp_path / "s")
    assert reopened.labels()["s0"] == "dog"
    undo = store.undo()
    assert not store.is_labelled()[0] and pd.isna(store.labels()["s0"])
    assert store.label_version == undo
    assert store.journal.label_version() == undo
    assert pd.isna(ea.Store.open(tmp_path / "s").labels()["s0"])
    # another handle that saw the relabel follows the undo too
    reopened.refresh()
    assert pd.isna(reopened.labels()["s0"])


def test_labelled_only_analyses_skip_unlabelled(tmp_path):
    rng = np.random.default_rng(0)
    n = 90
    labels = np.array(["cat", "dog", "fox"], dtype=object)[np.arange(n) % 3]
    hidden = np.arange(n) % 4 == 0
    samples = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "label": np.where(hidden, None, labels),
            "source": np.where(np.arange(n) % 2, "a", "b"),
        }
    )
    store = ea.Store.create(tmp_path / "s", classes=["cat", "dog", "fox"], samples=samples)
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), np.arange(n) % 3] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    store.add_run("r", probs.astype(np.float32))
    ea.scan(store, analyses=["scores", "confusion", "label_issues", "slices", "evaluation"],
            progress=False)  # fmt: skip
    frame = store.frame()
    unl = ~frame["is_labelled"].to_numpy()
    for column in ("self_confidence", "margin", "loss", "label_quality"):
        assert frame.loc[unl, column].isna().all(), column
        assert frame.loc[~unl, column].notna().all(), column
    assert frame["entropy"].notna().all() and frame["predicted_label"].notna().all()
    assert not frame.loc[unl, "is_label_issue"].any()
    assert (frame.loc[unl, "suggested_label"] == frame.loc[unl, "predicted_label"]).all()
    run = store.run()
    matrix = run.load_artifact("confusion")
    assert int(matrix.to_numpy().sum()) == int((~unl).sum())
    metrics = run.load_artifact("evaluation")
    assert metrics["num_samples"] == int((~unl).sum())
    predicted = frame["predicted_label"].astype(str).to_numpy()
    expected = float((predicted[~unl] == frame["label"].astype(str).to_numpy()[~unl]).mean())
    assert metrics["accuracy_all"] == pytest.approx(expected)
    slices = run.load_artifact("slices")
    assert int(slices.loc[slices["feature"] == "source", "size"].sum()) == int((~unl).sum())
    # label issues on the labelled subset equal cleanlab on that subset alone
    from cleanlab.filter import find_label_issues

    codes = store.label_codes()[~unl]
    direct = find_label_issues(codes, probs[~unl].astype(np.float32))
    assert frame.loc[~unl, "is_label_issue"].to_numpy().tolist() == direct.tolist()


def test_confusion_state_follows_labelling_and_unlabelling():
    from erroranalysis.analysis.confusion import ConfusionState

    state = ConfusionState([0, -1, 1], [0, 1, 1], 2)
    assert state.matrix.tolist() == [[1, 0], [0, 1]]
    state.apply_relabel(1, -1, 0)
    assert state.matrix.tolist() == [[1, 1], [0, 1]]
    state.sync(np.array([0, -1, 1]))
    assert state.matrix.tolist() == [[1, 0], [0, 1]]
