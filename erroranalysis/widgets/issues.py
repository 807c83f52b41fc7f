"""Issue table view: the scan's label issues, outliers and near-duplicates with their scores.

Sortable (click a header), filterable by issue type, paged; a row click focuses the sample.
Samples marked ``not_an_issue`` or ``reviewed`` can be hidden. When the run's model is too weak
for its label-issue flags to mean much (:mod:`erroranalysis.analysis.label_trust`: Cohen's κ of
predictions vs labels below 0.6), or its predictions are in-sample, a warning above the table
says so.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import SCAN_HINT, Change
from erroranalysis.widgets._frontend import TableWidget
from erroranalysis.widgets.selection import Selection

__all__ = ["IssueTable"]


def _issue_table_types() -> dict[str, tuple[str, str, bool]]:
    """Issue type (plural display name) → (flag column, default sort column, lowest first?),
    from the registry (:mod:`erroranalysis.analysis.issue_types`)."""
    from erroranalysis.analysis.issue_types import issue_types

    return {t.plural: (t.flag_column, t.score_column or "", t.ascending) for t in issue_types()}


_SCORE_COLUMNS = ("label_quality", "self_confidence", "loss", "outlier_score", "near_duplicate_set")
_DONE_FLAGS = {"not_an_issue", "reviewed"}


def _cell_text(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value)


class IssueTable(View):
    """Table of flagged samples linked to a :class:`Selection`.

    Parameters
    ----------
    store : Store or ViewData
        The store to show.
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Shared selection; a row click focuses its sample.
    issue : str
        ``"label issues"``, ``"outliers"``, ``"near-duplicates"`` or ``"all"``.
    page_size : int
        Rows per page.
    hide_reviewed : bool
        Hide samples flagged ``not_an_issue`` or ``reviewed``.
    """

    view_name = "issues"
    css_class = "ea-issues"

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        issue: str = "label issues",
        page_size: int = 20,
        hide_reviewed: bool = False,
    ) -> None:
        super().__init__(store, run, selection)
        self.page_size = int(page_size)
        self.issue_types = kinds = _issue_table_types()
        available = [name for name, (col, _, _) in kinds.items() if self.data.has(col)]
        options = [*available, "all"] if available else ["all"]
        if issue not in [*kinds, "all"]:
            raise ValueError(f"unknown issue type {issue!r}; choose one of {[*kinds, 'all']}")
        self.issue = widgets.Dropdown(
            options=options,
            value=issue if issue in options else options[0],
            description="issues",
            layout=widgets.Layout(width="240px"),
        )
        self.hide_reviewed = widgets.Checkbox(
            value=hide_reviewed, description="hide reviewed", indent=False
        )
        self.count = widgets.HTML()
        self.count.add_class("ea-issues-count")
        self.trust_note = widgets.HTML(layout=widgets.Layout(display="none"))
        self.trust_note.add_class("ea-issues-trust")
        self.trust = None
        self.prev_button = widgets.Button(description="◀", layout=widgets.Layout(width="40px"))
        self.next_button = widgets.Button(description="▶", layout=widgets.Layout(width="40px"))
        self.page_label = widgets.Label()
        self.prev_button.on_click(lambda _: self.go(self.page - 1))
        self.next_button.on_click(lambda _: self.go(self.page + 1))
        self.table = TableWidget(empty_text="no issues of this type")
        self.table.on_click(self.guard(self._on_click))
        self.issue.observe(lambda _: self._filter(reset_sort=True), "value")
        self.hide_reviewed.observe(lambda _: self._filter(), "value")
        self.children = [
            self.message,
            self.trust_note,
            widgets.HBox([self.issue, self.hide_reviewed, self.count]),
            self.table,
            widgets.HBox([self.prev_button, self.page_label, self.next_button]),
        ]
        self.page = 0
        self.rows = np.zeros(0, dtype=np.int64)
        self.sort_column = ""
        self.descending = False
        if not available:
            self.show_message(f"No issue columns (is_label_issue, is_outlier, …) yet: {SCAN_HINT}.")
        self._update_trust()
        self._filter(reset_sort=True)

    # -- can the label-issue flags be trusted? -------------------------------------------
    def _update_trust(self) -> None:
        """Warn when the model is too weak (or in-sample) for its label-issue flags."""
        from erroranalysis.analysis.label_trust import label_issue_trust

        data = self.data
        if data.pred_codes is None or not data.has("is_label_issue"):
            self.trust = None
        else:
            flagged = int(data.frame["is_label_issue"].fillna(False).to_numpy(dtype=bool).sum())
            info = getattr(data.run, "info", None) or {}
            raw = info.get("out_of_sample")
            self.trust = label_issue_trust(
                data.label_codes,
                data.pred_codes,
                data.num_classes,
                num_flagged=flagged,
                out_of_sample=None if raw is None else bool(raw),
            )
        if self.trust is None or not self.trust.warn:
            self.trust_note.value = ""
            self.trust_note.layout.display = "none"
            return
        kind = "ea-trust-weak" if not self.trust.trusted else "ea-trust-caution"
        self.trust_note.value = (
            f'<div class="ea-message-text {kind}">{html.escape(self.trust.message)}</div>'
        )
        self.trust_note.layout.display = None

    # -- filtering and sorting -----------------------------------------------------------
    def columns(self) -> list[str]:
        """The table's columns (those present in the data)."""
        cols = ["sample_id", "label", "given_label"]
        if self.data.has("predicted_label"):
            cols.append("predicted_label")
        if self.data.has("suggested_label"):
            cols.append("suggested_label")
        cols += [c for c in _SCORE_COLUMNS if self.data.has(c)]
        return [*cols, "flags"]

    def _mask(self) -> np.ndarray:
        frame, n = self.data.frame, self.data.num_samples
        kinds = self.issue_types
        names = list(kinds) if self.issue.value == "all" else [self.issue.value]
        mask = np.zeros(n, dtype=bool)
        for name in names:
            column = kinds[name][0]
            if column in frame.columns:
                mask |= frame[column].fillna(False).to_numpy(dtype=bool)
        if self.hide_reviewed.value and self.data.flags:
            for pos, flags in self.data.flags.items():
                if flags & _DONE_FLAGS:
                    mask[pos] = False
        return mask

    def _filter(self, reset_sort: bool = False) -> None:
        if reset_sort:
            key = self.issue_types.get(self.issue.value, ("", "label_quality", True))
            self.sort_column = key[1] if self.data.has(key[1]) else ""
            self.descending = not key[2]
        self.rows = np.flatnonzero(self._mask()).astype(np.int64)
        self._sort()

    def sort(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column`` (as a header click does: a second click reverses)."""
        if column not in self.columns():
            raise ValueError(
                f"cannot sort the issue table by {column!r}; choose one of {self.columns()}"
            )
        if descending is None:
            descending = (not self.descending) if column == self.sort_column else False
        self.sort_column, self.descending = column, bool(descending)
        self._sort()

    def _column_values(self, column: str, positions: np.ndarray) -> np.ndarray:
        data = self.data
        if column == "label":
            return data.label_names(positions)
        if column == "flags":
            return np.asarray(
                [",".join(sorted(data.flag_names(p))) for p in positions], dtype=object
            )
        return data.frame[column].take(positions).to_numpy()

    def _sort(self) -> None:
        if self.sort_column and len(self.rows):
            # integer keys for the string columns that have them: sorting 300k label strings
            # costs ~0.3 s, 300k sample ids ~0.2 s (the ids' rank is found once)
            if self.sort_column == "label":
                values = self.data.label_sort_keys(self.rows)
            elif self.sort_column == "sample_id":
                values = self.data.id_sort_keys(self.rows)
            else:
                values = self._column_values(self.sort_column, self.rows)
            order = (
                pd.Series(values)
                .sort_values(ascending=not self.descending, kind="stable", na_position="last")
                .index.to_numpy()
            )
            self.rows = self.rows[order]
        self.page = 0
        self._render()

    # -- paging and rendering ------------------------------------------------------------
    @property
    def num_pages(self) -> int:
        """Number of pages."""
        return max(1, -(-len(self.rows) // self.page_size))

    def go(self, page: int) -> None:
        """Show page ``page`` (0-based, clipped)."""
        self.page = int(min(max(page, 0), self.num_pages - 1))
        self._render()

    def page_positions(self) -> np.ndarray:
        """Row positions on the current page."""
        start = self.page * self.page_size
        return self.rows[start : start + self.page_size]

    def _render(self) -> None:
        positions = self.page_positions()
        cols = self.columns()
        values = [self._column_values(column, positions) for column in cols]  # one take per column
        rows = [[_cell_text(v[i]) for v in values] for i in range(len(positions))]
        with self.table.hold_sync():
            self.table.columns = cols
            self.table.rows = rows
            self.table.row_ids = self.data.ids_at(positions)
            self.table.sort_by = self.sort_column
            self.table.sort_desc = self.descending
        self.count.value = f'<span class="ea-muted">{len(self.rows)} samples</span>'
        self.page_label.value = f"page {self.page + 1} / {self.num_pages}"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.num_pages - 1

    # -- interaction ---------------------------------------------------------------------
    def click_row(self, index: int) -> None:
        """Focus the sample in row ``index`` of the current page (as a row click does)."""
        positions = self.page_positions()
        if 0 <= index < len(positions):
            sid = str(self.data.sample_ids[positions[index]])
            self.table.focused = sid
            # the gallery shows this issue type's samples (in the table's order) …
            description = f"{self.issue.value} (issue table)"
            if self.selection.description != description or self.selection.source != self.view_name:
                self.select_rows(self.rows, description=description)
            # … and the inspector the clicked one
            self.selection.focus(sid, source=self.view_name)

    def _on_click(self, payload: dict) -> None:
        if not payload:
            return
        if payload.get("sort"):
            self.sort(str(payload["sort"]))
        elif "row" in payload:
            self.click_row(int(payload["row"]))

    def on_focus(self, sample_id: str | None, source: str) -> None:
        self.table.focused = sample_id or ""

    def on_change(self, change: Change) -> None:
        if len(change.label_positions):
            self._update_trust()  # accuracy against the current labels moved
        if change.flags_changed and self.hide_reviewed.value:
            page = self.page
            self._filter()
            self.go(page)
        elif change.flags_changed or np.isin(change.touched_positions, self.page_positions()).any():
            self._render()
