from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import erroranalysis as ea
from erroranalysis.analysis.base import AnalysisError
from erroranalysis.analysis.confusion import (
    Confusion,
    ConfusionState,
    class_metrics,
    most_confused,
)


def test_matrix_and_metrics_exact_values():
    labels = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0])
    state = ConfusionState(labels, pred, 3, ["a", "b", "c"])
    assert state.matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert state.accuracy == pytest.approx(3 / 5)
    metrics = state.class_metrics()
    assert metrics["precision"].tolist() == pytest.approx([0.5, 2 / 3, 0.0])
    assert metrics["recall"].tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert metrics["f1"].tolist() == pytest.approx([0.5, 0.8, 0.0])
    assert metrics["support"].tolist() == [2, 2, 1]
    p, r, f, _s = precision_recall_fscore_support(labels, pred, labels=[0, 1, 2], zero_division=0)
    assert np.allclose(metrics[["precision", "recall", "f1"]].to_numpy().T, [p, r, f])
    assert np.allclose(
        state.normalized("true"), [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    )
    assert state.normalized("pred")[:, 0].tolist() == pytest.approx([0.5, 0.0, 0.5])
    assert state.cell_positions(0, 1).tolist() == [1]


def test_most_confused_order_and_empty_classes():
    matrix = np.array([[5, 3, 0], [1, 4, 3], [0, 0, 0]])
    pairs = most_confused(matrix, ["a", "b", "c"])
    assert list(zip(pairs["true"], pairs["predicted"], pairs["count"], strict=True)) == [
        ("a", "b", 3),
        ("b", "c", 3),
        ("b", "a", 1),
    ]
    assert pairs["fraction_of_true"].tolist() == pytest.approx([3 / 8, 3 / 8, 1 / 8])
    metrics = class_metrics(matrix)
    assert metrics.loc[2, "recall"] == 0.0 and metrics.loc[2, "support"] == 0


def test_incremental_updates_equal_full_recompute():
    rng = np.random.default_rng(1)
    n, k = 2000, 7
    labels = rng.integers(0, k, n)
    pred = rng.integers(0, k, n)
    state = ConfusionState(labels, pred, k)
    current = labels.copy()
    for _ in range(300):
        position = int(rng.integers(n))
        new = int(rng.integers(k))
        state.apply_relabel(position, int(current[position]), new)
        current[position] = new
    assert np.array_equal(state.matrix, confusion_matrix(current, pred, labels=range(k)))
    # sync catches up with changes it was not told about (undo, other processes)
    current[:50] = (current[:50] + 1) % k
    changed = state.sync(current)
    assert len(changed) == 50
    assert np.array_equal(state.matrix, confusion_matrix(current, pred, labels=range(k)))


def test_apply_relabel_rejects_a_missed_event():
    state = ConfusionState([0, 1], [0, 1], 2)
    with pytest.raises(AnalysisError, match="sync"):
        state.apply_relabel(0, 1, 0)
    with pytest.raises(AnalysisError):
        ConfusionState([0, 3], [0, 1], 2)


def test_confusion_follows_store_relabels(planted):
    store, _ = planted
    run = store.run()
    state = ConfusionState.from_store(store, run)
    ids = store.sample_ids[:5]
    for sample_id in ids:
        position = int(store.positions([sample_id])[0])
        old = int(store.label_codes()[position])
        new = (old + 1) % store.num_classes
        store.relabel(sample_id, store.classes[new])
        state.apply_relabel(position, old, new)
    store.undo()
    state.sync(store.label_codes())
    fresh = ConfusionState.from_store(store, run)
    assert np.array_equal(state.matrix, fresh.matrix)


def test_confusion_artifact_and_staleness(planted):
    store, _ = planted
    run = store.run()
    ea.scan(store, analyses=["confusion"], progress=False)
    table = run.load_artifact("confusion")
    assert list(table.columns) == store.classes
    fitted = Confusion().fit(store, run)
    assert np.array_equal(table.to_numpy(), fitted.matrix_)
    assert int(table.to_numpy().sum()) == store.num_samples
    store.relabel(store.sample_ids[0], store.classes[(store.label_codes()[0] + 1) % 4])
    summary = ea.scan(store, analyses=["confusion"], progress=False)
    assert summary.status("confusion") == "computed"
    assert np.array_equal(
        run.load_artifact("confusion").to_numpy(), Confusion().fit(store, run).matrix_
    )
    assert ea.scan(store, analyses=["confusion"], progress=False).status("confusion") == "cached"
