"""Errors that stand out (issue 17 item 3)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_score, recall_score

from erroranalysis.widgets import ConfusionMatrix, EmbeddingScatter
from erroranalysis.widgets.scatter import _CORRECT_COLOURS, _PALETTE, SELECTION_COLOUR


def test_off_diagonal_on_its_own_scale_and_the_worst_outlined(scanned_store):
    cm = ConfusionMatrix(scanned_store)
    counts = cm.counts.astype(float)
    shades = np.asarray(cm.heatmap.shades)
    off = ~np.eye(len(counts), dtype=bool)
    # the largest confusion is as dark as the largest diagonal cell, however small it is
    assert shades[off].max() == 1.0 and shades[~off].max() == 1.0
    worst = np.unravel_index(int(np.argmax(np.where(off, counts, -1))), counts.shape)
    assert cm.heatmap.worst_cell == [int(worst[0]), int(worst[1])]
    assert shades[worst] == 1.0
    empty = off & (counts == 0)
    assert (shades[empty] == 0).all()


def test_recall_precision_margins_and_accuracy(scanned_store):
    cm = ConfusionMatrix(scanned_store)
    frame = scanned_store.frame()
    labels = frame["label"].astype(str).to_numpy()
    predicted = frame["predicted_label"].astype(str).to_numpy()
    classes = list(scanned_store.classes)
    recall = recall_score(labels, predicted, labels=classes, average=None, zero_division=np.nan)
    precision = precision_score(
        labels, predicted, labels=classes, average=None, zero_division=np.nan
    )
    assert cm.heatmap.row_margin == [f"{100 * v:.0f}%" for v in recall]
    assert cm.heatmap.col_margin == [f"{100 * v:.0f}%" for v in precision]
    accuracy = (labels == predicted).mean()
    assert f"accuracy {100 * accuracy:.1f}%" in cm.heatmap.summary
    # a relabel to the prediction moves the accuracy
    wrong = int(np.flatnonzero(labels != predicted)[0])
    scanned_store.relabel(frame["sample_id"].iat[wrong], predicted[wrong])
    assert f"{(labels == predicted).sum() + 1:,} of" in cm.heatmap.summary


def test_colour_blind_safe_pair_and_a_selection_colour_no_class_uses(scanned_store):
    scatter = EmbeddingScatter(scanned_store, color_by="correct")
    right, wrong = (c.lower() for c in _CORRECT_COLOURS)
    assert {right, wrong} == {"#0072b2", "#d55e00"}  # Okabe–Ito blue / vermillion
    assert scatter.canvas.palette[:2] == list(_CORRECT_COLOURS)
    assert SELECTION_COLOUR.lower() not in {c.lower() for c in _PALETTE}
    assert scatter.canvas.selection_color == SELECTION_COLOUR
