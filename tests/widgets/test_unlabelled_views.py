"""Views show unlabelled samples as unlabelled; labelling one from the inspector updates them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import erroranalysis as ea
from erroranalysis.widgets import ConfusionMatrix, EmbeddingScatter, Gallery, Inspector, Selection

CLASSES = ["cat", "dog", "fox"]


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(1)
    n = 30
    (tmp_path / "img").mkdir()
    for i in range(n):
        Image.new("RGB", (12, 12), (i * 8, 40, 90)).save(tmp_path / "img" / f"{i}.png")
    labels = np.asarray(CLASSES, dtype=object)[np.arange(n) % 3]
    samples = pd.DataFrame({"sample_id": [f"s{i:02d}" for i in range(n)],
                            "label": np.where(np.arange(n) % 5 == 0, None, labels),
                            "path": [f"{i}.png" for i in range(n)]})  # fmt: skip
    store = ea.Store.create(tmp_path / "s", classes=CLASSES, samples=samples,
                            image_root=tmp_path / "img")  # fmt: skip
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), np.arange(n) % 3] += 2
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    store.add_run("r", probs, embeddings=rng.normal(size=(n, 2)).astype(np.float32))
    ea.scan(store, analyses=["scores", "label_issues"], progress=False)
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    store.run("r").save_result("xy", pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]}))
    return store


def test_gallery_marks_unlabelled(store):
    gallery = Gallery(store, page_size=30, sort_by="entropy")
    items = {item["sample_id"]: item for item in gallery.grid.items}
    item = items["s00"]
    assert "unlabelled" in item["badges"] and not item["wrong"] and not item["relabeled"]
    assert item["caption"].startswith("unlabelled → ")
    assert "unlabelled" not in items["s01"]["badges"]


def test_inspector_shows_unlabelled_and_labels_it(store):
    selection = Selection()
    inspector = Inspector(store, selection=selection, author="tester")
    selection.focus("s00", source="test")
    assert "<b>unlabelled</b>" in inspector.details.value
    event = inspector.relabel("dog")
    assert store.labels()["s00"] == "dog"
    assert store.history("s00")["author"].tolist() == ["tester"]
    assert event == store.last_event_id
    assert 'ea-relabeled">dog</b>' in inspector.details.value  # the current label row updated


def test_scatter_colours_unlabelled_grey(store):
    scatter = EmbeddingScatter(store)
    codes, names, colours = scatter.category_codes()
    assert names[-1] == "unlabelled" and colours[-1] == "#bdbdbd"
    unlabelled = ~store.is_labelled()
    assert (codes[unlabelled] == len(names) - 1).all()
    assert (codes[~unlabelled] < len(CLASSES)).all()
    scatter.color_by.value = "correct"
    codes, names, _ = scatter.category_codes()
    assert names == ["correct", "wrong", "unlabelled"]
    assert (codes[unlabelled] == 2).all()


def test_confusion_counts_labelled_only_and_follows_labelling(store):
    matrix = ConfusionMatrix(store)
    labelled = int(store.is_labelled().sum())
    assert int(matrix.counts.sum()) == labelled
    store.relabel("s00", "cat")
    matrix.data.sync()
    assert int(matrix.counts.sum()) == labelled + 1
    store.undo()
    matrix.data.sync()
    assert int(matrix.counts.sum()) == labelled
