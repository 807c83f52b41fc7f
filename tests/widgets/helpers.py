"""Test helpers for the widget tests (the one place that knows plotly's private click trait)."""

from __future__ import annotations

import numpy as np


def plotly_event(figure, event_type, trace_index, point_indexes, xs=None, ys=None, selector=None):
    """Act as plotly's front-end does: write the FigureWidget's ``_js2py_pointsCallback`` trait.

    This is private plotly API, so it lives in this one helper (a plotly upgrade breaks one place).

    Parameters
    ----------
    figure : plotly.graph_objects.FigureWidget
    event_type : str
        ``"plotly_click"``, ``"plotly_selected"`` or ``"plotly_deselect"``.
    trace_index : int
        The trace the points belong to.
    point_indexes : list of int
        Point indexes within that trace.
    selector : dict, optional
        ``{"type": "box", "selector_state": {"xrange": [..], "yrange": [..]}}`` or a lasso
        ``{"type": "lasso", "selector_state": {"xs": [..], "ys": [..]}}``.
    """
    point_indexes = [int(i) for i in point_indexes]
    trace = figure.data[trace_index]
    if xs is None:
        xs = [float(trace.x[i]) for i in point_indexes]
    if ys is None:
        ys = [float(trace.y[i]) for i in point_indexes]
    payload = {
        "event_type": event_type,
        "points": {
            "trace_indexes": [int(trace_index)] * len(point_indexes),
            "point_indexes": point_indexes,
            "xs": xs,
            "ys": ys,
        },
    }
    if selector is not None:
        payload["selector"] = selector
    figure._js2py_pointsCallback = payload


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
