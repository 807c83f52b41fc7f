"""Gallery view: thumbnails of the selection, or of the lowest-scoring samples, sorted and paged.

Each thumbnail (CSS class ``ea-thumb``, attribute ``data-sample-id``) shows the current label, the
prediction and badges (label issue, outlier, duplicate, relabelled, flags); a click focuses the
sample. The count line has the CSS class ``ea-gallery-count``.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from erroranalysis.widgets._base import View
from erroranalysis.widgets._data import Change
from erroranalysis.widgets._frontend import GridWidget
from erroranalysis.widgets.selection import Selection
from erroranalysis.widgets.thumbnails import ThumbnailCache

__all__ = ["Gallery"]


def _issue_types():
    from erroranalysis.analysis.issue_types import issue_types

    return issue_types()


_PREFERRED_SORT = ("label_quality", "self_confidence", "margin", "loss", "outlier_score")


class Gallery(View):
    """Paged, sortable thumbnails linked to a :class:`Selection`.

    Parameters
    ----------
    store : Store or ViewData
        The store to show.
    run : str, optional
        Which run (default: the latest).
    selection : Selection, optional
        Shared selection: the gallery shows it; a click focuses a sample.
    sort_by : str, optional
        Score column to sort by (default: ``label_quality``, else ``self_confidence``, …).
    ascending : bool, optional
        Lowest first (default, except for columns where high is bad, such as ``loss``).
    page_size : int
        Thumbnails per page.
    thumb_size : int
        Thumbnail size in pixels.
    thumbnails : ThumbnailCache, optional
        Shared thumbnail cache.
    """

    view_name = "gallery"
    css_class = "ea-gallery"

    def __init__(
        self,
        store: Any,
        run: Any = None,
        selection: Selection | None = None,
        sort_by: str | None = None,
        ascending: bool | None = None,
        page_size: int = 24,
        thumb_size: int = 96,
        thumbnails: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(store, run, selection)
        self.page_size = int(page_size)
        self.thumb_size = int(thumb_size)
        self.thumbnails = thumbnails or ThumbnailCache(self.data.store)
        self.grid = GridWidget(empty_text="no samples to show")
        self.grid.on_click(self.guard(self._on_click))
        columns = self.data.score_columns()
        if sort_by is None:
            sort_by = next((c for c in _PREFERRED_SORT if c in columns), None)
        if sort_by is not None and sort_by not in columns:
            raise ValueError(
                f"cannot sort the gallery by {sort_by!r}: not a numeric column of the store's frame; "
                f"choose one of {columns}"
            )
        self.sort_by = widgets.Dropdown(
            options=[("(store order)", "")] + [(c, c) for c in columns],
            value=sort_by or "",
            description="sort by",
            layout=widgets.Layout(width="240px"),
        )
        if ascending is None:
            ascending = self.data.low_is_bad(sort_by) if sort_by else True
        self.ascending = widgets.ToggleButton(
            value=bool(ascending),
            description="lowest first" if ascending else "highest first",
            layout=widgets.Layout(width="120px"),
        )
        self.count = widgets.HTML()
        self.count.add_class("ea-gallery-count")
        self.prev_button = widgets.Button(description="◀", layout=widgets.Layout(width="40px"))
        self.next_button = widgets.Button(description="▶", layout=widgets.Layout(width="40px"))
        self.page_label = widgets.Label()
        self.prev_button.on_click(lambda _: self.go(self.page - 1))
        self.next_button.on_click(lambda _: self.go(self.page + 1))
        self.sort_by.observe(self._on_sort_column, "value")
        self.ascending.observe(self._on_direction, "value")
        controls = widgets.HBox(
            [self.sort_by, self.ascending, self.prev_button, self.page_label, self.next_button]
        )
        self.children = [self.message, self.count, controls, self.grid]
        self.page = 0
        self._selection_what: tuple[str, str] = ("", "")
        self.order = np.zeros(0, dtype=np.int64)
        self._all_orders: dict[tuple[str, bool], np.ndarray] = {}
        self._reorder()

    # -- ordering ------------------------------------------------------------------------
    def _showing_selection(self) -> bool:
        # an empty confusion cell is still a selection (of nothing), unlike a cleared selection
        return bool(self.selection.sample_ids) or bool(self.selection.description)

    def _base_positions(self) -> np.ndarray:
        if self._showing_selection():
            return self.data.positions(self.selection.sample_ids)
        return np.arange(self.data.num_samples, dtype=np.int64)

    def _sorted(self, positions: np.ndarray, column: str, ascending: bool) -> np.ndarray:
        values = pd.to_numeric(self.data.frame[column], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )[positions]
        keys = values if ascending else -values
        keys = np.where(np.isnan(keys), np.inf, keys)
        return positions[np.argsort(keys, kind="stable")]

    def _reorder(self, keep_page: bool = False) -> None:
        column, ascending = self.sort_by.value, bool(self.ascending.value)
        if self._showing_selection():
            positions = self._base_positions()
            if column:
                positions = self._sorted(positions, column, ascending)
        else:
            # every sample: the scores do not change with relabels, so each order is sorted once
            key = (column, ascending)
            if key not in self._all_orders:
                every = np.arange(self.data.num_samples, dtype=np.int64)
                self._all_orders[key] = self._sorted(every, column, ascending) if column else every
            positions = self._all_orders[key]
        self.order = positions
        self.page = min(self.page, self.num_pages - 1) if keep_page else 0
        self._render(thumbs=True)

    def _on_sort_column(self, event: dict) -> None:
        # a new column sorts worst first: lowest first where low is bad (label quality, a
        # metric attached with higher_is_better=True), highest first where high is bad (loss)
        column = event["new"]
        ascending = self.data.low_is_bad(column) if column else True
        if ascending != self.ascending.value:
            with self.ascending.hold_trait_notifications():
                self.ascending.unobserve(self._on_direction, "value")
                self.ascending.value = ascending
                self.ascending.observe(self._on_direction, "value")
            self.ascending.description = "lowest first" if ascending else "highest first"
        self._reorder()

    def _on_direction(self, event: dict) -> None:
        self.ascending.description = "lowest first" if event["new"] else "highest first"
        self._reorder()

    @property
    def num_pages(self) -> int:
        """Number of pages."""
        return max(1, -(-len(self.order) // self.page_size))

    def go(self, page: int) -> None:
        """Show page ``page`` (0-based; clipped to the valid range)."""
        page = int(min(max(page, 0), self.num_pages - 1))
        if page != self.page:
            self.page = page
            self._render(thumbs=True)

    def page_positions(self) -> np.ndarray:
        """Row positions of the samples on the current page."""
        start = self.page * self.page_size
        return self.order[start : start + self.page_size]

    def page_ids(self) -> list[str]:
        """Sample ids on the current page, in display order."""
        return self.data.ids_at(self.page_positions())

    def order_ids(self) -> list[str]:
        """All sample ids the gallery pages through, in display order."""
        return self.data.ids_at(self.order)

    # -- rendering -----------------------------------------------------------------------
    def _item(self, pos: int) -> dict:
        data = self.data
        frame = data.frame
        labelled = data.label_codes[pos] >= 0
        label = data.label_name(pos)
        sid = data.sample_ids[pos]
        badges = []
        wrong = False
        caption = label
        if data.pred_codes is not None and data.pred_codes[pos] >= 0:
            pred = data.classes[data.pred_codes[pos]]
            wrong = labelled and pred != label
            caption = f"{label} → {pred}" if wrong or not labelled else label
        for issue in _issue_types():
            column = issue.flag_column
            if column in frame.columns and bool(frame[column].iat[pos]):
                badges.append(issue.name)
        relabeled = data.label_codes[pos] != data.given_codes[pos]
        if not labelled:
            badges.append("unlabelled")
        elif relabeled:
            badges.append("relabeled")
        badges.extend(sorted(data.flag_names(pos)))
        tooltip = f"{sid}: {caption}"
        column = self.sort_by.value
        if column:
            value = frame[column].iat[pos]
            tooltip += f"\n{column} = {value:.4g}" if isinstance(value, float) else ""
        return {
            "sample_id": str(sid),
            "caption": caption,
            "badges": badges,
            "wrong": bool(wrong),
            "relabeled": bool(relabeled),
            "tooltip": tooltip,
        }

    def _render(self, thumbs: bool = False) -> None:
        positions = self.page_positions()
        items = [self._item(int(p)) for p in positions]
        with self.grid.hold_sync():
            if thumbs:
                self.grid.thumbs = [
                    self.thumbnails.data_url(item["sample_id"], self.thumb_size) for item in items
                ]
            self.grid.items = items
        n = len(self.order)
        what = (
            html.escape(self.selection.description or "selection")
            if self._showing_selection()
            else "all samples"
        )
        order = f", sorted by {self.sort_by.value}" if self.sort_by.value else ""
        self.count.value = f'<span class="ea-gallery-count-n">{n}</span> samples — {what}{order}'
        self.page_label.value = f"page {self.page + 1} / {self.num_pages}"
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.num_pages - 1

    # -- interaction ---------------------------------------------------------------------
    def click(self, sample_id: str) -> None:
        """Focus ``sample_id``, as a click on its thumbnail does."""
        self.grid.focused = str(sample_id)
        self.selection.focus(str(sample_id), source=self.view_name)

    def _on_click(self, payload: dict) -> None:
        if payload and payload.get("sample_id"):
            self.click(payload["sample_id"])

    def on_selection(self, ids: tuple[str, ...], source: str) -> None:
        # the same selection again (a confusion cell re-selected after a relabel): stay on the page
        what = (source, self.selection.description)
        same = what == self._selection_what and bool(self.selection.description)
        self._selection_what = what
        self._reorder(keep_page=same)

    def on_focus(self, sample_id: str | None, source: str) -> None:
        self.grid.focused = sample_id or ""

    def on_change(self, change: Change) -> None:
        if len(change.touched_positions) == 0 and not change.flags_changed:
            return
        if change.flags_changed or np.isin(change.touched_positions, self.page_positions()).any():
            self._render(thumbs=False)
