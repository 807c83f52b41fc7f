"""Confusion matrix view: rows = current (given) label, columns = predicted label.

Drawn as scikit-learn draws it (``ConfusionMatrixDisplay``): true label down the side, predicted
label along the top, class names on both axes. Clicking a cell selects its samples. The cells are
a plain HTML table in a small anywidget, not a plotly heatmap: in the real browser a plotly
FigureWidget heatmap inside a dashboard lost its clicks, plain DOM clicks do not.

After a relabel the counts move in O(1) per relabelled sample (no recount).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import SCAN_HINT, Change, confusion_counts, update_confusion
from erroranalysis.widgets._frontend import HeatmapWidget
from erroranalysis.widgets.selection import Selection

__all__ = ["ConfusionMatrix"]


class ConfusionMatrix(View):
    """Clickable confusion matrix linked to a :class:`Selection`.

    Parameters
    ----------
    store : Store or ViewData
        The store to show.
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Shared selection; clicking a cell selects its samples.
    normalize : {None, "true", "pred"}
        Show counts, or rows / columns normalised to 1 (as in scikit-learn).
    max_classes : int
        With more classes than this, show the ``max_classes`` classes with the most errors.

    Attributes
    ----------
    counts : numpy.ndarray
        ``(K, K)`` counts, rows = current label, columns = predicted label (``None`` before a scan).
    heatmap : HeatmapWidget
        The front-end table (CSS class ``ea-confusion`` on the view).

    Examples
    --------
    >>> cm = ConfusionMatrix(store)            # doctest: +SKIP
    >>> cm.click("cat", "dog")                 # selects samples labelled cat, predicted dog  # doctest: +SKIP
    """

    view_name = "confusion"
    css_class = "ea-confusion"

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        normalize: str | None = None,
        max_classes: int = 30,
    ) -> None:
        if normalize not in (None, "counts", "true", "pred"):
            raise ValueError(
                f"normalize must be None, 'true' (rows) or 'pred' (columns), got {normalize!r}"
            )
        super().__init__(store, run, selection)
        self.max_classes = int(max_classes)
        self.heatmap = HeatmapWidget(row_title="given", col_title="predicted")
        self.heatmap.on_click(self.guard(self._on_click))
        self.mode = widgets.ToggleButtons(
            options=[("counts", "counts"), ("by row", "true"), ("by column", "pred")],
            value=normalize or "counts",
            style={"button_width": "auto"},
            tooltips=["counts", "normalised over each given label", "normalised over predictions"],
        )
        self.mode.add_class("ea-confusion-mode")
        self.mode.observe(lambda _: self._render(), "value")
        self.children = [self.message, self.mode, self.heatmap]
        self.shown: np.ndarray = np.zeros(0, dtype=np.int64)
        self._cell: tuple[int, int] | None = None
        self._cell_description = ""
        self.counts: np.ndarray | None = None
        self._build()

    # -- data ----------------------------------------------------------------------------
    def _build(self) -> None:
        data = self.data
        if data.pred_codes is None:
            self.counts = None
            self.show_message(f"No predictions analysed yet: {SCAN_HINT}.")
            self.heatmap.row_labels, self.heatmap.col_labels = [], []
            self.heatmap.texts, self.heatmap.shades = [], []
            return
        self.show_message(None)
        self.counts = confusion_counts(data.label_codes, data.pred_codes, data.num_classes)
        self._choose_classes()
        self._render()

    def _choose_classes(self) -> None:
        k = self.data.num_classes
        if k <= self.max_classes:
            self.shown = np.arange(k, dtype=np.int64)
            self.heatmap.caption = ""
            return
        errors = self.counts.sum(axis=1) + self.counts.sum(axis=0) - 2 * np.diag(self.counts)
        top = np.sort(np.argsort(-errors, kind="stable")[: self.max_classes])
        self.shown = top.astype(np.int64)
        self.heatmap.caption = f"showing the {self.max_classes} of {k} classes with the most errors"

    def values(self) -> np.ndarray:
        """The displayed matrix (counts or normalised), restricted to the shown classes."""
        sub = self.counts[np.ix_(self.shown, self.shown)].astype(np.float64)
        if self.mode.value == "true":
            full = self.counts[self.shown].sum(axis=1, keepdims=True)
            return np.divide(sub, full, out=np.zeros_like(sub), where=full > 0)
        if self.mode.value == "pred":
            full = self.counts[:, self.shown].sum(axis=0, keepdims=True)
            return np.divide(sub, full, out=np.zeros_like(sub), where=full > 0)
        return sub

    def shades(self, vals: np.ndarray) -> np.ndarray:
        """Cell shades in [0, 1]: the diagonal and the off-diagonal each on their own scale, so
        the worst confusion is as dark as the best-recognised class, whatever their sizes."""
        k = len(vals)
        diagonal = np.eye(k, dtype=bool)
        out = np.zeros_like(vals, dtype=np.float64)
        for part in (diagonal, ~diagonal):
            top = vals[part].max() if part.any() else 0.0
            if top > 0:
                out[part] = vals[part] / top
        return out

    def worst_cell(self) -> tuple[int, int] | None:
        """(row, column) among the shown classes of the largest confusion (None: no errors)."""
        sub = self.counts[np.ix_(self.shown, self.shown)].copy()
        np.fill_diagonal(sub, 0)
        if not sub.size or sub.max() <= 0:
            return None
        i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
        return int(i), int(j)

    def recall(self) -> np.ndarray:
        """Per shown class: the share of samples labelled so that the model predicts so (NaN: none)."""
        full = self.counts.sum(axis=1)[self.shown].astype(np.float64)
        hits = np.diag(self.counts)[self.shown].astype(np.float64)
        return np.divide(hits, full, out=np.full_like(hits, np.nan), where=full > 0)

    def precision(self) -> np.ndarray:
        """Per shown class: the share of predictions of it that carry its label (NaN: none)."""
        full = self.counts.sum(axis=0)[self.shown].astype(np.float64)
        hits = np.diag(self.counts)[self.shown].astype(np.float64)
        return np.divide(hits, full, out=np.full_like(hits, np.nan), where=full > 0)

    def accuracy(self) -> tuple[float, int, int]:
        """Overall accuracy against the current labels: (accuracy, correct, labelled)."""
        total = int(self.counts.sum())
        correct = int(np.trace(self.counts))
        return (correct / total if total else float("nan")), correct, total

    def _render(self) -> None:
        if self.counts is None:
            return
        vals = self.values()
        if self.mode.value == "counts":
            texts = [[str(int(v)) for v in row] for row in vals]
        else:
            texts = [[f"{v:.2f}" for v in row] for row in vals]
        names = [self.data.classes[i] for i in self.shown]
        accuracy, correct, total = self.accuracy()
        worst = self.worst_cell()

        def percent(values: np.ndarray) -> list[str]:
            return ["–" if np.isnan(v) else f"{100 * v:.0f}%" for v in values]

        with self.heatmap.hold_sync():
            self.heatmap.row_labels = names
            self.heatmap.col_labels = names
            self.heatmap.texts = texts
            self.heatmap.shades = np.round(self.shades(vals), 3).tolist()
            self.heatmap.worst_cell = list(worst) if worst else []
            self.heatmap.row_margin = percent(self.recall())
            self.heatmap.col_margin = percent(self.precision())
            self.heatmap.row_margin_title = "recall"
            self.heatmap.col_margin_title = "precision"
            self.heatmap.summary = (
                f"accuracy {100 * accuracy:.1f}% ({correct:,} of {total:,})" if total else ""
            )

    # -- interaction ---------------------------------------------------------------------
    def cell_positions(self, row: int, col: int) -> np.ndarray:
        """Row positions of samples with current label ``row`` and prediction ``col`` (codes)."""
        data = self.data
        return np.flatnonzero((data.label_codes == row) & (data.pred_codes == col))

    def click(self, given: str | int, predicted: str | int) -> None:
        """Select the samples of one cell, as a click on it does.

        Parameters
        ----------
        given, predicted : str or int
            Class names (or codes) of the row and the column.
        """
        row = self.data.classes.index(given) if isinstance(given, str) else int(given)
        col = self.data.classes.index(predicted) if isinstance(predicted, str) else int(predicted)
        if self.counts is None:
            return
        pos = self.cell_positions(row, col)
        r = np.flatnonzero(self.shown == row)
        c = np.flatnonzero(self.shown == col)
        self.heatmap.selected_cell = [int(r[0]), int(c[0])] if len(r) and len(c) else []
        names = self.data.classes
        self._cell = (row, col)
        self._cell_description = f"given {names[row]}, predicted {names[col]}"
        self.select_rows(pos, description=self._cell_description)

    def _on_click(self, payload: dict) -> None:
        if not payload or "row" not in payload or self.counts is None:
            return
        i, j = int(payload["row"]), int(payload["col"])
        if not (0 <= i < len(self.shown) and 0 <= j < len(self.shown)):
            return
        self.click(int(self.shown[i]), int(self.shown[j]))

    # -- updates -------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if self.counts is None or len(change.label_positions) == 0:
            return
        update_confusion(
            self.counts,
            self.data.pred_codes,
            change.label_positions,
            change.old_codes,
            change.new_codes,
        )
        self._render()
        self._reselect_cell()

    def _reselect_cell(self) -> None:
        """After relabels, the clicked cell's samples are not the same: select them again, so
        the gallery (and the scatter) count what the cell says."""
        if self._cell is None or self.selection.source != self.view_name:
            return
        row, col = self._cell
        pos = self.cell_positions(row, col)
        # the selection is this view's own (source checked above): the cell's rows, ascending
        if not np.array_equal(np.sort(self.selected_rows()), pos):
            self.select_rows(pos, description=self._cell_description)

    def on_selection(self, positions: np.ndarray, source: str) -> None:
        self._cell = None
        if self.heatmap.selected_cell:
            self.heatmap.selected_cell = []

    def refresh(self) -> None:
        """Recount from the data (after a new scan)."""
        self._build()
