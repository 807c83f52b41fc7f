"""Test helpers for the widget tests (the one place that knows plotly's private click trait)."""

from __future__ import annotations

import numpy as np


def plotly_event(scatter, event_type, trace_index, point_indexes, xs=None, ys=None, selector=None):
    """Act as the page does when plotly fires a click, selection or deselect on the scatter.

    The scatter takes these events from its :class:`PlotlyEventRelay` (the page forwards
    ``plotly_click`` / ``plotly_selected`` / ``plotly_deselect`` through the relay's ``event``
    trait), so this writes that trait exactly as the relay's front-end does. It is the one place
    that knows the event format.

    Parameters
    ----------
    scatter : EmbeddingScatter
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
    kind = {"plotly_click": "click", "plotly_selected": "selected", "plotly_deselect": "deselect"}
    event = {
        "type": kind[event_type],
        "points": [[int(trace_index), int(i)] for i in point_indexes],
        "range": None,
        "lasso": None,
        "n": plotly_event.count,
    }
    plotly_event.count += 1
    if selector is not None:
        state = selector["selector_state"]
        if selector["type"] == "box":
            event["range"] = {"x": list(state["xrange"]), "y": list(state["yrange"])}
        else:
            event["lasso"] = {"x": list(state["xs"]), "y": list(state["ys"])}
    scatter.relay.event = event


plotly_event.count = 0


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
