"""Test helpers for the widget tests."""

from __future__ import annotations

import numpy as np


def recount(store, frame):
    """Confusion counts from scratch: rows = current label, columns = predicted."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(
        store.labels().astype(str).to_numpy(),
        frame["predicted_label"].astype(str).to_numpy(),
        labels=list(store.classes),
    )


def wrong_cell(dash):
    """(row, col) codes of the most populated off-diagonal confusion cell."""
    counts = dash.confusion.counts.copy()
    np.fill_diagonal(counts, -1)
    return np.unravel_index(int(np.argmax(counts)), counts.shape)
